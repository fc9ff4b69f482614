-- The invariants of an erasure, over a schema with several customers: after erasing customer a,
--   (1) every row of every other customer is unchanged, xmin included (not even a no-op UPDATE);
--   (2) every row of a retained table is unchanged, xmin included;
--   (3) no masked column of customer a still holds its old value unless its policy is keep;
--   (4) an error part-way leaves the database exactly as before.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA inv;
CREATE TABLE inv.customers (id integer PRIMARY KEY, name text NOT NULL, email text UNIQUE NOT NULL, uf text, born date, score text);
CREATE TABLE inv.orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES inv.customers, ship_to text, status text);
CREATE TABLE inv.items (id integer PRIMARY KEY, order_id integer NOT NULL REFERENCES inv.orders, note text);
CREATE TABLE inv.invoices (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES inv.customers, billed_to text);
CREATE TABLE inv.visits (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES inv.customers, ip text);
INSERT INTO inv.customers SELECT g, 'Name ' || g, 'c' || g || '@example.com', 'SP', date '1980-05-06' + g, (g * 10)::text
  FROM generate_series(1, 6) g;
INSERT INTO inv.orders SELECT g, (g - 1) % 6 + 1, 'Street ' || g, 'paid' FROM generate_series(1, 18) g;
INSERT INTO inv.items SELECT g, (g - 1) % 18 + 1, 'note ' || g FROM generate_series(1, 36) g;
INSERT INTO inv.invoices SELECT g, (g - 1) % 6 + 1, 'Name ' || ((g - 1) % 6 + 1) FROM generate_series(1, 12) g;
INSERT INTO inv.visits SELECT g, (g - 1) % 6 + 1, '10.0.0.' || g FROM generate_series(1, 24) g;
SELECT erasure.register_subject('icustomer', 'inv.customers');
SELECT erasure.register_table('icustomer', 'inv.orders');
SELECT erasure.register_table('icustomer', 'inv.items', parent => 'inv.orders');
SELECT erasure.register_table('icustomer', 'inv.invoices', 'retain', reason => 'bookkeeping law');
SELECT erasure.register_table('icustomer', 'inv.visits', 'delete');
SELECT erasure.set_policy('inv.customers', 'name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('inv.customers', 'email', 'placeholder', '{"template": "erased-{key}@invalid.example"}');
SELECT erasure.set_policy('inv.customers', 'uf', 'keep');
SELECT erasure.set_policy('inv.customers', 'born', 'year_only');
-- score: an expression that fails for customer 4 only (score 40: a division by zero), to make
-- an erasure fail part-way, after its rows are locked.
SELECT erasure.set_policy('inv.customers', 'score', 'expression', '{"sql": "(100 / (score::integer - 40))::text"}');
SELECT erasure.set_policy('inv.orders', 'ship_to', 'constant', '{"value": "Unknown customer"}');
SELECT erasure.set_policy('inv.orders', 'status', 'keep');
SELECT erasure.set_policy('inv.items', 'note', 'null');
-- Invoices have policies too: a retained table is never written, whatever its policies say.
SELECT erasure.set_policy('inv.invoices', 'billed_to', 'constant', '{"value": "Xxxx"}');

-- Every row of every table with its owner, xmin and content.
CREATE FUNCTION pg_temp.rows() RETURNS TABLE(t text, id integer, owner integer, x text, r jsonb) LANGUAGE sql AS $$
  SELECT 'customers', c.id, c.id, c.xmin::text, to_jsonb(c) FROM inv.customers c
  UNION ALL SELECT 'orders', o.id, o.customer_id, o.xmin::text, to_jsonb(o) FROM inv.orders o
  UNION ALL SELECT 'items', i.id, o.customer_id, i.xmin::text, to_jsonb(i) FROM inv.items i JOIN inv.orders o ON o.id = i.order_id
  UNION ALL SELECT 'invoices', v.id, v.customer_id, v.xmin::text, to_jsonb(v) FROM inv.invoices v
  UNION ALL SELECT 'visits', v.id, v.customer_id, v.xmin::text, to_jsonb(v) FROM inv.visits v $$;
CREATE TEMP TABLE before AS SELECT * FROM pg_temp.rows();

SELECT erasure.anonymize('icustomer', 2) ->> 'status' AS erased_customer_2;
CREATE TEMP TABLE after AS SELECT * FROM pg_temp.rows();
-- (1) other customers' rows: unchanged, xmin included, none missing.
SELECT count(*) AS other_rows_changed_or_missing
  FROM before b LEFT JOIN after a USING (t, id)
 WHERE b.owner <> 2 AND (a.x IS DISTINCT FROM b.x OR a.r IS DISTINCT FROM b.r);
-- (2) retained rows, the erased customer's included: unchanged, xmin included.
SELECT count(*) AS retained_rows_changed
  FROM before b LEFT JOIN after a USING (t, id)
 WHERE b.t = 'invoices' AND (a.x IS DISTINCT FROM b.x OR a.r IS DISTINCT FROM b.r);
-- (3) every masked column of customer 2 differs from its old value; keep columns do not.
SELECT b.t, k AS col, erasure_policy.strategy, (a.r -> k) IS DISTINCT FROM (b.r -> k) AS changed
  FROM before b JOIN after a USING (t, id)
  CROSS JOIN LATERAL jsonb_object_keys(b.r) AS k
  JOIN erasure.column_policies erasure_policy ON erasure_policy.tbl = ('inv.' || b.t)::regclass AND erasure_policy.col = k
 WHERE b.owner = 2 AND b.t <> 'invoices'
 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2;
SELECT count(*) AS deleted_visits_left FROM inv.visits WHERE customer_id = 2;

-- (4) an error part-way: customer 4's score makes the expression divide by zero, after its
-- rows were locked. Everything stays exactly as it was, xmin included.
CREATE TEMP TABLE before_error AS SELECT * FROM pg_temp.rows();
SELECT erasure.anonymize('icustomer', 4);
SELECT count(*) AS rows_changed_by_the_failed_erasure
  FROM before_error b FULL JOIN pg_temp.rows() a USING (t, id)
 WHERE a.x IS DISTINCT FROM b.x OR a.r IS DISTINCT FROM b.r;
SELECT count(*) AS ledger_rows_of_customer_4 FROM erasure.ledger WHERE subject = 'icustomer' AND key = '4';
