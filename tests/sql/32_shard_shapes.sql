-- The statement shapes a sharded cluster (Citus) needs, checked on plain PostgreSQL: each table
-- filtered by the subject key or a column carrying it, deletes children first, no volatile
-- function and no stable function over a column in what an erasure writes, registration that
-- plans catalog SQL with a bound key. The shop is laid out as Citus wants it: every table holds
-- the customer key and its foreign keys include it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
RESET client_min_messages;
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM erasure.hmac_key) THEN PERFORM erasure.set_hmac_key('shapes-test-key-0123456789'); END IF;
END $$;
CREATE SCHEMA shapes;
CREATE TABLE shapes.customers (id bigint PRIMARY KEY, full_name text NOT NULL, email text, cpf text,
  birth date, first_seen timestamp, created_at timestamptz, anonymized_at timestamptz, uf text);
CREATE TABLE shapes.orders (customer_id bigint NOT NULL REFERENCES shapes.customers, id bigint, status text NOT NULL,
  ship_to text, PRIMARY KEY (customer_id, id));
CREATE TABLE shapes.items (customer_id bigint NOT NULL, order_id bigint NOT NULL, id bigint, gift_note text,
  PRIMARY KEY (customer_id, id), FOREIGN KEY (customer_id, order_id) REFERENCES shapes.orders);
CREATE TABLE shapes.logins (customer_id bigint NOT NULL REFERENCES shapes.customers, id bigint, token text UNIQUE,
  PRIMARY KEY (customer_id, id));
CREATE TABLE shapes.mails (customer_id bigint NOT NULL REFERENCES shapes.customers, id bigint, body text,
  PRIMARY KEY (customer_id, id));
INSERT INTO shapes.customers
SELECT g, 'Name ' || g, CASE WHEN g <> 3 THEN 'c' || g || '@example.com' END, lpad(g::text, 11, '0'),
       date '1987-05-03', timestamp '1987-05-03 10:00', timestamptz '2020-06-15 02:00+00', NULL, 'SP'
  FROM generate_series(1, 8) g;
INSERT INTO shapes.orders SELECT c, o, 'paid', 'Street ' || c FROM generate_series(1, 8) c, generate_series(1, 2) o;
INSERT INTO shapes.items SELECT c, o, o * 10 + k, 'for ' || c FROM generate_series(1, 8) c, generate_series(1, 2) o, generate_series(1, 2) k;
INSERT INTO shapes.logins SELECT c, k, 'token-' || c || '-' || k FROM generate_series(1, 8) c, generate_series(1, 2) k;
INSERT INTO shapes.mails SELECT c, k, 'hello ' || c FROM generate_series(1, 8) c, generate_series(1, 2) k;

SELECT erasure.register_subject('shape_customer', 'shapes.customers');
SELECT erasure.register_table('shape_customer', 'shapes.orders');
SELECT erasure.register_table('shape_customer', 'shapes.items', parent => 'shapes.orders');
SELECT erasure.register_table('shape_customer', 'shapes.logins');
SELECT erasure.register_table('shape_customer', 'shapes.mails', 'delete');
SELECT erasure.set_policy('shapes.customers', 'full_name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('shapes.customers', 'email', 'placeholder', '{"template": "erased-{uuid}@invalid.example"}'),
       erasure.set_policy('shapes.customers', 'cpf', 'hmac'),
       erasure.set_policy('shapes.customers', 'birth', 'year_only'),
       erasure.set_policy('shapes.customers', 'first_seen', 'year_only'),
       erasure.set_policy('shapes.customers', 'created_at', 'year_only'),
       erasure.set_policy('shapes.customers', 'anonymized_at', 'now'),
       erasure.set_policy('shapes.customers', 'uf', 'keep'),
       erasure.set_policy('shapes.orders', 'ship_to', 'null'),
       erasure.set_policy('shapes.orders', 'status', 'keep'),
       erasure.set_policy('shapes.items', 'gift_note', 'placeholder', '{"template": "note of {key}"}'),
       erasure.set_policy('shapes.logins', 'token', 'placeholder', '{"template": "gone-{uuid}"}');
-- A blocker is planned at registration with its key bound (to NULL): a planner that prunes
-- shards by the key gets a value.
SELECT erasure.register_blocker('shape_customer', 'unpaid',
  $$SELECT id FROM shapes.orders WHERE customer_id = $1 AND status = 'unpaid'$$);

-- No sharding problem is reported where Citus is not installed.
SELECT count(*) AS sharding_problems FROM erasure.sharding_problems('shape_customer');

SET TimeZone = 'Asia/Tokyo';
SET DateStyle = 'ISO, YMD';
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
SELECT erasure.anonymize('shape_customer', 1) ->> 'status' AS status, erasure.anonymize('shape_customer', 3) ->> 'status' AS status;
-- Each strategy's value: year_only keeps the year in the column's own type (a timestamptz in the
-- session's time zone); {uuid} is unique per row, a NULL filled too; hmac is hex.
SELECT id, full_name, email ~ '^erased-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@invalid\.example$' AS email_uuid,
       email IS NULL AS email_null, cpf ~ '^[0-9a-f]{64}$' AS cpf_hmac,
       birth, first_seen, created_at, anonymized_at IS NOT NULL AS stamped
  FROM shapes.customers WHERE id IN (1, 3) ORDER BY id;
SELECT count(DISTINCT token) AS distinct_tokens, count(*) FILTER (WHERE token ~ '^gone-[0-9a-f-]{36}$') AS uuid_tokens
  FROM shapes.logins WHERE customer_id IN (1, 3);
RESET TimeZone;
RESET DateStyle;

-- Every table of the erasure statement is filtered by the key, the chained one by the column
-- carrying it as well as through its parent.
SELECT query ~ 'shapes\.items\.customer_id OPERATOR\(pg_catalog\.=\) \$1 AND EXISTS' AS items_by_key,
       query ~ 'gen_random_uuid' AS calls_volatile, query ~ 'date_trunc\(''year'', shapes\.customers\.birth\)' AS stable_on_date
  FROM pg_stat_statements WHERE query ~ '^WITH t\d+ AS \(' AND query ~ 'UPDATE shapes\.customers';

-- A batch in delete mode: one statement deleting children before the rows they reference, and
-- the subjects locked by = ANY on the key besides the join that maps given keys to stored ones.
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
SELECT key, status FROM erasure.anonymize_many('shape_customer', ARRAY[4, 5, 6], 'delete') ORDER BY key;
SELECT strpos(query, 'DELETE FROM shapes.items') < strpos(query, 'DELETE FROM shapes.orders')
       AND strpos(query, 'DELETE FROM shapes.orders') < strpos(query, 'DELETE FROM shapes.customers') AS children_first,
       query ~ 'shapes\.items\.customer_id OPERATOR\(pg_catalog\.=\) ANY \(\$1\)' AS items_by_keys
  FROM pg_stat_statements WHERE query ~ '^WITH t\d+ AS \(DELETE' AND query ~ 'DELETE FROM shapes\.customers';
SELECT query ~ 'WHERE "pg_erasure subject"\.id OPERATOR\(pg_catalog\.=\) ANY \(\$1\)' AS lock_routable
  FROM pg_stat_statements WHERE query ~ 'JOIN shapes\.customers AS "pg_erasure subject"';
SELECT (SELECT count(*) FROM shapes.customers WHERE id IN (4, 5, 6)) AS customers_left,
       (SELECT count(*) FROM shapes.items WHERE customer_id IN (4, 5, 6)) AS items_left;

-- An erasure_batches run whose candidates come from the shop's tables (a registered rule) is one
-- query, then the ledger: on Citus a distributed query cannot be joined to the local ledger.
SELECT erasure.register_batch_rule('shape_customer', 'later', 'SELECT id FROM shapes.customers WHERE id > $1',
                                   parameter => 'bigint');
CALL erasure.erase_batches('shape_customer', 'later', '6', 10, 'anonymize');
SELECT id, full_name FROM shapes.customers ORDER BY id;

-- Retention released on a shard: the row's retention start is compared with now() minus the
-- period (no STABLE arithmetic on the column), and as seconds since 1970 with what was
-- released before.
CREATE TABLE shapes.invoices (customer_id bigint NOT NULL REFERENCES shapes.customers, id bigint, billed_to text,
  issued_at timestamptz NOT NULL, PRIMARY KEY (customer_id, id));
INSERT INTO shapes.invoices VALUES (8, 1, 'Name 8', now() - interval '6 years'), (8, 2, 'Name 8', now() - interval '1 year');
SELECT erasure.register_table('shape_customer', 'shapes.invoices', 'retain', reason => 'bookkeeping law',
                              retain_for => '5 years', retain_from => 'issued_at');
SELECT erasure.set_policy('shapes.invoices', 'billed_to', 'constant', '{"value": "Xxxx"}');
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
SELECT * FROM erasure.release_expired('shape_customer');
SELECT * FROM erasure.release_expired('shape_customer');
SELECT id, billed_to FROM shapes.invoices ORDER BY id;
SELECT query ~ 'shapes\.invoices\.issued_at <= CAST\(pg_catalog\.now\(\) OPERATOR\(pg_catalog\.-\)' AS start_compared,
       query ~ 'issued_at OPERATOR\(pg_catalog\.\+\)|issued_at \+' AS arithmetic_on_column
  FROM pg_stat_statements WHERE query ~ '^WITH t AS \(UPDATE shapes\.invoices';
