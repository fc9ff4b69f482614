-- The security model (README "Security"): an attack table run as low-privilege roles, each
-- attempt failing with its SQLSTATE and leaving every table unchanged (row hashes before and
-- after); then what must work: an operator without table rights erases, an admin registers the
-- tables it owns, names and values full of quotes stay data, a public schema full of traps is
-- never used, and the hmac key stays hidden.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;

CREATE ROLE sec_admin LOGIN IN ROLE erasure_admin;          -- owns the shop's tables
CREATE ROLE sec_other_admin LOGIN IN ROLE erasure_admin;    -- an admin owning none of them
CREATE ROLE sec_operator LOGIN IN ROLE erasure_operator;    -- support: erases, nothing else
CREATE ROLE sec_mallory LOGIN;                              -- anyone else
-- The old default that lets anyone create objects in public, to plant traps there.
GRANT CREATE ON SCHEMA public TO sec_mallory;

CREATE SCHEMA sec AUTHORIZATION sec_admin;
GRANT USAGE ON SCHEMA sec TO PUBLIC;
-- Unregistered and not owned by the admin: the secrets catalog SQL must not reach.
CREATE TABLE sec.payroll (id integer PRIMARY KEY, secret text);
INSERT INTO sec.payroll VALUES (1, 'salary 9000');

SET ROLE sec_admin;
CREATE TABLE sec.customers (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE,
                            note text, updated_at timestamptz);
CREATE TABLE sec.orders (id integer PRIMARY KEY, customer_id integer REFERENCES sec.customers, status text NOT NULL,
                         ship_name text);
CREATE TABLE sec.guest_orders (id integer PRIMARY KEY, guest_email text, ship_name text);
CREATE TABLE sec.invoices (id integer PRIMARY KEY, customer_id integer REFERENCES sec.customers, billed_to text);
-- Names made to break naive SQL building: quotes, a semicolon, a comment, unicode.
CREATE TABLE sec."Odd'; DROP TABLE sec.orders; --" (id integer PRIMARY KEY,
    "cust""id" integer REFERENCES sec.customers, "na'me; -- ünï" text);
INSERT INTO sec.customers VALUES (1, 'Ana', 'ana@example.com', 'vip', NULL), (2, 'Bia', 'bia@example.com', NULL, NULL),
                                 (3, 'Caio', 'caio@example.com', NULL, NULL);
INSERT INTO sec.orders VALUES (1, 1, 'delivered', 'Ana'), (2, 2, 'delivered', 'Bia'), (3, 3, 'awaiting_payment', 'Caio');
INSERT INTO sec.guest_orders VALUES (1, 'ANA@example.com', 'Ana'), (2, 'zoe@example.com', 'Zoe');
INSERT INTO sec.invoices VALUES (1, 1, 'Ana'), (2, 2, 'Bia');
INSERT INTO sec."Odd'; DROP TABLE sec.orders; --" VALUES (1, 1, 'Ana'), (2, 2, 'Bia');
-- Row-level security that hides every order from everyone but the owner: an erasure still
-- reaches them (it runs as the table's owner, whom the policy does not restrict).
ALTER TABLE sec.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY nobody ON sec.orders USING (false);

-- Positive: an admin owning the tables registers them, with a subject name full of quotes,
-- values and templates that look like SQL, and catalog SQL whose lower(), = and now() a trap in
-- public would shadow if the search_path were not pinned.
SELECT erasure.register_subject('cust''"; --', 'sec.customers');
SELECT erasure.register_table('cust''"; --', 'sec.orders');
SELECT erasure.register_table('cust''"; --', 'sec.guest_orders', via => '{}',
       filter => 'lower(guest_email) = lower((SELECT c.email FROM sec.customers c WHERE c.id = $1))');
SELECT erasure.register_table('cust''"; --', 'sec.invoices', 'retain', reason => 'bookkeeping');
SELECT erasure.register_table('cust''"; --', 'sec."Odd''; DROP TABLE sec.orders; --"');
SELECT erasure.set_policy('sec.customers', 'name', 'constant', '{"value": "x''); DELETE FROM sec.orders; --"}'),
       erasure.set_policy('sec.customers', 'email', 'placeholder',
                          '{"template": "''||(SELECT secret FROM sec.payroll)||''{key}@invalid"}'),
       erasure.set_policy('sec.customers', 'note', 'hmac'),
       erasure.set_policy('sec.customers', 'updated_at', 'now'),
       erasure.set_policy('sec.orders', 'status', 'keep'),
       erasure.set_policy('sec.orders', 'ship_name', 'expression', '{"sql": "upper(left(ship_name, 1))"}'),
       erasure.set_policy('sec.guest_orders', 'guest_email', 'null'),
       erasure.set_policy('sec.guest_orders', 'ship_name', 'constant', '{"value": "Unknown customer"}'),
       erasure.set_policy('sec."Odd''; DROP TABLE sec.orders; --"', 'na''me; -- ünï', 'null');
SELECT erasure.register_blocker('cust''"; --', 'awaiting_payment',
       $$SELECT o.id FROM sec.orders o WHERE o.customer_id = $1 AND o.status = 'awaiting_payment'$$);
RESET ROLE;
-- Registration granted nobody anything: no role gains rights on the shop's tables, and the
-- operator holds no write privilege on pg_erasure's own tables.
SELECT count(*) AS grants_on_shop_tables FROM information_schema.role_table_grants
 WHERE table_schema = 'sec' AND grantee <> 'sec_admin' AND grantee <> current_user;
SELECT has_table_privilege('erasure_operator', 'erasure.request_queue', 'INSERT') AS queue_insert,
       has_table_privilege('erasure_operator', 'erasure.request_queue', 'UPDATE') AS queue_update,
       has_table_privilege('erasure_operator', 'erasure.ledger', 'INSERT') AS ledger_insert,
       has_table_privilege('erasure_admin', 'erasure.hmac_key', 'SELECT') AS admin_reads_key;
-- The key, set once by a superuser, lives where only superusers read it.
SELECT erasure.set_hmac_key('k3y-only-superusers-see');

-- The traps: if the engine ever resolved lower(), now() or = on text through the caller's
-- search_path, the erasure would fail with 'hijacked'.
SET ROLE sec_mallory;
CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RAISE 'hijacked lower'; END $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS $$ BEGIN RAISE 'hijacked now'; END $$;
CREATE FUNCTION public.text_eq_trap(text, text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RAISE 'hijacked ='; END $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.text_eq_trap);
RESET ROLE;

CREATE FUNCTION pg_temp.snapshot() RETURNS TABLE(tbl text, hash text) LANGUAGE plpgsql AS $$
DECLARE r regclass;
BEGIN
  FOR r IN SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('sec', 'erasure', 'public') AND c.relkind IN ('r', 'p') ORDER BY 1 LOOP
    tbl := r::text;
    EXECUTE format('SELECT md5(coalesce(string_agg(t::text, %L ORDER BY t::text), %L)) FROM %s t', ';', '', r) INTO hash;
    RETURN NEXT;
  END LOOP;
END $$;
CREATE FUNCTION pg_temp.attempt(role text, sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SET ROLE %I', role);
  EXECUTE 'SET search_path = public, pg_catalog';
  EXECUTE sql;
  RESET ROLE;
  RESET search_path;
  RETURN 'succeeded';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;  -- the subtransaction's rollback undid the SET ROLE and everything else
END $$;

CREATE TEMP TABLE attacks (n serial, attack text, role text, sql text, expected text);
INSERT INTO attacks (attack, role, sql, expected) VALUES
  -- An operator may erase, nothing more.
  ('operator sets a policy', 'sec_operator', $$SELECT erasure.set_policy('sec.customers', 'note', 'keep')$$, '42501'),
  ('operator drops a policy', 'sec_operator', $$SELECT erasure.drop_policy('sec.customers', 'name')$$, '42501'),
  ('operator registers a table', 'sec_operator', $$SELECT erasure.register_table('cust''"; --', 'sec.payroll', via => '{id}')$$, '42501'),
  ('operator registers a blocker', 'sec_operator', $$SELECT erasure.register_blocker('cust''"; --', 'b', 'SELECT 1 WHERE $1 IS NULL')$$, '42501'),
  ('operator erases an unregistered subject', 'sec_operator', $$SELECT erasure.anonymize('payroll', 1)$$, '42704'),
  ('operator writes a registered table itself', 'sec_operator', $$UPDATE sec.customers SET name = 'x'$$, '42501'),
  ('operator reads a registered table', 'sec_operator', $$SELECT * FROM sec.customers$$, '42501'),
  ('operator reads an unregistered table', 'sec_operator', $$SELECT * FROM sec.payroll$$, '42501'),
  ('operator writes the catalog', 'sec_operator', $$UPDATE erasure.column_policies SET strategy = 'keep'$$, '42501'),
  ('operator removes a blocker', 'sec_operator', $$DELETE FROM erasure.blockers$$, '42501'),
  ('operator adds a table to the catalog', 'sec_operator', $$INSERT INTO erasure.tables (subject, tbl, action, parent) VALUES ('cust''"; --', 'sec.payroll', 'delete', 'sec.customers')$$, '42501'),
  ('operator rewrites the ledger', 'sec_operator', $$DELETE FROM erasure.ledger$$, '42501'),
  ('operator passes SQL as the id', 'sec_operator', $$SELECT erasure.anonymize('cust''"; --', '1; DELETE FROM sec.orders')$$, '22P02'),
  ('operator passes SQL as the mode', 'sec_operator', $$SELECT erasure.anonymize('cust''"; --', 2, 'anonymize; DELETE FROM sec.orders')$$, '22023'),
  -- The hmac key: superuser-only to read and to set; it is no setting anyone could SHOW.
  ('operator shows the hmac key', 'sec_operator', $$SHOW erasure.hmac_key$$, '42704'),
  ('operator reads the hmac key', 'sec_operator', $$SELECT key FROM erasure.hmac_key$$, '42501'),
  ('admin reads the hmac key', 'sec_admin', $$SELECT * FROM erasure.hmac_key$$, '42501'),
  ('operator sets the hmac key', 'sec_operator', $$SELECT erasure.set_hmac_key('mine, all mine, mine')$$, '42501'),
  ('admin sets the hmac key', 'sec_admin', $$SELECT erasure.set_hmac_key('mine, all mine, mine')$$, '42501'),
  ('operator reads the key from the config file', 'sec_operator', $$SELECT * FROM pg_file_settings$$, '42501'),
  ('admin reads the key in an expression', 'sec_admin', $$SELECT erasure.set_policy('sec.customers', 'note', 'expression', '{"sql": "(SELECT k.key FROM erasure.hmac_key k)"}')$$, '42501'),
  ('admin reads a parameter in an expression', 'sec_admin', $$SELECT erasure.set_policy('sec.customers', 'note', 'expression', '{"sql": "$3"}')$$, '42P02'),
  -- The request trail and the settings that guard erasures are not the operator's to change.
  ('operator files a request by hand', 'sec_operator', $$INSERT INTO erasure.request_queue (subject, key, received_at, due_at) VALUES ('x', '1', now(), now())$$, '42501'),
  ('operator moves due dates', 'sec_operator', $$UPDATE erasure.request_queue SET due_at = due_at + interval '10 years'$$, '42501'),
  ('operator switches strict mode off', 'sec_operator', $$SET erasure.require_complete = off$$, '42501'),
  ('admin replays a subject it does not own', 'sec_other_admin', $$SELECT * FROM erasure.replay('{"entries": [{"request_id": 1, "subject": "cust''\"; --", "key": "2", "status": "anonymized"}]}')$$, '42501'),
  -- Anyone else may do nothing at all.
  ('stranger erases', 'sec_mallory', $$SELECT erasure.anonymize_customer(1)$$, '42501'),
  ('stranger previews', 'sec_mallory', $$SELECT erasure.erasure_preview(1, 'cust''"; --')$$, '42501'),
  ('stranger lists blockers', 'sec_mallory', $$SELECT * FROM erasure.erasure_blockers(3, 'cust''"; --')$$, '42501'),
  ('stranger reads the ledger', 'sec_mallory', $$SELECT * FROM erasure.ledger$$, '42501'),
  ('stranger files a request', 'sec_mallory', $$SELECT erasure.request('cust''"; --', '1')$$, '42501'),
  -- An admin registers only what it owns, and its catalog SQL reads only what it owns.
  ('admin registers a subject it does not own', 'sec_other_admin', $$SELECT erasure.register_subject('payroll', 'sec.payroll')$$, '42501'),
  ('admin registers a table it does not own', 'sec_other_admin', $$SELECT erasure.register_table('cust''"; --', 'sec.invoices', 'delete')$$, '42501'),
  ('admin sets a policy on a table it does not own', 'sec_other_admin', $$SELECT erasure.set_policy('sec.customers', 'name', 'keep')$$, '42501'),
  ('admin drops a policy of a table it does not own', 'sec_other_admin', $$SELECT erasure.drop_policy('sec.customers', 'name')$$, '42501'),
  ('admin replaces a blocker of a subject it does not own', 'sec_other_admin', $$SELECT erasure.register_blocker('cust''"; --', 'awaiting_payment', 'SELECT 1 WHERE $1 IS NULL')$$, '42501'),
  ('filter reads a table its author does not own', 'sec_admin', $$SELECT erasure.register_table('cust''"; --', 'sec.guest_orders', via => '{}', filter => 'EXISTS (SELECT FROM sec.payroll p WHERE p.id = $1)')$$, '42501'),
  ('expression reads a table its author does not own', 'sec_admin', $$SELECT erasure.set_policy('sec.customers', 'note', 'expression', '{"sql": "(SELECT p.secret FROM sec.payroll p LIMIT 1)"}')$$, '42501'),
  ('blocker reads a table its author does not own', 'sec_admin', $$SELECT erasure.register_blocker('cust''"; --', 'leak', 'SELECT p.secret FROM sec.payroll p WHERE p.id = $1')$$, '42501'),
  ('blocker reads a table through a view', 'sec_admin', $$SELECT erasure.register_blocker('cust''"; --', 'leak', 'SELECT s.usename FROM pg_catalog.pg_shadow s WHERE $1 IS NOT NULL')$$, '42501'),
  ('blocker calls a superuser-only function', 'sec_admin', $$SELECT erasure.register_blocker('cust''"; --', 'leak', 'SELECT pg_catalog.pg_read_file(''/etc/hostname'') WHERE $1 IS NOT NULL')$$, '42501'),
  -- Injection: catalog SQL must be one expression or one SELECT, names must be names.
  ('filter closing its parentheses', 'sec_admin', $$SELECT erasure.register_table('cust''"; --', 'sec.guest_orders', via => '{}', filter => 'true) OR (true); DELETE FROM sec.orders; --')$$, '42601'),
  ('blocker that deletes in a WITH', 'sec_admin', $$SELECT erasure.register_blocker('cust''"; --', 'cte', 'WITH d AS (DELETE FROM sec.orders RETURNING id) SELECT id FROM d WHERE $1 IS NOT NULL')$$, '22023'),
  ('blocker with a second statement', 'sec_admin', $$SELECT erasure.register_blocker('cust''"; --', 'two', 'SELECT 1 WHERE $1 = 1; DELETE FROM sec.orders')$$, '22023'),
  ('expression with a second statement', 'sec_admin', $$SELECT erasure.set_policy('sec.customers', 'note', 'expression', '{"sql": "1); DELETE FROM sec.orders; SELECT (1"}')$$, '42601'),
  ('strategy name with SQL', 'sec_admin', $$SELECT erasure.set_policy('sec.customers', 'note', 'null; DELETE FROM sec.orders; --')$$, '22023'),
  ('column name with SQL', 'sec_admin', $$SELECT erasure.set_policy('sec.customers', 'note = null; DELETE FROM sec.orders; --', 'null')$$, '42703'),
  ('table name with SQL', 'sec_admin', $$SELECT erasure.register_table('cust''"; --', 'sec.orders; DELETE FROM sec.orders')$$, '42602'),
  ('params with SQL', 'sec_admin', $$SELECT erasure.set_policy('sec.customers', 'note', 'constant', '{"value": "a", "sql": "DELETE FROM sec.orders"}')$$, '22023');

CREATE TEMP TABLE before AS SELECT * FROM pg_temp.snapshot();
SELECT n, attack, expected, pg_temp.attempt(role, sql) AS got INTO TEMP results FROM attacks ORDER BY n;
SELECT n, attack, expected, got FROM results WHERE got IS DISTINCT FROM expected;
SELECT count(*) AS attacks, count(*) FILTER (WHERE got = expected) AS failed_as_expected FROM results;
-- Nothing changed anywhere.
SELECT b.tbl FROM before b FULL JOIN pg_temp.snapshot() a USING (tbl) WHERE a.hash IS DISTINCT FROM b.hash;

-- The messages name what was denied.
\set VERBOSITY default
SET ROLE sec_operator;
SELECT erasure.set_policy('sec.customers', 'note', 'keep');
-- erase_batches runs only rules the subject's owner registered: SQL in the rule's place is no rule.
CALL erasure.erase_batches('cust''"; --', 'SELECT id FROM sec.payroll');
RESET ROLE;
SET ROLE sec_other_admin;
SELECT erasure.set_policy('sec.customers', 'name', 'keep');
RESET ROLE;
SET ROLE sec_admin;
SELECT erasure.register_blocker('cust''"; --', 'leak', 'SELECT p.secret FROM sec.payroll p WHERE p.id = $1');
SELECT erasure.register_blocker('cust''"; --', 'leak', 'SELECT pg_catalog.pg_read_file(''/etc/hostname'') WHERE $1 IS NOT NULL');
RESET ROLE;

-- Positive: the operator, without any right on the tables and with the traps first in its
-- search_path, sees the blocker, erases customer 1, and the traps never ran.
SET ROLE sec_operator;
SET search_path = public, pg_catalog;
SELECT lower('TRAP');  -- the trap is live for the operator's own queries
SELECT blocker FROM erasure.erasure_blockers(3, 'cust''"; --');
SELECT erasure.anonymize('cust''"; --', 1) ->> 'status' AS status;
RESET search_path;
SELECT key, status, executed_by FROM erasure.ledger WHERE subject = 'cust''"; --';
RESET ROLE;
-- Values that looked like SQL were written as values; the names full of quotes were found; the
-- orders hidden by row-level security were masked; the invoice is untouched; the other
-- customers too.
SELECT id, name, email, note ~ '^[0-9a-f]{64}$' AS note_is_hmac, updated_at IS NOT NULL AS stamped
  FROM sec.customers ORDER BY id;
SELECT * FROM sec.orders ORDER BY id;
SELECT * FROM sec.guest_orders ORDER BY id;
SELECT * FROM sec.invoices ORDER BY id;
SELECT * FROM sec."Odd'; DROP TABLE sec.orders; --" ORDER BY id;
-- The key appears in no report, ledger row or setting an operator can see.
SELECT count(*) AS ledger_rows_with_key FROM erasure.ledger l WHERE l::text LIKE '%k3y-only%';
SET ROLE sec_operator;
SELECT name FROM pg_settings WHERE name LIKE 'erasure.%' ORDER BY 1;
SELECT erasure.erasure_preview(1, 'cust''"; --')::text LIKE '%k3y-only%' AS preview_shows_key;
RESET ROLE;

-- check() reports a privilege the subject's owner lost: erasures run with its rights only.
REVOKE DELETE ON sec.orders FROM sec_admin;
SELECT severity, tbl, problem FROM erasure.check('cust''"; --') WHERE problem LIKE '%privilege%';
SET ROLE sec_other_admin;
SELECT count(*) AS other_admin_sees FROM erasure.check();  -- only its own subjects: none
SELECT * FROM erasure.check('cust''"; --');
RESET ROLE;
DROP SCHEMA sec CASCADE;
DROP FUNCTION public.text_eq_trap(text, text) CASCADE;
DROP FUNCTION public.lower(text), public.now();
DELETE FROM erasure.ledger WHERE subject = 'cust''"; --';
REVOKE CREATE ON SCHEMA public FROM sec_mallory;
DROP ROLE sec_admin, sec_other_admin, sec_operator, sec_mallory;
