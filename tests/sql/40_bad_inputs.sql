-- The catalogue of bad inputs: each one with the SQLSTATE and a fragment of the message it must
-- raise, all run in one table-driven pass, and every table's rows (down to ctid and xmin)
-- unchanged afterwards. Lock timeouts against another session are in pgrx-tests/sessions.rs.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;

CREATE SCHEMA bad;
CREATE TABLE bad.customers (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, born date,
                            nick text, shout text GENERATED ALWAYS AS (upper(name)) STORED);
CREATE TABLE bad.orders (id integer PRIMARY KEY, customer_id integer REFERENCES bad.customers, status text NOT NULL,
                         ship_name text, amount integer);
CREATE TABLE bad.invoices (id integer PRIMARY KEY, customer_id integer REFERENCES bad.customers, total numeric);
CREATE TABLE bad.logs (id integer PRIMARY KEY, customer_id integer REFERENCES bad.customers, line text);
CREATE TABLE bad.loose (customer_id integer, note text);           -- no foreign key
CREATE TABLE bad.no_key (code text, name text);                    -- no primary key
CREATE VIEW bad.customer_view AS SELECT id, name FROM bad.customers;
CREATE TABLE bad.lonely (id integer PRIMARY KEY, name text);
CREATE TABLE bad."Clïent's ""table""" (id integer PRIMARY KEY, name text);
INSERT INTO bad.customers (id, name, email, born, nick) VALUES
  (1, 'Ana', 'ana@example.com', '1990-05-17', 'an'), (2, 'Bia', 'bia@example.com', NULL, NULL),
  (3, 'Caio', 'caio@example.com', NULL, NULL), (4, 'Dora', 'dora@example.com', NULL, NULL);
INSERT INTO bad.orders VALUES (1, 1, 'delivered', 'Ana', 10), (3, 3, 'awaiting_payment', 'Caio', 30), (4, 4, 'delivered', 'Dora', 0);
INSERT INTO bad.invoices VALUES (1, 1, 10), (4, 4, 5);
INSERT INTO bad.logs VALUES (1, 1, 'login');
INSERT INTO bad.lonely VALUES (1, 'Eli');
SELECT erasure.register_subject('bad_customer', 'bad.customers'),
       erasure.register_table('bad_customer', 'bad.orders'),
       erasure.register_table('bad_customer', 'bad.invoices', 'retain', reason => 'bookkeeping'),
       erasure.register_table('bad_customer', 'bad.logs', 'delete'),
       erasure.set_policy('bad.customers', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('bad.customers', 'email', 'placeholder', '{"template": "erased-{key}@invalid"}'),
       erasure.set_policy('bad.customers', 'born', 'year_only'),
       erasure.set_policy('bad.orders', 'status', 'keep'),
       erasure.set_policy('bad.orders', 'ship_name', 'null'),
       -- Fails at run time for order 4 only: amount 0.
       erasure.set_policy('bad.orders', 'amount', 'expression', '{"sql": "100 / amount"}'),
       erasure.register_blocker('bad_customer', 'awaiting_payment',
         $$SELECT o.id FROM bad.orders o WHERE o.customer_id = $1 AND o.status = 'awaiting_payment'$$);
SELECT erasure.register_subject('lonely', 'bad.lonely');
-- Constraints that a policy's values would break at every erasure: a domain, a composite and an
-- expression UNIQUE, a varchar(5), a text[] and jsonb holding arrays.
CREATE DOMAIN bad.handle AS text NOT NULL CHECK (VALUE <> '');
CREATE TABLE bad.profiles (id integer PRIMARY KEY, customer_id integer REFERENCES bad.customers,
                           tenant integer NOT NULL, login text NOT NULL, code varchar(5), tags text[],
                           handle bad.handle, prefs jsonb, short varchar(5), UNIQUE (tenant, login));
CREATE UNIQUE INDEX profiles_code_lower ON bad.profiles (lower(code));
INSERT INTO bad.profiles VALUES (1, 1, 1, 'ana', 'A1', '{a}', 'an', '[{"name": "Ana"}]', 'ana');
SELECT erasure.register_table('bad_customer', 'bad.profiles');
CREATE TEMP TABLE tmp_people (id integer PRIMARY KEY, name text);
-- A blocker that fails at run time for customer 2, and one that only talks.
CREATE FUNCTION bad.chatty(id integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE NOTICE 'checking customer %', id; RETURN false; END $$;
SELECT erasure.register_blocker('bad_customer', 'chatty', 'SELECT 1 WHERE bad.chatty($1)'),
       erasure.register_blocker('bad_customer', 'fragile',
         'SELECT 1 FROM bad.customers c WHERE c.id = $1 AND c.id / (c.id - 2) = 0');
SELECT erasure.register_subject('bad_customer2', 'bad."Clïent''s ""table"""'),
       erasure.register_table('bad_customer2', 'bad.loose', via => '{customer_id}');

CREATE FUNCTION pg_temp.attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
  RETURN st || ': ' || msg;
END $$;
CREATE FUNCTION pg_temp.snapshot() RETURNS TABLE(tbl text, hash text) LANGUAGE plpgsql AS $$
DECLARE r regclass;
BEGIN
  FOR r IN SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('bad', 'erasure') AND c.relkind IN ('r', 'p') ORDER BY 1 LOOP
    tbl := r::text;
    EXECUTE format('SELECT md5(coalesce(string_agg(t.ctid::text || t.xmin::text || t::text, %L ORDER BY t.ctid), %L)) FROM %s t', ';', '', r)
      INTO hash;
    RETURN NEXT;
  END LOOP;
END $$;
-- Requests in three states for the lifecycle's refusals: received, verified and extended, cancelled.
SELECT erasure.request('bad_customer', 1) > 0 AS received, erasure.request('bad_customer', 4) > 0 AS to_verify,
       erasure.request('bad_customer', 3) > 0 AS to_cancel;
SELECT erasure.verify_request(id) AS verified, erasure.extend_request(id, 'many requests this month') AS extended
  FROM erasure.request_queue WHERE subject = 'bad_customer' AND key = '4';
SELECT erasure.cancel_request(id) AS cancelled FROM erasure.request_queue WHERE subject = 'bad_customer' AND key = '3';
CREATE FUNCTION pg_temp.req(k text) RETURNS bigint LANGUAGE sql AS $$
  SELECT id FROM erasure.request_queue WHERE subject = 'bad_customer' AND key = k $$;

CREATE TEMP TABLE bad_inputs (n serial, input text, sql text, sqlstate text, fragment text);
INSERT INTO bad_inputs (input, sql, sqlstate, fragment) VALUES
  -- The id.
  ('NULL id', $$SELECT erasure.anonymize('bad_customer', NULL::integer)$$, '22004', 'id must not be NULL'),
  ('id of the wrong type', $$SELECT erasure.anonymize('bad_customer', 'abc')$$, '22P02', 'invalid bad_customer key "abc"'),
  ('id out of the key''s range', $$SELECT erasure.anonymize('bad_customer', 99999999999)$$, '22003', 'invalid bad_customer key "99999999999"'),
  ('uuid given for an integer key', $$SELECT erasure.anonymize('bad_customer', '3f2c7a10-0000-4000-8000-000000000001'::uuid)$$, '22P02', 'invalid bad_customer key'),
  ('id that does not exist', $$SELECT erasure.anonymize('bad_customer', 99)$$, 'P0002', 'bad_customer "99" does not exist'),
  ('id that does not exist, preview', $$SELECT erasure.erasure_preview(99, 'bad_customer')$$, 'P0002', '"99" does not exist'),
  ('id with SQL in it', $$SELECT erasure.anonymize('bad_customer', '1; DELETE FROM bad.orders')$$, '22P02', 'invalid bad_customer key'),
  -- The subject.
  ('NULL subject', $$SELECT erasure.anonymize(NULL, 1)$$, '22004', 'subject must not be NULL'),
  ('unknown subject', $$SELECT erasure.anonymize('nobody', 1)$$, '42704', 'erasure subject "nobody" is not registered'),
  ('unknown subject with unicode and quotes', $$SELECT erasure.anonymize('clïent''s "x"', 1)$$, '42704', 'clïent''s "x"'),
  ('subject with no tables', $$SELECT erasure.anonymize('lonely', 1)$$, '55000', 'has no registered tables'),
  ('unknown mode', $$SELECT erasure.anonymize('bad_customer', 1, 'shred')$$, '22023', 'unknown erasure mode "shred"'),
  -- What the data forbids.
  ('a blocker fires', $$SELECT erasure.anonymize('bad_customer', 3)$$, '55000', 'cannot be erased'),
  ('mode delete with retained rows', $$SELECT erasure.anonymize('bad_customer', 1, 'delete')$$, '55000', 'cannot be deleted'),
  ('blocker failing at run time', $$SELECT erasure.anonymize('bad_customer', 2)$$, '22012', 'division by zero'),
  ('expression failing at run time', $$SELECT erasure.anonymize('bad_customer', 4)$$, '22012', 'division by zero'),
  ('read-only transaction', $$SET LOCAL transaction_read_only = on; SELECT erasure.anonymize('bad_customer', 1)$$, '25006', 'read-only transaction'),
  -- Bulk.
  ('NULL array', $$SELECT erasure.anonymize_many('bad_customer', NULL::integer[])$$, '22004', 'ids must not be NULL'),
  ('NULL element', $$SELECT erasure.anonymize_many('bad_customer', ARRAY[1, NULL])$$, '22004', 'elements of ids must not be NULL'),
  ('array of the wrong type', $$SELECT erasure.anonymize_many('bad_customer', ARRAY['x', 'y'])$$, '22P02', 'invalid bad_customer key "x"'),
  ('erase_batches inside a transaction', $$CALL erasure.erase_batches('bad_customer', 'nightly')$$, '2D000', 'invalid transaction termination'),
  ('erase_batches with batch size 0', $$CALL erasure.erase_batches('bad_customer', 'nightly', batch_size => 0)$$, '22023', 'batch_size must be at least 1'),
  -- Registration: tables.
  ('register a view', $$SELECT erasure.register_table('bad_customer', 'bad.customer_view')$$, '42809', 'is not a table'),
  ('register a table that does not exist', $$SELECT erasure.register_table('bad_customer', 'bad.nope')$$, '42P01', 'does not exist'),
  ('register with an unknown action', $$SELECT erasure.register_table('bad_customer', 'bad.logs', 'shred')$$, '22023', 'unknown table action "shred"'),
  ('register without a foreign key', $$SELECT erasure.register_table('bad_customer', 'bad.loose')$$, '42830', 'has no foreign key'),
  ('register under an unregistered parent', $$SELECT erasure.register_table('bad_customer', 'bad.logs', parent => 'bad.loose')$$, '42704', 'is not registered'),
  ('subject without a primary key', $$SELECT erasure.register_subject('nokey', 'bad.no_key')$$, '42P10', 'no single-column primary key'),
  ('empty subject name', $$SELECT erasure.register_subject('', 'bad.lonely')$$, '22023', 'subject name must not be empty'),
  ('table already another subject''s', $$SELECT erasure.register_subject('again', 'bad.customers')$$, '42710', 'already the table of erasure subject'),
  ('retention without its date column', $$SELECT erasure.register_table('bad_customer', 'bad.invoices', 'retain', retain_for => '5 years')$$, '22023', 'retention of table'),
  ('filter that is two statements', $$SELECT erasure.register_table('bad_customer', 'bad.logs', 'delete', via => '{}', filter => 'true); DELETE FROM bad.orders; SELECT (1')$$, '42601', 'not a single SQL condition'),
  ('filter naming a missing column', $$SELECT erasure.register_table('bad_customer', 'bad.logs', 'delete', via => '{}', filter => 'nope = $1')$$, '42703', 'filter of table "bad.logs" is invalid'),
  -- Registration: policies.
  ('unknown strategy', $$SELECT erasure.set_policy('bad.customers', 'nick', 'shred')$$, '22023', 'unknown masking strategy "shred"'),
  ('malformed params JSON', $$SELECT erasure.set_policy('bad.customers', 'nick', 'constant', '{"value": }')$$, '22P02', 'invalid input syntax for type json'),
  ('params of the wrong shape', $$SELECT erasure.set_policy('bad.customers', 'nick', 'constant', '{"values": 1}')$$, '22023', 'invalid params for masking strategy "constant"'),
  ('constant that does not cast', $$SELECT erasure.set_policy('bad.customers', 'born', 'constant', '{"value": "soon"}')$$, '22007', 'cannot be cast to type date'),
  ('null on a NOT NULL column', $$SELECT erasure.set_policy('bad.customers', 'name', 'null')$$, '23502', 'cannot be used on column "name"'),
  ('year_only on text', $$SELECT erasure.set_policy('bad.customers', 'nick', 'year_only')$$, '42804', 'cannot be used on column "nick"'),
  ('template without {key} on a UNIQUE column', $$SELECT erasure.set_policy('bad.customers', 'email', 'placeholder', '{"template": "erased@invalid"}')$$, '22023', 'same value into UNIQUE column "email"'),
  ('constant on a UNIQUE column', $$SELECT erasure.set_policy('bad.customers', 'email', 'constant', '{"value": "x@invalid"}')$$, '22023', 'same value into UNIQUE column "email"'),
  ('empty template', $$SELECT erasure.set_policy('bad.customers', 'nick', 'placeholder', '{"template": ""}')$$, '22023', 'invalid params for masking strategy "placeholder"'),
  ('policy on a generated column', $$SELECT erasure.set_policy('bad.customers', 'shout', 'null')$$, '428C9', 'is a generated column'),
  ('masking the key that links rows', $$SELECT erasure.set_policy('bad.orders', 'customer_id', 'null')$$, '42P10', 'cannot be masked'),
  ('policy on a missing column', $$SELECT erasure.set_policy('bad.customers', 'nope', 'null')$$, '42703', 'column "nope" of relation "bad.customers" does not exist'),
  ('policy on an unregistered table', $$SELECT erasure.set_policy('bad.no_key', 'name', 'null')$$, '42704', 'is not registered'),
  ('expression that is two statements', $$SELECT erasure.set_policy('bad.customers', 'nick', 'expression', '{"sql": "1); DELETE FROM bad.orders; SELECT (1"}')$$, '42601', 'not a single SQL expression'),
  ('expression of the wrong type', $$SELECT erasure.set_policy('bad.customers', 'born', 'expression', '{"sql": "true"}')$$, '42846', 'expression for column "born"'),
  ('null where the domain is NOT NULL', $$SELECT erasure.set_policy('bad.profiles', 'handle', 'null')$$, '23502', 'cannot be cast to type bad.handle'),
  ('blank against the domain''s CHECK', $$SELECT erasure.set_policy('bad.profiles', 'handle', 'blank')$$, '23514', 'cannot be cast to type bad.handle'),
  ('constant too long for varchar(5)', $$SELECT erasure.set_policy('bad.profiles', 'short', 'constant', '{"value": "Xxxxxxx"}')$$, '22001', 'is too long for type character varying(5)'),
  ('placeholder too long for varchar(5)', $$SELECT erasure.set_policy('bad.profiles', 'code', 'placeholder', '{"template": "erased-{key}"}')$$, '22001', 'is too long for type character varying(5)'),
  ('constant into a composite UNIQUE', $$SELECT erasure.set_policy('bad.profiles', 'login', 'constant', '{"value": "x"}')$$, '22023', 'same value into UNIQUE column "login"'),
  ('constant into a unique expression index', $$SELECT erasure.set_policy('bad.profiles', 'code', 'constant', '{"value": "X"}')$$, '22023', 'same value into UNIQUE column "code"'),
  ('restricted_at on a text column', $$SELECT erasure.set_policy('bad.customers', 'nick', 'restricted_at')$$, '42804', 'cannot be used on column "nick"'),
  ('placeholder on text[]', $$SELECT erasure.set_policy('bad.profiles', 'tags', 'placeholder', '{"template": "x-{key}"}')$$, '42804', 'cannot be used on column "tags"'),
  ('jsonb_remove of keys where the column holds arrays', $$SELECT erasure.set_policy('bad.profiles', 'prefs', 'jsonb_remove', '{"keys": ["name"]}')$$, '22P02', 'does not apply to the values of column "prefs"'),
  ('a temporary table as a subject', $$SELECT erasure.register_subject('tmp', 'pg_temp.tmp_people')$$, '42809', 'is a temporary table'),
  ('a temporary table as a subject''s table', $$SELECT erasure.register_table('bad_customer', 'pg_temp.tmp_people', via => '{id}')$$, '42809', 'is a temporary table'),
  ('a key column that does not identify one row', $$SELECT erasure.register_subject('nokey2', 'bad.no_key', key_column => 'code')$$, '42P10', 'does not identify one row'),
  -- Registration: blockers.
  ('blocker that is not a SELECT', $$SELECT erasure.register_blocker('bad_customer', 'b', 'DELETE FROM bad.orders')$$, '22023', 'is not a single SELECT'),
  ('blocker without $1', $$SELECT erasure.register_blocker('bad_customer', 'b', 'SELECT 1')$$, '22023', 'must take the subject key as $1'),
  ('blocker with an empty name', $$SELECT erasure.register_blocker('bad_customer', '', 'SELECT 1 WHERE $1 = 1')$$, '22023', 'blocker name must not be empty'),
  ('blocker for an unknown subject', $$SELECT erasure.register_blocker('nobody', 'b', 'SELECT 1 WHERE $1 = 1')$$, '42704', 'is not registered'),
  -- Backups.
  ('replay of something else', $$SELECT * FROM erasure.replay('{"rows": []}')$$, '22023', 'is not an export of erasure.ledger_export()'),
  ('replay of an unknown subject', $$SELECT * FROM erasure.replay('{"entries": [{"request_id": 1, "subject": "nobody", "key": "1", "status": "anonymized"}]}')$$, '42704', '"nobody" is not registered'),
  -- Requests: a transition the request's state does not allow, or without what it needs.
  ('verify an unknown request', $$SELECT erasure.verify_request(-1)$$, 'P0002', 'erasure request -1 does not exist'),
  ('approve an unknown request', $$SELECT erasure.approve_request(-1)$$, 'P0002', 'erasure request -1 does not exist'),
  ('cancel an unknown request', $$SELECT erasure.cancel_request(-1)$$, 'P0002', 'erasure request -1 does not exist'),
  ('reject an unknown request', $$SELECT erasure.reject_request(-1, 'archiving')$$, 'P0002', 'erasure request -1 does not exist'),
  ('extend an unknown request', $$SELECT erasure.extend_request(-1, 'busy')$$, 'P0002', 'erasure request -1 does not exist'),
  ('approve a request not verified', $$SELECT erasure.approve_request(pg_temp.req('1'))$$, '55000', 'it is received'),
  ('verify a verified request', $$SELECT erasure.verify_request(pg_temp.req('4'))$$, '55000', 'it is verified'),
  ('extend a request twice', $$SELECT erasure.extend_request(pg_temp.req('4'), 'still busy')$$, '55000', 'was extended already'),
  ('verify a cancelled request', $$SELECT erasure.verify_request(pg_temp.req('3'))$$, '55000', 'it is cancelled'),
  ('approve a cancelled request', $$SELECT erasure.approve_request(pg_temp.req('3'))$$, '55000', 'it is cancelled'),
  ('cancel a cancelled request', $$SELECT erasure.cancel_request(pg_temp.req('3'))$$, '55000', 'it is cancelled'),
  ('reject a cancelled request', $$SELECT erasure.reject_request(pg_temp.req('3'), 'archiving')$$, '55000', 'it is cancelled'),
  ('extend a cancelled request', $$SELECT erasure.extend_request(pg_temp.req('3'), 'busy')$$, '55000', 'it is cancelled'),
  ('reject without a ground', $$SELECT erasure.reject_request(pg_temp.req('1'), NULL)$$, '22023', 'without a ground of GDPR art. 17(3)'),
  ('reject on a ground the law does not give', $$SELECT erasure.reject_request(pg_temp.req('1'), 'too busy')$$, '22023', 'without a ground of GDPR art. 17(3)'),
  ('extend without a reason', $$SELECT erasure.extend_request(pg_temp.req('1'), NULL)$$, '22023', 'without a reason'),
  ('extend with a blank reason', $$SELECT erasure.extend_request(pg_temp.req('1'), '  ')$$, '22023', 'without a reason'),
  ('extend by three months', $$SELECT erasure.extend_request(pg_temp.req('1'), 'busy', '3 months')$$, '22023', 'cannot extend erasure request'),
  ('extend by nothing', $$SELECT erasure.extend_request(pg_temp.req('1'), 'busy', '0')$$, '22023', 'cannot extend erasure request'),
  ('a period that is no setting', $$SELECT erasure.setting_period('nope')$$, '22023', '"nope" is not a period of pg_erasure'),
  -- Verification.
  ('verify a subject never erased', $$SELECT * FROM erasure.verify('bad_customer', 1)$$, 'P0002', 'bad_customer "1" has not been erased'),
  ('verify an unknown subject', $$SELECT * FROM erasure.verify('nobody', 1)$$, '42704', '"nobody" is not registered'),
  ('verify with a NULL id', $$SELECT * FROM erasure.verify('bad_customer', NULL::integer)$$, '22004', 'id must not be NULL'),
  -- Inputs that are not errors: nothing to do, or only a NOTICE.
  ('blocker raising only a NOTICE', $$SELECT erasure.erasure_blockers(1, 'bad_customer')$$, 'ok', ''),
  ('restriction of a key no row has', $$SELECT erasure.is_restricted('bad_customer', 99)$$, 'ok', ''),
  ('empty array', $$SELECT erasure.anonymize_many('bad_customer', '{}'::integer[])$$, 'ok', ''),
  ('100,000 ids, none of them customers', $$SELECT count(*) FROM erasure.anonymize_many('bad_customer', ARRAY(SELECT generate_series(1000, 100999)))$$, 'ok', ''),
  ('the same blocked id three times', $$SELECT erasure.anonymize_many('bad_customer', ARRAY[3, 3, 3])$$, 'ok', '');

CREATE TEMP TABLE before AS SELECT * FROM pg_temp.snapshot();
SELECT n, input, sqlstate, fragment, pg_temp.attempt(sql) AS got INTO TEMP results FROM bad_inputs ORDER BY n;
-- Any input not refused as expected:
SELECT n, input, sqlstate, fragment, got FROM results
 WHERE split_part(got, ':', 1) IS DISTINCT FROM sqlstate OR strpos(got, fragment) = 0;
SELECT count(*) AS inputs, count(*) FILTER (WHERE sqlstate <> 'ok') AS refused FROM results;
-- Nothing changed, down to ctid and xmin.
SELECT b.tbl FROM before b FULL JOIN pg_temp.snapshot() a USING (tbl) WHERE a.hash IS DISTINCT FROM b.hash;
-- The lines of the bulk calls above: one per distinct key.
SELECT key, status FROM erasure.anonymize_many('bad_customer', ARRAY[3, 3, 99]) ORDER BY key;

DELETE FROM erasure.request_queue WHERE subject = 'bad_customer';
DROP SCHEMA bad CASCADE;
