-- An erasure must see every row committed before it locked the subject, so it refuses a
-- transaction snapshot (REPEATABLE READ, SERIALIZABLE) before it reads anything; previews and
-- blocker lists stay allowed. (pgrx-tests/ plays the race with two sessions.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA iso;
CREATE TABLE iso.customers (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE iso.orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES iso.customers, ship_name text);
INSERT INTO iso.customers VALUES (1, 'Ana'), (2, 'Bia');
INSERT INTO iso.orders VALUES (10, 1, 'Ana'), (20, 2, 'Bia');
SELECT erasure.register_subject('iso_customer', 'iso.customers');
SELECT erasure.register_table('iso_customer', 'iso.orders');
SELECT erasure.set_policy('iso.customers', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('iso.orders', 'ship_name', 'null');

BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT erasure.erasure_preview(1, 'iso_customer') ->> 'decision' AS preview_decision;
SELECT count(*) AS blockers FROM erasure.erasure_blockers(1, 'iso_customer');
SELECT erasure.anonymize('iso_customer', 1);
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT * FROM erasure.anonymize_many('iso_customer', ARRAY[1, 2]);
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT * FROM erasure.release_expired('iso_customer');
ROLLBACK;
-- Nothing was erased; in READ COMMITTED it works.
SELECT count(*) AS ledger_rows FROM erasure.ledger WHERE subject = 'iso_customer';
SELECT erasure.anonymize('iso_customer', 1) ->> 'status' AS status;
SELECT * FROM iso.customers ORDER BY id;

DROP SCHEMA iso CASCADE;
DELETE FROM erasure.ledger WHERE subject = 'iso_customer';
