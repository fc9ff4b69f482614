-- Bulk erasure: 10,000 customers in one anonymize_many call, 1 in 100 blocked. The blocked are
-- untouched down to xmin, every other one is fully masked in every table exactly as a single
-- erasure masks it, and each table is changed by one statement for the whole batch.
SET client_min_messages = warning;  -- whether another suite created it first does not matter
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
RESET client_min_messages;
CREATE SCHEMA bulk;
CREATE TABLE bulk.members (id bigint PRIMARY KEY, full_name text NOT NULL, email text UNIQUE NOT NULL, uf text NOT NULL);
CREATE TABLE bulk.orders (id bigint PRIMARY KEY, member_id bigint NOT NULL REFERENCES bulk.members, status text NOT NULL, ship_to text);
CREATE INDEX ON bulk.orders (member_id);
CREATE TABLE bulk.items (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES bulk.orders, gift_note text);
CREATE INDEX ON bulk.items (order_id);
CREATE TABLE bulk.mails (id bigint PRIMARY KEY, member_id bigint NOT NULL REFERENCES bulk.members, body text);
CREATE INDEX ON bulk.mails (member_id);
CREATE TABLE bulk.invoices (id bigint PRIMARY KEY, member_id bigint NOT NULL REFERENCES bulk.members, billed_to text);
CREATE INDEX ON bulk.invoices (member_id);
INSERT INTO bulk.members SELECT g, 'Member ' || g, 'm' || g || '@example.com', 'SP' FROM generate_series(1, 10000) g;
INSERT INTO bulk.orders SELECT g, (g - 1) / 2 + 1,
       CASE WHEN g % 200 = 1 THEN 'awaiting_payment' ELSE 'paid' END, 'Street ' || g
  FROM generate_series(1, 20000) g;
INSERT INTO bulk.items SELECT g, (g - 1) / 3 + 1, 'for ' || g FROM generate_series(1, 60000) g;
INSERT INTO bulk.mails SELECT g, (g - 1) / 3 + 1, 'hello ' || g FROM generate_series(1, 30000) g;
INSERT INTO bulk.invoices SELECT g, (g - 1) / 2 + 1, 'Member ' || ((g - 1) / 2 + 1) FROM generate_series(1, 20000) g;
ANALYZE bulk.members, bulk.orders, bulk.items, bulk.mails, bulk.invoices;

SELECT erasure.register_subject('member', 'bulk.members');
SELECT erasure.register_table('member', 'bulk.orders');
SELECT erasure.register_table('member', 'bulk.items', parent => 'bulk.orders');
SELECT erasure.register_table('member', 'bulk.mails', 'delete');
SELECT erasure.register_table('member', 'bulk.invoices', 'retain', reason => 'bookkeeping law');
SELECT erasure.set_policy('bulk.members', 'full_name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('bulk.members', 'email', 'placeholder', '{"template": "erased-{key}@invalid.example"}');
SELECT erasure.set_policy('bulk.members', 'uf', 'keep');
SELECT erasure.set_policy('bulk.orders', 'ship_to', 'constant', '{"value": "Unknown customer"}');
SELECT erasure.set_policy('bulk.items', 'gift_note', 'placeholder', '{"template": "note of {key}"}');
SELECT erasure.register_blocker('member', 'awaiting_payment',
  $$SELECT id FROM bulk.orders WHERE member_id = $1 AND status = 'awaiting_payment'$$);

-- Everything as it was, with xmin, to compare afterwards.
CREATE TEMP TABLE before AS
SELECT 'members' AS t, id, xmin::text AS x, to_jsonb(m) AS r FROM bulk.members m
UNION ALL SELECT 'orders', id, xmin::text, to_jsonb(o) FROM bulk.orders o
UNION ALL SELECT 'items', id, xmin::text, to_jsonb(i) FROM bulk.items i
UNION ALL SELECT 'invoices', id, xmin::text, to_jsonb(v) FROM bulk.invoices v;

-- One member alone, for comparison with the batch.
SELECT erasure.anonymize('member', 2) ->> 'status' AS single;

SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
CREATE TEMP TABLE result AS
SELECT * FROM erasure.anonymize_many('member', (SELECT array_agg(g) FROM generate_series(1, 10000) g));
SELECT status, count(*) FROM result GROUP BY status ORDER BY status;

-- Blocked members (every 100th: 1, 101, ...) are untouched in every table, down to xmin.
SELECT count(*) AS blocked_rows_changed
  FROM before b
  LEFT JOIN (SELECT 'members' AS t, id, xmin::text AS x, to_jsonb(m) AS r FROM bulk.members m
             UNION ALL SELECT 'orders', id, xmin::text, to_jsonb(o) FROM bulk.orders o
             UNION ALL SELECT 'items', id, xmin::text, to_jsonb(i) FROM bulk.items i) a USING (t, id)
 WHERE CASE b.t WHEN 'members' THEN b.id
                WHEN 'orders' THEN (b.r ->> 'member_id')::bigint
                WHEN 'items' THEN (SELECT member_id FROM bulk.orders WHERE id = (b.r ->> 'order_id')::bigint)
       END % 100 = 1
   AND (a.x IS DISTINCT FROM b.x OR a.r IS DISTINCT FROM b.r);
SELECT count(*) AS blocked_mails_kept FROM bulk.mails WHERE member_id % 100 = 1;
-- Every other member is masked in every table, as the single erasure of member 2 was.
SELECT count(*) FILTER (WHERE full_name = 'Xxxx' AND email = 'erased-' || id || '@invalid.example' AND uf = 'SP') AS masked,
       count(*) FILTER (WHERE id % 100 <> 1) AS expected
  FROM bulk.members;
SELECT count(*) FILTER (WHERE o.ship_to = 'Unknown customer') AS orders_masked,
       count(*) FILTER (WHERE i.gift_note = 'note of ' || o.member_id) AS items_masked,
       count(*) AS rows_of_erased
  FROM bulk.orders o JOIN bulk.items i ON i.order_id = o.id
 WHERE o.member_id % 100 <> 1;
SELECT count(*) AS mails_left_of_erased FROM bulk.mails WHERE member_id % 100 <> 1;
-- Retained invoices are untouched, down to xmin.
SELECT count(*) AS invoices_changed
  FROM before b LEFT JOIN bulk.invoices v ON v.id = b.id
 WHERE b.t = 'invoices' AND (v.xmin::text IS DISTINCT FROM b.x OR to_jsonb(v) IS DISTINCT FROM b.r);
-- The reports count each member's own rows: 2 orders, 6 items, 3 mails, 2 invoices.
SELECT report -> 'tables' AS tables_of_member_7 FROM result WHERE key = '7';
-- One ledger row per erased member.
SELECT count(*) AS ledger_rows, count(DISTINCT key) AS distinct_keys FROM erasure.ledger WHERE subject = 'member';

-- One statement per step for the whole batch, each run once: the members' lock, the lock of
-- every other changed table's rows (one statement, its tables in lock order: parents first),
-- and the statement that applies the erasure.
SELECT CASE WHEN query LIKE 'SELECT FROM (SELECT FROM %'
            THEN 'rows locked in ' || array_to_string(ARRAY(SELECT m[1] FROM regexp_matches(query, 'FROM \(SELECT FROM (bulk\.\w+)', 'g') AS m), ', ')
            ELSE regexp_replace(substring(query FROM '^(SELECT.*?(FROM|JOIN) bulk\.\w+|WITH t\d+ AS \((UPDATE|DELETE FROM) bulk\.\w+)'), '\s+', ' ', 'g')
       END AS statement, calls
  FROM pg_stat_statements
 WHERE query ~ '^SELECT.*(FROM|JOIN) bulk\.\w+ .* FOR UPDATE( OF .*)?$' OR query ~ '^WITH t\d+ AS \((UPDATE|DELETE FROM) bulk\.\w+ .*pg_catalog\.count'
    OR query LIKE 'SELECT FROM (SELECT FROM bulk.%'
 ORDER BY 1;
-- The blocker queries ran once for the whole batch, joined to its keys.
SELECT calls AS blocker_statements FROM pg_stat_statements
 WHERE query LIKE '%"pg_erasure keys"%' AND query NOT LIKE '%FOR UPDATE%';

-- Run for a batch, a blocker keeps its own aliases and a '$1' inside a literal; each member's
-- items come in blocker-name order.
SELECT erasure.register_blocker('member', 'marked',
  $$SELECT k.id AS order_id, k.ship_to FROM bulk.orders k WHERE k.member_id = $1 AND k.ship_to = 'hold $1'$$);
UPDATE bulk.orders SET ship_to = 'hold $1' WHERE id = 202;  -- member 101, already awaiting payment
SELECT key, status, report -> 'blockers' AS blockers FROM erasure.anonymize_many('member', ARRAY[101, 201]);

-- Statistics are not a new definition: after ANALYZE (as autovacuum runs it) the session's
-- plan is kept; PostgreSQL replans its saved statements itself. A column added to a
-- registered table is: the plan is built again, once. Building a plan reads the catalog's
-- tables (the query below), so its calls count the builds.
INSERT INTO bulk.members SELECT g, 'Member ' || g, 'm' || g || '@example.com', 'SP' FROM generate_series(20001, 20006) g;
SELECT erasure.anonymize('member', 20001) ->> 'status' AS warm;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
ANALYZE bulk.members, bulk.orders, bulk.items, bulk.mails, bulk.invoices;
SELECT erasure.anonymize('member', 20002) ->> 'status' AS after_analyze;
SELECT coalesce(sum(calls), 0) AS builds_after_analyze FROM pg_stat_statements
 WHERE query LIKE 'SELECT tbl::pg_catalog.oid, action, parent::pg_catalog.oid%';
-- A registration of another subject rebuilds that subject's plan only: the one build counted
-- is the registration's own check of the guest's plan (rebuilding every plan made it two).
CREATE TABLE bulk.guests (id integer PRIMARY KEY, nickname text);
SELECT erasure.register_subject('guest', 'bulk.guests');
SELECT erasure.anonymize('member', 20003) ->> 'status' AS warm_again;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
SELECT erasure.set_policy('bulk.guests', 'nickname', 'null');
SELECT erasure.anonymize('member', 20004) ->> 'status' AS after_other_registration;
SELECT coalesce(sum(calls), 0) AS builds_after_other_registration FROM pg_stat_statements
 WHERE query LIKE 'SELECT tbl::pg_catalog.oid, action, parent::pg_catalog.oid%';
SELECT erasure.drop_subject('guest', cascade => true);
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
ALTER TABLE bulk.orders ADD COLUMN courier_note text;
SELECT erasure.anonymize('member', 20005) -> 'unreviewed_columns' AS after_alter;
SELECT erasure.anonymize('member', 20006) ->> 'status' AS again;
SELECT coalesce(sum(calls), 0) AS builds_after_alter FROM pg_stat_statements
 WHERE query LIKE 'SELECT tbl::pg_catalog.oid, action, parent::pg_catalog.oid%';
ALTER TABLE bulk.orders DROP COLUMN courier_note;

-- Rows the subject points to keep a batch set-based: one statement masks the addresses of the
-- whole batch (the one shared with someone outside the batch left as it is).
CREATE TABLE bulk.places (id integer PRIMARY KEY, street text NOT NULL);
CREATE TABLE bulk.tenants (id integer PRIMARY KEY, name text NOT NULL, place_id integer NOT NULL REFERENCES bulk.places);
CREATE INDEX ON bulk.tenants (place_id);
INSERT INTO bulk.places SELECT g, 'Street ' || g FROM generate_series(1, 4) g;
INSERT INTO bulk.tenants VALUES (1, 'Ana', 1), (2, 'Bia', 2), (3, 'Caio', 3), (4, 'Dani', 3), (5, 'Edu', 4);
SELECT erasure.register_subject('tenant', 'bulk.tenants');
SELECT erasure.register_table('tenant', 'bulk.places', referenced_by => '{place_id}');
SELECT erasure.set_policy('bulk.tenants', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('bulk.places', 'street', 'constant', '{"value": "erased"}');
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
SELECT key, report -> 'tables' -> 1 ->> 'rows' AS places, report -> 'tables' -> 1 ->> 'shared' AS shared
  FROM erasure.anonymize_many('tenant', ARRAY[1, 2, 3]) ORDER BY key;
SELECT id, street FROM bulk.places ORDER BY id;
SELECT sum(calls) AS place_statements FROM pg_stat_statements
 WHERE query ~ '^WITH t\d+ AS \(UPDATE bulk\.places ';
SELECT erasure.drop_subject('tenant', cascade => true);
