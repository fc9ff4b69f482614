-- Compliance evidence: the ledger's hash chain (verify_ledger, ledger_anchor, the export), the
-- deletion concept (describe), certificates and the verification an auditor reruns (verify).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;

CREATE SCHEMA ev;
CREATE TABLE ev.customers (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL, born date, uf text);
CREATE TABLE ev.orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES ev.customers, ship_to text);
CREATE TABLE ev.invoices (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES ev.customers, total numeric,
                          issued_at date NOT NULL);
CREATE TABLE ev.logs (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES ev.customers, line text);
INSERT INTO ev.customers SELECT i, 'Name ' || i, 'c' || i || '@example.com', '1990-05-17', 'SP' FROM generate_series(1, 9) AS i;
INSERT INTO ev.orders SELECT i, i, 'Street ' || i FROM generate_series(1, 9) AS i;
INSERT INTO ev.invoices SELECT i, i, 10 * i, '2026-01-15' FROM generate_series(1, 9) AS i;
INSERT INTO ev.logs SELECT i, i, 'login' FROM generate_series(1, 9) AS i;
SELECT erasure.register_subject('ev_customer', 'ev.customers'),
       erasure.register_table('ev_customer', 'ev.orders'),
       erasure.register_table('ev_customer', 'ev.invoices', 'retain', reason => 'bookkeeping law', retain_for => '5 years',
                              retain_from => 'issued_at'),
       erasure.register_table('ev_customer', 'ev.logs', 'delete'),
       erasure.set_policy('ev.customers', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('ev.customers', 'email', 'placeholder', '{"template": "erased-{key}@invalid.example"}'),
       erasure.set_policy('ev.customers', 'born', 'year_only'),
       erasure.set_policy('ev.customers', 'uf', 'keep'),
       erasure.set_policy('ev.orders', 'id', 'keep'),
       erasure.set_policy('ev.orders', 'ship_to', 'constant', '{"value": "Unknown customer"}');

-- Earlier suites removed ledger rows by hand before anything sealed them: nothing to report.
SELECT erasure.seal_ledger() >= 0 AS sealed_what_earlier_suites_left;
CREATE TEMP TABLE known_breaks AS SELECT * FROM erasure.verify_ledger();
CREATE TEMP VIEW new_breaks AS
  SELECT * FROM erasure.verify_ledger() EXCEPT ALL SELECT * FROM known_breaks ORDER BY 1;

-- One erasure, then three in one statement: an erasure only inserts its ledger row; sealing
-- links them in request order, each seal following the one before it.
CREATE TEMP TABLE first_new AS SELECT coalesce(max(request_id), 0) AS id FROM erasure.ledger;
SELECT erasure.anonymize('ev_customer', 1) ->> 'status' AS one;
SELECT key, status FROM erasure.anonymize_many('ev_customer', ARRAY[2, 3, 4]) ORDER BY key;
SELECT count(*) AS sealed_before_asked FROM erasure.ledger_seals WHERE request_id > (SELECT id FROM first_new);
SELECT erasure.seal_ledger() AS sealed, erasure.seal_ledger() AS sealed_again;
SELECT c.key, c.hex, c.hash_matches, c.follows_previous
  FROM (SELECT s.seal, l.request_id, l.key, s.hash ~ '^[0-9a-f]{64}$' AS hex,
               s.hash = erasure.ledger_hash(l, s.previous_hash) AS hash_matches,
               s.previous_hash = coalesce(lag(s.hash) OVER (ORDER BY s.seal), repeat('0', 64)) AS follows_previous
          FROM erasure.ledger_seals s JOIN erasure.ledger l USING (request_id)) AS c
 WHERE c.request_id > (SELECT id FROM first_new)
 ORDER BY c.seal;
SELECT * FROM new_breaks;
-- The anchor is the latest seal's hash.
SELECT erasure.ledger_anchor() = (SELECT hash FROM erasure.ledger_seals ORDER BY seal DESC LIMIT 1) AS anchor_is_last;
CREATE TEMP TABLE anchor AS SELECT erasure.ledger_anchor() AS hash;
SELECT count(*) AS anchor_problems FROM erasure.verify_ledger((SELECT hash FROM anchor)) WHERE request_id IS NULL;

-- A rolled back erasure leaves nothing to seal; the next one follows the anchor.
BEGIN;
SELECT erasure.anonymize('ev_customer', 5) ->> 'status' AS rolled_back;
ROLLBACK;
SELECT erasure.ledger_anchor() = (SELECT hash FROM anchor) AS anchor_unchanged;
SELECT erasure.anonymize('ev_customer', 6) ->> 'status' AS after_rollback;
SELECT erasure.seal_ledger() AS sealed;
SELECT previous_hash = (SELECT hash FROM anchor) AS follows_anchor FROM erasure.ledger_seals ORDER BY seal DESC LIMIT 1;
SELECT * FROM new_breaks;
-- Sealing needs a snapshot per statement and a transaction that may write: elsewhere it leaves
-- the row to the next seal.
SELECT erasure.anonymize('ev_customer', 8) ->> 'status' AS eight;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT erasure.seal_ledger() AS sealed_in_repeatable_read;
ROLLBACK;
BEGIN READ ONLY;
SELECT erasure.seal_ledger() AS sealed_read_only;
ROLLBACK;
SELECT erasure.seal_ledger() AS sealed;

-- The export carries the chain, entry by entry.
SELECT bool_and(e ->> 'hash' = s.hash AND e ->> 'previous_hash' = s.previous_hash) AS export_carries_chain, count(*)
  FROM jsonb_array_elements(erasure.ledger_export((SELECT id FROM first_new)) -> 'entries') AS e
  JOIN erasure.ledger_seals s ON s.request_id = (e ->> 'request_id')::bigint;

-- Tampering, as a superuser. A changed row is found, and only that row...
CREATE TEMP TABLE victim AS
  SELECT * FROM erasure.ledger WHERE subject = 'ev_customer' AND key = '3';
UPDATE erasure.ledger SET executed_by = 'nobody' WHERE request_id = (SELECT request_id FROM victim);
SELECT b.request_id = v.request_id AS is_the_changed_row, b.problem FROM new_breaks b, victim v;
-- ... and putting it back makes the chain whole again.
UPDATE erasure.ledger l SET executed_by = v.executed_by FROM victim v WHERE l.request_id = v.request_id;
SELECT * FROM new_breaks;
-- A row removed: its seal tells.
DELETE FROM erasure.ledger WHERE request_id = (SELECT request_id FROM victim);
SELECT b.request_id = v.request_id AS is_the_removed_row, b.problem FROM new_breaks b, victim v;
INSERT INTO erasure.ledger OVERRIDING SYSTEM VALUE SELECT * FROM victim;
SELECT * FROM new_breaks;
-- The last seal removed: the chain still links, but the anchor kept outside tells.
CREATE TEMP TABLE last_seal AS SELECT * FROM erasure.ledger_seals ORDER BY seal DESC LIMIT 1;
CREATE TEMP TABLE last_row AS SELECT * FROM erasure.ledger WHERE request_id = (SELECT request_id FROM last_seal);
DELETE FROM erasure.ledger_seals WHERE seal = (SELECT seal FROM last_seal);
DELETE FROM erasure.ledger WHERE request_id = (SELECT request_id FROM last_seal);
SELECT * FROM new_breaks;
SELECT * FROM erasure.verify_ledger((SELECT hash FROM last_seal)) WHERE request_id IS NULL;
INSERT INTO erasure.ledger OVERRIDING SYSTEM VALUE SELECT * FROM last_row;
INSERT INTO erasure.ledger_seals OVERRIDING SYSTEM VALUE SELECT * FROM last_seal;
SELECT * FROM new_breaks;
SELECT count(*) AS anchor_problems FROM erasure.verify_ledger((SELECT hash FROM last_seal)) WHERE request_id IS NULL;
-- A seal removed from the middle: the seal after it no longer follows. (The row itself is
-- sealed again, at the end of the chain, by the next seal; the break stays.)
CREATE TEMP TABLE victim_seal AS SELECT * FROM erasure.ledger_seals WHERE request_id = (SELECT request_id FROM victim);
DELETE FROM erasure.ledger_seals WHERE request_id = (SELECT request_id FROM victim);
SELECT b.request_id = (SELECT s.request_id FROM erasure.ledger_seals s WHERE s.seal > v.seal ORDER BY s.seal LIMIT 1)
       AS is_the_next_row, b.problem
  FROM new_breaks b, victim_seal v;
SELECT s.seal > v.seal AS sealed_again_at_the_end FROM erasure.ledger_seals s, victim_seal v WHERE s.request_id = v.request_id;
INSERT INTO known_breaks SELECT * FROM new_breaks;

-- Who may check: the operator reads the chain (it holds nothing personal); nobody else.
CREATE ROLE ev_stranger;
GRANT SELECT ON known_breaks TO erasure_operator;
SET ROLE erasure_operator;
SELECT erasure.ledger_anchor() IS NOT NULL AS operator_reads_anchor,
       (SELECT count(*) FROM erasure.verify_ledger()) = (SELECT count(*) FROM known_breaks) AS operator_verifies;
RESET ROLE;
SET ROLE ev_stranger;
SELECT erasure.ledger_anchor();
SELECT * FROM erasure.verify_ledger();
RESET ROLE;
DROP ROLE ev_stranger;

-- The deletion concept, from the catalog (the date it was generated masked here).
SELECT erasure.register_blocker('ev_customer', 'open_order',
  $$SELECT id FROM ev.orders WHERE customer_id = $1 AND ship_to = 'pending'$$, 'an order | is not shipped');
\pset format unaligned
SELECT regexp_replace(erasure.describe('ev_customer'), ' on \d{4}-\d\d-\d\d \d\d:\d\d UTC', ' on <date>');
\pset format aligned
SELECT erasure.describe('nobody');
SET ROLE erasure_operator;
SELECT length(erasure.describe('ev_customer')) > 0 AS operator_reads_the_concept;
RESET ROLE;

-- A certificate: a request, processed, certified (times and hashes left out here: they change).
SELECT erasure.request('ev_customer', 7, 'TICKET-7') AS ticket7 \gset
SELECT erasure.verify_request(:ticket7) AS verified, erasure.approve_request(:ticket7) AS approved;
-- (Requests other suites left open are tried too; only this one is shown.)
SELECT r.status FROM erasure.process_requests() r JOIN erasure.request_queue q ON q.id = r.request_id
 WHERE q.subject = 'ev_customer';
CREATE TEMP TABLE cert AS
  SELECT erasure.certificate(ledger_request_id) AS c FROM erasure.requests WHERE subject = 'ev_customer' AND reference = 'TICKET-7';
SELECT jsonb_pretty(c - '{generated_at,received_at,due_at,executed_at,request_id,ledger_hash,database,identity_verified_at,approved_at}'::text[]) FROM cert;
SELECT c ->> 'ledger_hash' = s.hash AS hash_is_the_rows, extract(day FROM (c ->> 'due_at')::timestamptz - (c ->> 'received_at')::timestamptz) AS days_to_answer,
       c::text !~ 'Name 7|c7@example' AS nothing_personal
  FROM cert, erasure.ledger_seals s WHERE s.request_id = (c ->> 'request_id')::bigint;
-- A row after it changed by hand: the certificate no longer vouches for it.
UPDATE erasure.ledger SET reference = 'forged' WHERE request_id = (SELECT max(request_id) FROM erasure.ledger);
SELECT erasure.certificate((SELECT (c ->> 'request_id')::bigint FROM cert)) -> 'chain_intact' AS chain_intact;
UPDATE erasure.ledger SET reference = 'TICKET-7' WHERE request_id = (SELECT max(request_id) FROM erasure.ledger);
SELECT erasure.certificate((SELECT (c ->> 'request_id')::bigint FROM cert)) -> 'chain_intact' AS chain_intact_again;
-- A masked value put back by hand: the certificate says verification fails, and why is in verify().
UPDATE ev.customers SET name = 'Name 7' WHERE id = 7;
SELECT erasure.certificate((SELECT (c ->> 'request_id')::bigint FROM cert)) -> 'verified' AS verified;
SELECT * FROM erasure.verify('ev_customer', 7);
UPDATE ev.customers SET name = 'Xxxx' WHERE id = 7;
SELECT erasure.certificate((SELECT (c ->> 'request_id')::bigint FROM cert)) -> 'verified' AS verified_again;
SELECT erasure.certificate(-1);
GRANT SELECT ON cert TO erasure_operator;
SET ROLE erasure_operator;
SELECT erasure.certificate((SELECT (c ->> 'request_id')::bigint FROM cert)) ->> 'outcome' AS operator_reads_certificate;
RESET ROLE;

-- Verification an auditor can rerun: erasure.verify() finds each erased subject as its ledger
-- row says, and reports by table, column and strategy, with a count and never a value, what
-- was changed since. Every strategy's result: the value itself where masking again would not
-- change it, its shape where nobody can recompute it (hmac, {uuid}, now).
SELECT count(*) >= 0 AS hmac_key_set
  FROM (SELECT erasure.set_hmac_key('ev-verify-secret-0123') WHERE NOT EXISTS (SELECT FROM erasure.hmac_key)) AS k;
CREATE TABLE ev.members (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, born date, nick text,
                         token text, prefs jsonb, erased_at timestamptz, note text);
CREATE TABLE ev.member_logs (id integer PRIMARY KEY, member_id integer NOT NULL REFERENCES ev.members, line text);
CREATE TABLE ev.member_invoices (id integer PRIMARY KEY, member_id integer NOT NULL REFERENCES ev.members, total numeric);
INSERT INTO ev.members
SELECT i, 'Member ' || i, 'm' || i || '@example.com', '1985-07-09', 'nick' || i, 'tok' || i,
       '{"name": "Member", "address": {"street": "Main St", "city": "Lisbon"}, "lang": "pt"}', NULL, 'vip'
  FROM generate_series(1, 3) AS i;
INSERT INTO ev.member_logs SELECT i, i, 'login' FROM generate_series(1, 3) AS i;
INSERT INTO ev.member_invoices SELECT i, i, 10 * i FROM generate_series(1, 2) AS i;
SELECT erasure.register_subject('ev_member', 'ev.members'),
       erasure.register_table('ev_member', 'ev.member_logs', 'delete'),
       erasure.register_table('ev_member', 'ev.member_invoices', 'retain', reason => 'bookkeeping law'),
       erasure.set_policy('ev.members', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('ev.members', 'email', 'placeholder', '{"template": "erased-{uuid}_{key}%@invalid.example"}'),
       erasure.set_policy('ev.members', 'born', 'year_only'),
       erasure.set_policy('ev.members', 'nick', 'null'),
       erasure.set_policy('ev.members', 'token', 'hmac'),
       erasure.set_policy('ev.members', 'prefs', 'jsonb_remove', '{"keys": ["name", "address.street"]}'),
       erasure.set_policy('ev.members', 'erased_at', 'now'),
       erasure.set_policy('ev.members', 'note', 'expression', '{"sql": "upper(note)"}');
SELECT erasure.anonymize('ev_member', 1) ->> 'status' AS one, erasure.anonymize('ev_member', 3, 'delete') ->> 'status' AS three;
-- As the ledger says: nothing to report, for the anonymized and the deleted member alike.
SELECT * FROM erasure.verify('ev_member', 1);
SELECT * FROM erasure.verify('ev_member', 3);
-- By hand, as a superuser: every masked value of member 1 put back, a row added to the table
-- its erasure deleted, its retained invoice removed; member 3 inserted again.
BEGIN;
UPDATE ev.members SET name = 'Member 1', email = 'm1@example.com', born = '1985-07-09', nick = 'nick1', token = 'tok1',
       prefs = prefs || '{"name": "Member"}', erased_at = NULL, note = 'vip'
 WHERE id = 1;
INSERT INTO ev.member_logs VALUES (10, 1, 'login again');
DELETE FROM ev.member_invoices WHERE member_id = 1;
INSERT INTO ev.members (id, name, email) VALUES (3, 'Member 3', 'm3@example.com');
SELECT * FROM erasure.verify('ev_member', 1) ORDER BY tbl::text, col;
SELECT * FROM erasure.verify('ev_member', 3);
SELECT count(*) FILTER (WHERE f::text ~ 'Member|m1@|nick1|tok1|1985') AS findings_with_a_value FROM erasure.verify('ev_member', 1) AS f;
ROLLBACK;
SELECT count(*) AS findings_after_rollback FROM erasure.verify('ev_member', 1);
-- One value of each shape that only looks right still passes: verification checks the shape.
BEGIN;
UPDATE ev.members SET token = repeat('ab', 32), email = 'erased-' || repeat('z', 36) || '_1%@invalid.example' WHERE id = 1;
SELECT count(*) AS findings_for_lookalikes FROM erasure.verify('ev_member', 1);
UPDATE ev.members SET email = 'erased-' || repeat('z', 36) || 'x1%@invalid.example' WHERE id = 1;
SELECT col, strategy FROM erasure.verify('ev_member', 1);
ROLLBACK;
-- The operator verifies (the reads run as the subject's owner); a subject never erased is an error.
SET ROLE erasure_operator;
SELECT count(*) AS operator_findings FROM erasure.verify('ev_member', 1);
RESET ROLE;
SELECT * FROM erasure.verify('ev_member', 2);
