-- Requests with deadlines and holds: request() records them with a due date, process_requests()
-- erases those nothing blocks and keeps the others open with their blockers and the date a hold
-- ends; the view shows pending, blocked, overdue and done.
SET client_min_messages = warning;  -- whether another suite created it first does not matter
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA req;
CREATE TABLE req.people (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE req.charges (id integer PRIMARY KEY, person_id integer NOT NULL REFERENCES req.people,
                          charged_at timestamptz NOT NULL, paid boolean NOT NULL);
INSERT INTO req.people VALUES (1, 'Ana'), (2, 'Bia'), (3, 'Caio'), (4, 'Duda');
-- Ana paid long ago (the charge is retained, so she is anonymized); Bia was charged 10 days
-- before the test's "now" (a 90-day hold); Caio owes money (no end date); Duda has nothing.
INSERT INTO req.charges VALUES (1, 1, '2025-06-01 12:00+00', true), (2, 2, '2026-01-10 12:00+00', true),
                               (3, 3, '2025-01-01 12:00+00', false);
SELECT erasure.register_subject('person', 'req.people');
SELECT erasure.register_table('person', 'req.charges', 'retain', reason => 'bookkeeping law');
SELECT erasure.set_policy('req.people', 'name', 'constant', '{"value": "Xxxx"}');
-- A hold that says until when: 90 days after the last charge (the test's "now" is fixed by
-- comparing with a date in 2026-01; the hold runs until 2026-04-10).
SELECT erasure.register_blocker('person', 'recent_charge',
  $$SELECT max(charged_at) + interval '90 days' AS until FROM req.charges
     WHERE person_id = $1 HAVING max(charged_at) + interval '90 days' > timestamptz '2026-01-20 00:00+00'$$);
SELECT erasure.register_blocker('person', 'unpaid',
  $$SELECT id FROM req.charges WHERE person_id = $1 AND NOT paid$$);

SET erasure.response_days = 15;
SELECT erasure.request('person', 1, 'TICKET-1') AS ana,
       erasure.request('person', 2) AS bia,
       erasure.request('person', '3') AS caio,
       erasure.request('person', 4::bigint) AS duda;
-- Asking again while it is open returns the same request.
SELECT erasure.request('person', 1) = (SELECT id FROM erasure.request_queue WHERE key = '1') AS same;
SELECT key, status, due_at - received_at AS answer_within, reference FROM erasure.requests ORDER BY id;
-- Unknown subjects and keys are refused.
SELECT erasure.request('person', 99);
SELECT erasure.request('nobody', 1);

SELECT request_id, status, detail ->> 'status' AS erasure, detail -> 'blockers' -> 0 ->> 'blocker' AS blocker,
       detail ->> 'held_until' AS held_until
  FROM erasure.process_requests() ORDER BY request_id;
SELECT key, status, blockers, held_until, ledger_request_id IS NOT NULL AS in_ledger FROM erasure.requests ORDER BY id;
SELECT id, name FROM req.people ORDER BY id;
-- A request past its due date that is still open is overdue.
UPDATE erasure.request_queue SET due_at = now() - interval '1 day' WHERE key = '3';
SELECT key, status FROM erasure.requests ORDER BY id;
-- Once the debt is paid, the next run erases Caio; done requests are not processed again.
UPDATE req.charges SET paid = true WHERE person_id = 3;
SELECT request_id, status FROM erasure.process_requests() ORDER BY request_id;
SELECT key, status FROM erasure.requests ORDER BY id;

-- One bad request never stops the run. In a queue holding a request whose subject row the
-- application deleted, one whose blocker fails at run time, and a key planted by hand that the
-- key type does not accept, every good request is erased and every failure is recorded.
INSERT INTO req.people VALUES (5, 'Edu'), (6, 'Fabi'), (7, 'Gil');
SELECT erasure.register_blocker('person', 'fragile',
  $$SELECT 1 / (id - 6) AS x FROM req.people WHERE id = $1 AND id = 6$$);
SELECT erasure.request('person', 5) AS edu, erasure.request('person', 6) AS fabi,
       erasure.request('person', 7) AS gil;
DELETE FROM req.people WHERE id = 7;
INSERT INTO erasure.request_queue (subject, key, received_at, due_at)
VALUES ('person', 'not a number', now(), now() + interval '30 days');
INSERT INTO req.people VALUES (8, 'Hana');
SELECT erasure.request('person', 8) AS hana;
SELECT q.key, r.status, r.detail ->> 'sqlstate' AS sqlstate
  FROM erasure.process_requests() r JOIN erasure.request_queue q ON q.id = r.request_id ORDER BY q.id;
SELECT key, status, attempts, last_sqlstate, last_error FROM erasure.requests WHERE key IN ('5', '6', '7', '8', 'not a number') ORDER BY id;
SELECT id, name FROM req.people WHERE id IN (5, 6, 8) ORDER BY id;
-- The next run tries the failing ones again (attempts counts), and leaves the closed one be; a
-- new request for a closed subject is a new request.
SELECT q.key, r.status FROM erasure.process_requests() r JOIN erasure.request_queue q ON q.id = r.request_id ORDER BY q.id;
SELECT key, status, attempts FROM erasure.requests WHERE key IN ('6', '7', 'not a number') ORDER BY id;
