-- The installed package, on its own: CREATE EXTENSION, a registered subject, one erasure, and
-- DROP EXTENSION with the subject still registered (what stays: the roles, the data as erased).
\set ON_ERROR_STOP on
CREATE EXTENSION pg_erasure;
CREATE SCHEMA pkg;
CREATE TABLE pkg.customers (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE pkg.orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES pkg.customers, ship_name text);
INSERT INTO pkg.customers VALUES (1, 'Ana'), (2, 'Bia');
INSERT INTO pkg.orders VALUES (10, 1, 'Ana'), (20, 2, 'Bia');
SELECT erasure.register_subject('customer', 'pkg.customers');
SELECT erasure.register_table('customer', 'pkg.orders');
SELECT erasure.set_policy('pkg.customers', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('pkg.orders', 'id', 'keep'), erasure.set_policy('pkg.orders', 'ship_name', 'null');
SELECT erasure.anonymize_customer(1) ->> 'status' AS status;
SELECT (SELECT name FROM pkg.customers WHERE id = 1) = 'Xxxx' AND (SELECT name FROM pkg.customers WHERE id = 2) = 'Bia'
       AND (SELECT ship_name FROM pkg.orders WHERE id = 10) IS NULL AS erased_as_registered;
DROP EXTENSION pg_erasure;
SELECT count(*) = 2 AS data_stays, (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'erasure\_%') = 2 AS roles_stay
  FROM pkg.customers;
DROP SCHEMA pkg CASCADE;
