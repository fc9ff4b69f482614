-- Registration: what migrations call. Each error with its SQLSTATE, message, DETAIL and HINT
-- (through try(), since psql's verbose mode would print source locations); a refused call
-- changes nothing; every call is idempotent.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hnt text;
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
  RETURN st || ': ' || msg || coalesce(E'\nDETAIL: ' || nullif(det, ''), '') || coalesce(E'\nHINT: ' || nullif(hnt, ''), '');
END $$;
CREATE FUNCTION pg_temp.catalog() RETURNS text LANGUAGE sql AS $$
  SELECT md5(string_agg(r, ';' ORDER BY r)) FROM (
    SELECT to_jsonb(s)::text AS r FROM erasure.subjects s UNION ALL SELECT to_jsonb(t)::text FROM erasure.tables t
    UNION ALL SELECT to_jsonb(p)::text FROM erasure.column_policies p UNION ALL SELECT to_jsonb(b)::text FROM erasure.blockers b) x $$;

CREATE SCHEMA reg;
CREATE TABLE reg.customers (id bigint PRIMARY KEY, name text NOT NULL, email text UNIQUE NOT NULL, born date,
                            note text, score integer, doc jsonb, upper_name text GENERATED ALWAYS AS (upper(name)) STORED);
CREATE TABLE reg.no_pk (code text, name text);
CREATE VIEW reg.a_view AS SELECT * FROM reg.customers;
CREATE TABLE reg.orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES reg.customers, referrer_id bigint REFERENCES reg.customers, ship text);
CREATE TABLE reg.items (id bigint PRIMARY KEY, order_id bigint REFERENCES reg.orders, note text);
CREATE TABLE reg.notes (id bigint PRIMARY KEY, owner_type text, owner_id bigint, body text);
CREATE TABLE reg.logs (id bigint PRIMARY KEY, customer_id bigint REFERENCES reg.customers ON DELETE CASCADE);
CREATE TABLE reg.log_receipts (id bigint PRIMARY KEY, log_id bigint REFERENCES reg.logs);

-- register_subject
SELECT pg_temp.try($$SELECT erasure.register_subject('regcust', 'reg.missing')$$);
SELECT pg_temp.try($$SELECT erasure.register_subject('regcust', 'reg.no_pk')$$);
SELECT pg_temp.try($$SELECT erasure.register_subject('regcust', 'reg.customers', key_column => 'nope')$$);
SELECT pg_temp.try($$SELECT erasure.register_subject('regcust', 'reg.customers', summary_columns => '{name,nope}')$$);
SELECT pg_temp.try($$SELECT erasure.register_subject('regcust', 'reg.a_view')$$);
SELECT pg_temp.try($$SELECT erasure.register_subject(NULL, 'reg.customers')$$);
SELECT pg_temp.try($$SELECT erasure.register_subject('', 'reg.customers')$$);
SELECT count(*) AS nothing_registered FROM erasure.subjects WHERE subject = 'regcust';
SELECT pg_temp.try($$SELECT erasure.register_subject('regcust', 'reg.customers', summary_columns => '{name,email}')$$);
SELECT pg_temp.try($$SELECT erasure.register_subject('regcust2', 'reg.customers')$$);
-- A key column must identify one row: refused until a unique index says so.
SELECT pg_temp.try($$SELECT erasure.register_subject('coded', 'reg.no_pk', key_column => 'code')$$);
CREATE UNIQUE INDEX no_pk_code_partial ON reg.no_pk (code) WHERE name IS NOT NULL;
SELECT pg_temp.try($$SELECT erasure.register_subject('coded', 'reg.no_pk', key_column => 'code')$$);
CREATE UNIQUE INDEX ON reg.no_pk (code);
SELECT pg_temp.try($$SELECT erasure.register_subject('coded', 'reg.no_pk', key_column => 'code')$$);
SELECT subject, tbl, key_column, summary_columns FROM erasure.subjects WHERE subject IN ('regcust', 'coded') ORDER BY 1;

-- register_table
SELECT pg_temp.try($$SELECT erasure.register_table('nobody', 'reg.orders')$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.orders', 'shred')$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.customers')$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.orders')$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.notes')$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.items', parent => 'reg.orders')$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.orders', via => '{nope}')$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.notes', via => '{}')$$);
-- A filter is one condition: it cannot close the parentheses it is put in and add to the statement.
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.notes', via => '{owner_id}', filter => $f$owner_type = 'customer'), (true$f$)$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.notes', via => '{owner_id}', filter => $f$true) --$f$)$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.notes', via => '{owner_id}', filter => 'nope = 1')$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.notes', via => '{owner_id}', filter => 'owner_type')$$);
SELECT count(*) AS nothing_registered FROM erasure.tables WHERE subject = 'regcust';
-- The accepted forms: the FK named with via; a chain; a polymorphic link; a filter-only table.
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.orders', via => '{customer_id}')$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.items', parent => 'reg.orders')$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.notes', via => '{owner_id}', filter => $f$owner_type = 'customer'$f$)$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.logs', 'delete')$$);
-- A retained or masked table may not hang from a deleted one: deleting would fail, or cascade
-- into kept rows.
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.log_receipts', 'retain', parent => 'reg.logs')$$);
SELECT pg_temp.try($$SELECT erasure.register_table('regcust', 'reg.log_receipts', 'mask', parent => 'reg.logs')$$);
SELECT tbl, action, parent, via, parent_columns, filter FROM erasure.tables WHERE subject = 'regcust' ORDER BY tbl::text;

-- set_policy
SELECT pg_temp.catalog() AS before \gset
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.log_receipts', 'id', 'keep')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'nope', 'null')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'note', 'shred')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'note', 'constant', '{}')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'note', 'null', '{"value": 1}')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'note', 'placeholder', '{"template": ""}')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'score', 'constant', '{"value": "Xxxx"}')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'born', 'constant', '{"value": "someday"}')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'name', 'null')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'name', 'constant', '{"value": null}')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'score', 'blank')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'note', 'year_only')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'note', 'now')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'note', 'jsonb_remove', '{"keys": ["a"]}')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'score', 'hmac')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'note', 'expression', '{"sql": "1) FROM reg.orders WHERE (1"}')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'note', 'expression', '{"sql": "nope || 1"}')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'id', 'constant', '{"value": 0}')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.orders', 'customer_id', 'null')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.orders', 'id', 'constant', '{"value": 0}')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'upper_name', 'null')$$);
SELECT pg_temp.try($$SELECT erasure.set_policy(NULL, 'note', 'null')$$);
SELECT pg_temp.catalog() = :'before' AS refused_calls_changed_nothing;
-- Accepted, and idempotent: the same calls twice leave one policy each.
SELECT pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'note', 'null')$$),
       pg_temp.try($$SELECT erasure.set_policy('reg.customers', 'note', 'null')$$),
       pg_temp.try($$SELECT erasure.set_policy('reg.orders', 'id', 'keep')$$);
SELECT count(*) AS note_policies FROM erasure.column_policies WHERE tbl = 'reg.customers'::regclass AND col = 'note';
SELECT pg_temp.try($$SELECT erasure.drop_policy('reg.customers', 'note')$$),
       pg_temp.try($$SELECT erasure.drop_policy('reg.customers', 'note')$$);
SELECT count(*) AS note_policies FROM erasure.column_policies WHERE tbl = 'reg.customers'::regclass AND col = 'note';

-- register_blocker
SELECT pg_temp.try($$SELECT erasure.register_blocker('nobody', 'b', 'SELECT 1 WHERE $1 IS NULL')$$);
SELECT pg_temp.try($$SELECT erasure.register_blocker('regcust', '', 'SELECT 1')$$);
SELECT pg_temp.try($$SELECT erasure.register_blocker('regcust', 'b', 'DELETE FROM reg.orders WHERE id = $1')$$);
SELECT pg_temp.try($$SELECT erasure.register_blocker('regcust', 'b', 'SELECT 1; SELECT 2')$$);
SELECT pg_temp.try($$SELECT erasure.register_blocker('regcust', 'b', 'SELEC id FROM reg.orders')$$);
SELECT pg_temp.try($$SELECT erasure.register_blocker('regcust', 'b', 'SELECT id FROM reg.orders')$$);
SELECT pg_temp.try($$SELECT erasure.register_blocker('regcust', 'b', 'SELECT id FROM reg.orders WHERE customer_id = $1 AND id = $2')$$);
SELECT pg_temp.try($$SELECT erasure.register_blocker('regcust', 'b', 'SELECT id FROM orders WHERE customer_id = $1')$$);
SELECT count(*) AS no_blockers FROM erasure.blockers WHERE subject = 'regcust';
SELECT pg_temp.try($$SELECT erasure.register_blocker('regcust', 'open_orders', 'SELECT id FROM reg.orders WHERE customer_id = $1', 'an order is open')$$),
       pg_temp.try($$SELECT erasure.register_blocker('regcust', 'open_orders', 'SELECT id FROM reg.orders WHERE customer_id = $1', 'an order is open')$$);
SELECT name, message FROM erasure.blockers WHERE subject = 'regcust';
-- A blocker is tried once at registration, as the subject's owner, for an existing key, in a
-- subtransaction rolled back: a function whose body names a table unqualified fails under the
-- pinned search_path now, not at every erasure; what the trial wrote is undone.
INSERT INTO reg.customers (id, name, email) VALUES (1, 'Ana', 'ana@example.com'), (999, 'Bo', 'bo@example.com');
CREATE TABLE reg.blocker_calls (customer_id bigint);
CREATE FUNCTION reg.open_count(bigint) RETURNS bigint LANGUAGE plpgsql AS $f$
BEGIN RETURN (SELECT count(*) FROM orders WHERE customer_id = $1); END $f$;
CREATE FUNCTION reg.noisy(bigint) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN INSERT INTO reg.blocker_calls VALUES ($1); RETURN false; END $f$;
CREATE FUNCTION reg.special(bigint) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN IF $1 = 999 THEN RAISE EXCEPTION 'special customer' USING ERRCODE = 'data_exception'; END IF; RETURN false; END $f$;
SELECT pg_temp.try($$SELECT erasure.register_blocker('regcust', 'unqualified', 'SELECT 1 WHERE reg.open_count($1) > 0')$$);
SELECT pg_temp.try($$SELECT erasure.register_blocker('regcust', 'noisy', 'SELECT 1 WHERE reg.noisy($1)')$$) AS noisy;
SELECT count(*) AS calls_left_behind FROM reg.blocker_calls;
-- A blocker failing only for some customers passes, and names itself when it fails at run time.
SELECT pg_temp.try($$SELECT erasure.register_blocker('regcust', 'special', 'SELECT 1 WHERE reg.special($1)')$$);
SELECT pg_temp.try($$SELECT count(*) FROM erasure.erasure_blockers(999, 'regcust')$$);
SELECT count(*) AS ana_blockers FROM erasure.erasure_blockers(1, 'regcust');
SELECT erasure.drop_blocker('regcust', 'noisy'), erasure.drop_blocker('regcust', 'special');
SELECT name FROM erasure.blockers WHERE subject = 'regcust' ORDER BY name;
DELETE FROM reg.customers;
-- Renaming a registered table keeps its registration (regclass).
ALTER TABLE reg.items RENAME TO order_items;
SELECT tbl FROM erasure.tables WHERE subject = 'regcust' AND parent = 'reg.orders'::regclass;

-- Every function, procedure, table and view of the extension carries a COMMENT.
SELECT p.oid::regprocedure::text AS uncommented
  FROM pg_proc p WHERE p.pronamespace = 'erasure'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL
UNION ALL
SELECT c.oid::regclass::text
  FROM pg_class c WHERE c.relnamespace = 'erasure'::regnamespace AND c.relkind IN ('r', 'v')
   AND obj_description(c.oid, 'pg_class') IS NULL;

-- A link named without a foreign key must be able to hold the parent's key: the shared
-- address table's own primary key holds addresses, not customers, and a text column cannot
-- hold an integer key. Both would mask other people's rows; both are refused.
CREATE SCHEMA link;
CREATE TABLE link.customers (id int PRIMARY KEY, address_id int, name text);
CREATE TABLE link.addresses (address_id int PRIMARY KEY, street text);
CREATE TABLE link.notes (id int PRIMARY KEY, customer_ref text, body text);
CREATE TABLE link.visits (id int PRIMARY KEY, customer_id int, page text);
SELECT erasure.register_subject('link_customer', 'link.customers');
SELECT pg_temp.try($$SELECT erasure.register_table('link_customer', 'link.addresses', via => '{address_id}')$$);
SELECT pg_temp.try($$SELECT erasure.register_table('link_customer', 'link.notes', via => '{customer_ref}')$$);
-- A column of the key's type that is not the table's own key is accepted, and check() warns.
SELECT erasure.register_table('link_customer', 'link.visits', via => '{customer_id}');
SELECT severity, tbl, problem, hint FROM erasure.check('link_customer') WHERE problem LIKE '%not a foreign key%';
SELECT erasure.drop_subject('link_customer', cascade => true);
DROP SCHEMA link CASCADE;
