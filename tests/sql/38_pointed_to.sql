-- Rows the subject points to (customer.address_id → address, as in the DVD-rental sample):
-- registered with referenced_by, masked with the subject's erasure, alone and in a batch, but
-- never while someone else points to the same row — another customer, a staff member, a store.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA ptr;
CREATE TABLE ptr.address (address_id integer PRIMARY KEY, street text NOT NULL, phone text, postal_code text);
CREATE TABLE ptr.customer (customer_id integer PRIMARY KEY, name text NOT NULL,
                           address_id integer NOT NULL REFERENCES ptr.address, billing_id integer);
-- No foreign key: the billing row is named by a column holding its primary key.
CREATE TABLE ptr.billing (billing_id integer PRIMARY KEY, iban text NOT NULL);
CREATE INDEX ON ptr.customer (address_id);
CREATE TABLE ptr.staff (staff_id integer PRIMARY KEY, name text NOT NULL, address_id integer REFERENCES ptr.address);
CREATE TABLE ptr.store (store_id integer PRIMARY KEY, address_id integer NOT NULL REFERENCES ptr.address);
INSERT INTO ptr.address VALUES (1, 'Rua A 1', '555-0101', '01001'), (2, 'Rua B 2', '555-0202', '02002'),
  (3, 'Av. Loja 3', '555-0303', '03003'), (4, 'Rua D 4', '555-0404', '04004'), (5, 'Rua F 5', '555-0505', '05005'),
  (6, 'Rua G 6', '555-0606', '06006'), (7, 'Rua H 7', '555-0707', '07007');
-- Ana alone at 1; Bia and Caio share 2; Edu lives at the store's address 3; Dani shares 4 with
-- a staff member; Fabi alone at 5; Gil alone at 6; Hana and Ivo share 7.
INSERT INTO ptr.customer VALUES (1, 'Ana', 1, 10), (2, 'Bia', 2, NULL), (3, 'Caio', 2, NULL), (4, 'Dani', 4, NULL),
                                (5, 'Edu', 3, NULL), (6, 'Fabi', 5, NULL), (7, 'Gil', 6, NULL), (8, 'Hana', 7, NULL),
                                (9, 'Ivo', 7, NULL);
INSERT INTO ptr.billing VALUES (10, 'BR15 0000 0000 0000 1093 2840 814P2');
INSERT INTO ptr.staff VALUES (1, 'Sam', 4);
INSERT INTO ptr.store VALUES (1, 3);
SELECT erasure.register_subject('patron', 'ptr.customer');
SELECT erasure.set_policy('ptr.customer', 'name', 'constant', '{"value": "Anonymous"}');

-- The link points the other way: the hint says how to register it.
\set VERBOSITY default
SELECT erasure.register_table('patron', 'ptr.address');
-- Refused: both directions at once, deleting what the masked subject still points to, and
-- the subject's own key named as if it held an address.
SELECT erasure.register_table('patron', 'ptr.address', via => '{address_id}', referenced_by => '{address_id}');
SELECT erasure.register_table('patron', 'ptr.address', 'delete', referenced_by => '{address_id}');
SELECT erasure.register_table('patron', 'ptr.address', referenced_by => '{customer_id}');
SELECT count(*) AS registered FROM erasure.tables WHERE subject = 'patron';
SELECT erasure.register_table('patron', 'ptr.address', referenced_by => '{address_id}');
SELECT erasure.set_policy('ptr.address', 'street', 'constant', '{"value": "erased"}'),
       erasure.set_policy('ptr.address', 'phone', 'null'),
       erasure.set_policy('ptr.address', 'postal_code', 'keep');
SELECT erasure.register_table('patron', 'ptr.billing', referenced_by => '{billing_id}');
SELECT erasure.set_policy('ptr.billing', 'iban', 'constant', '{"value": "erased"}');
SELECT tbl, via, parent_columns, referenced FROM erasure.tables WHERE subject = 'patron' ORDER BY tbl::text;
-- staff and store point to addresses but are not the customer's data: only information about
-- them. The billing link has no foreign key: a warning with the one that would back it.
SELECT severity, tbl, col, problem, hint FROM erasure.check('patron') WHERE tbl::text LIKE 'ptr.%' ORDER BY tbl::text;

-- Ana's own address is masked; Bia's, shared with Caio, stays; so do Edu's (the store's) and
-- Dani's (a staff member's).
SELECT r -> 'tables' AS tables FROM erasure.anonymize('patron', 1) AS r;
SELECT r -> 'tables' -> 1 AS address FROM erasure.anonymize('patron', 2) AS r;
SELECT key, r.report -> 'tables' -> 1 AS address FROM erasure.anonymize_many('patron', ARRAY[4, 5]) AS r ORDER BY key;
SELECT * FROM ptr.address ORDER BY address_id;
SELECT iban FROM ptr.billing;
-- Bia's row, anonymized, still points to 2: erasing Caio later keeps it too (shared). People
-- sharing a row are erased together to free it: a batch of Hana and Ivo masks 7, once.
SELECT key, r.report -> 'tables' -> 1 AS address FROM erasure.anonymize_many('patron', ARRAY[3, 7, 8, 9]) AS r ORDER BY key;
SELECT address_id, street, phone FROM ptr.address WHERE address_id IN (2, 6, 7) ORDER BY address_id;
-- Mode delete takes Fabi's own address with her row.
SELECT erasure.anonymize('patron', 6, 'delete') -> 'tables' AS tables;
SELECT count(*) AS fabi_address_left FROM ptr.address WHERE address_id = 5;
