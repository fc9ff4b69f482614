-- Requests with deadlines and holds: request() records them with a due date; once verified and
-- approved, process_requests() erases those nothing blocks and keeps the others open with their
-- blockers and the date a hold ends; the view shows the state, the days left and overdue. The
-- lifecycle's refusals, the cooling-off window, restriction and purging follow.
SET client_min_messages = warning;  -- whether another suite created it first does not matter
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA req;
-- restricted_since: the marker the application filters on while an erasure request waits.
CREATE TABLE req.people (id integer PRIMARY KEY, name text NOT NULL, restricted_since timestamptz);
CREATE TABLE req.charges (id integer PRIMARY KEY, person_id integer NOT NULL REFERENCES req.people,
                          charged_at timestamptz NOT NULL, paid boolean NOT NULL, refunded_at timestamptz);
INSERT INTO req.people VALUES (1, 'Ana'), (2, 'Bia'), (3, 'Caio'), (4, 'Duda');
-- Ana paid long ago (the charge is retained, so she is anonymized); Bia was charged 10 days
-- before the test's "now" (a 90-day hold); Caio owes money (no end date); Duda has nothing.
INSERT INTO req.charges VALUES (1, 1, '2025-06-01 12:00+00', true), (2, 2, '2026-01-10 12:00+00', true),
                               (3, 3, '2025-01-01 12:00+00', false);
SELECT erasure.register_subject('person', 'req.people');
SELECT erasure.register_table('person', 'req.charges', 'retain', reason => 'bookkeeping law');
SELECT erasure.set_policy('req.people', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('req.people', 'restricted_since', 'restricted_at');
-- The marker belongs on the subject's own row.
SELECT erasure.set_policy('req.charges', 'refunded_at', 'restricted_at');
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
SELECT key, state, due_at - received_at AS answer_within, days_left, reference FROM erasure.requests ORDER BY id;
-- Nothing is erased before a request is verified and approved.
SELECT count(*) AS processed_unapproved FROM erasure.process_requests();
SELECT key, erasure.verify_request(id) AS verified FROM erasure.request_queue WHERE subject = 'person' ORDER BY id;
SELECT key, erasure.approve_request(id) AS approved FROM erasure.request_queue WHERE subject = 'person' ORDER BY id;
-- Unknown subjects and keys are refused.
SELECT erasure.request('person', 99);
SELECT erasure.request('nobody', 1);

SELECT request_id, status, detail ->> 'status' AS erasure, detail -> 'blockers' -> 0 ->> 'blocker' AS blocker,
       detail ->> 'held_until' AS held_until
  FROM erasure.process_requests() ORDER BY request_id;
SELECT key, state, blockers, held_until, ledger_request_id IS NOT NULL AS in_ledger, restricted FROM erasure.requests ORDER BY id;
SELECT id, name, restricted_since IS NOT NULL AS marked_restricted FROM req.people ORDER BY id;
-- A request past its due date that is still open is overdue.
UPDATE erasure.request_queue SET due_at = now() - interval '1 day' WHERE key = '3';
SELECT key, state, overdue, days_left FROM erasure.requests ORDER BY id;
-- Once the debt is paid, the next run erases Caio; done requests are not processed again.
UPDATE req.charges SET paid = true WHERE person_id = 3;
SELECT request_id, status FROM erasure.process_requests() ORDER BY request_id;
SELECT key, state, overdue, days_left FROM erasure.requests ORDER BY id;

-- One bad request never stops the run. In a queue holding a request whose subject row the
-- application deleted, one whose blocker fails at run time, and a key planted by hand that the
-- key type does not accept, every good request is erased and every failure is recorded.
INSERT INTO req.people VALUES (5, 'Edu'), (6, 'Fabi'), (7, 'Gil');
SELECT erasure.register_blocker('person', 'fragile',
  $$SELECT 1 / (id - 6) AS x FROM req.people WHERE id = $1 AND id = 6$$);
SELECT erasure.request('person', 5) AS edu, erasure.request('person', 6) AS fabi,
       erasure.request('person', 7) AS gil;
DELETE FROM req.people WHERE id = 7;
INSERT INTO erasure.request_queue (subject, key, received_at, due_at, state, wait_until)
VALUES ('person', 'not a number', now(), now() + interval '30 days', 'approved', now());
INSERT INTO req.people VALUES (8, 'Hana');
SELECT erasure.request('person', 8) AS hana;
SELECT key, erasure.verify_request(id) AS verified FROM erasure.request_queue WHERE state = 'received' ORDER BY id;
SELECT key, erasure.approve_request(id) AS approved FROM erasure.request_queue WHERE state = 'verified' ORDER BY id;
SELECT q.key, r.status, r.detail ->> 'sqlstate' AS sqlstate
  FROM erasure.process_requests() r JOIN erasure.request_queue q ON q.id = r.request_id ORDER BY q.id;
SELECT key, state, attempts, last_sqlstate, last_error FROM erasure.requests WHERE key IN ('5', '6', '7', '8', 'not a number') ORDER BY id;
SELECT id, name FROM req.people WHERE id IN (5, 6, 8) ORDER BY id;
-- The next run tries the failing ones again (attempts counts), and leaves the closed one be; a
-- new request for a closed subject is a new request.
SELECT q.key, r.status FROM erasure.process_requests() r JOIN erasure.request_queue q ON q.id = r.request_id ORDER BY q.id;
SELECT key, state, attempts FROM erasure.requests WHERE key IN ('6', '7', 'not a number') ORDER BY id;

-- The lifecycle: each step is a function, recorded with who (session_user) and when; the
-- refusals of every transition, with their SQLSTATEs, are in 40_bad_inputs.
INSERT INTO req.people VALUES (10, 'Ivo'), (11, 'Jo'), (12, 'Kim'), (13, 'Lia');
SELECT erasure.request('person', 10) AS ivo, erasure.request('person', 11) AS jo,
       erasure.request('person', 12) AS kim, erasure.request('person', 13) AS lia \gset
SELECT erasure.reject_request(:ivo, 'legal_claims') AS ivo, erasure.verify_request(:jo) AS jo,
       erasure.extend_request(:kim, 'many requests at once') AS kim, erasure.cancel_request(:lia) AS lia;
SELECT key, state, ground, extension_reason,
       due_at = received_at + interval '15 days' + CASE WHEN extended_at IS NOT NULL THEN interval '2 months' ELSE interval '0' END AS due_as_set,
       verified_by = session_user AS verified_by_me, extended_by = session_user AS extended_by_me,
       ended_by = session_user AS ended_by_me, ended_at IS NOT NULL AS ended
  FROM erasure.requests WHERE key IN ('10', '11', '12', '13') ORDER BY id;
-- An executed request is final.
SELECT state, erasure.cancel_request(id) FROM erasure.requests WHERE key = '1';
-- Deciding is the admin's: the operator records, verifies and cancels.
SET ROLE erasure_operator;
SELECT erasure.approve_request(:jo);
SELECT erasure.reject_request(:jo, 'archiving');
SELECT erasure.extend_request(:jo, 'busy');
RESET ROLE;

-- The cooling-off window: approved, the request waits, and the subject is restricted (GDPR art.
-- 18) until it is executed or ends otherwise; it can be cancelled meanwhile.
SET erasure.cooling_off = '1d';
SELECT erasure.setting_period('cooling_off') AS window;
SELECT erasure.approve_request(:jo) AS jo;
SELECT erasure.is_restricted('person', 11) AS restricted,
       (SELECT p.restricted_since = a.approved_at FROM req.people p, erasure.requests a WHERE p.id = 11 AND a.id = :jo) AS marked_since_approval;
SELECT count(*) AS processed_while_waiting FROM erasure.process_requests() WHERE request_id = :jo;
SELECT state, wait_until - approved_at AS waits, approved_by = session_user AS approved_by_me, restricted
  FROM erasure.requests WHERE id = :jo;
SELECT erasure.cancel_request(:jo) AS cancelled;
SELECT erasure.is_restricted('person', 11) AS restricted, (SELECT restricted_since FROM req.people WHERE id = 11) AS marker;
SELECT name FROM req.people WHERE id = 11;
-- Once the window has passed (moved back by hand here), the next run erases it and the
-- restriction ends.
SELECT erasure.verify_request(:kim), erasure.approve_request(:kim);
UPDATE erasure.request_queue SET wait_until = now() - interval '1 second' WHERE id = :kim;
SELECT erasure.is_restricted('person', 12) AS restricted_before, erasure.is_restricted(text 'person', 12::bigint) AS any_key_type;
SELECT status FROM erasure.process_requests() WHERE request_id = :kim;
SELECT state, erasure.is_restricted('person', 12) AS restricted_after, (SELECT count(*) FROM req.people WHERE id = 12) AS rows_left
  FROM erasure.requests WHERE id = :kim;
-- A blocked request keeps the subject restricted, and stays visible with its blockers.
SELECT key, state, blockers, erasure.is_restricted('person', key) AS restricted FROM erasure.requests WHERE key = '2';
RESET erasure.cooling_off;
-- Only a superuser changes the windows.
SET ROLE erasure_operator;
SET erasure.cooling_off = 0;
SET erasure.keep_requests = 0;
RESET ROLE;

-- Finished requests keep their details for erasure.keep_requests; purging removes the older
-- ones, and the ledger keeps the proof of the erasures among them.
SET erasure.keep_requests = '30d';
SELECT erasure.purge_requests() AS purged_too_early;
UPDATE erasure.request_queue SET ended_at = now() - interval '31 days' WHERE id IN (:ivo, :lia, :kim);
CREATE TEMP TABLE kim_erasure AS SELECT ledger_request_id AS id FROM erasure.request_queue WHERE id = :kim;
SELECT erasure.purge_requests() AS purged, erasure.purge_requests() AS purged_again;
SELECT count(*) AS left_of_them FROM erasure.request_queue WHERE id IN (:ivo, :lia, :kim);
SELECT count(*) AS ledger_keeps_kim FROM erasure.ledger WHERE request_id = (SELECT id FROM kim_erasure);
SELECT erasure.certificate((SELECT id FROM kim_erasure)) ->> 'outcome' AS still_certified;
RESET erasure.keep_requests;
