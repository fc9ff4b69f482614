-- Rows of others that reference the subject: a customer naming another as its referrer
-- (a foreign key of the subject's table onto itself), a review in a table nobody registered.
-- Deleting would fail on their foreign keys. For the referrer, mode delete refuses (55000,
-- naming them, nothing changed) and mode auto anonymizes, alone and in a batch, as the preview
-- says. For the unregistered table, the erasure fails with 23503 naming it and the way out.
-- A key that cascades, or a row referencing only its own subject, does not stand in the way.
SET client_min_messages = warning;  -- whether another suite created it first does not matter
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA refs;
CREATE TABLE refs.customers (id integer PRIMARY KEY, name text NOT NULL, referred_by integer REFERENCES refs.customers);
CREATE TABLE refs.logins (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES refs.customers, ip text);
-- Not registered: reviews stay; wishlists go with their customer.
CREATE TABLE refs.reviews (id integer PRIMARY KEY, customer_id integer REFERENCES refs.customers, body text);
CREATE TABLE refs.wishlists (id integer PRIMARY KEY, customer_id integer REFERENCES refs.customers ON DELETE CASCADE);
-- 1 referred 2 and 6, 7 referred 8; 3 wrote a review; 4 has logins and a wishlist; 5 names itself.
INSERT INTO refs.customers VALUES (1, 'Ana', NULL), (2, 'Bia', 1), (3, 'Caio', NULL), (4, 'Duda', NULL),
                                  (5, 'Eva', NULL), (6, 'Fabio', 1), (7, 'Gil', NULL), (8, 'Hugo', 7);
UPDATE refs.customers SET referred_by = 5 WHERE id = 5;
INSERT INTO refs.logins VALUES (10, 1, '10.0.0.1'), (20, 2, '10.0.0.2'), (30, 3, '10.0.0.3'), (40, 4, '10.0.0.4');
INSERT INTO refs.reviews VALUES (100, 3, 'Great shop');
INSERT INTO refs.wishlists VALUES (400, 4);
SELECT erasure.register_subject('ref_customer', 'refs.customers');
SELECT erasure.register_table('ref_customer', 'refs.logins', 'delete');
SELECT erasure.set_policy('refs.customers', 'name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('refs.customers', 'referred_by', 'null');

CREATE TEMP TABLE before AS SELECT c.*, c.xmin::text AS x FROM refs.customers c;
\set VERBOSITY default
SELECT erasure.anonymize('ref_customer', 1, 'delete');
SELECT erasure.anonymize('ref_customer', 3, 'delete');
SELECT erasure.anonymize('ref_customer', 3, 'auto');
\set VERBOSITY terse
SELECT count(*) AS changed FROM before b JOIN refs.customers c USING (id) WHERE c.xmin::text <> b.x;
SELECT tbl, problem FROM erasure.check('ref_customer') WHERE tbl = 'refs.reviews'::regclass;

SELECT erasure.erasure_preview(1, 'ref_customer') ->> 'decision' AS preview_of_1;
SELECT r ->> 'status' AS status, r ->> 'decision_reason' AS reason FROM erasure.anonymize('ref_customer', 1, 'auto') AS r;
SELECT key, status, report ->> 'decision_reason' AS reason
  FROM erasure.anonymize_many('ref_customer', ARRAY[2, 4, 5, 7], 'auto') ORDER BY key;
-- 6 and 8 still name their referrers 1 and 7, now masked; 2, 4 and 5 are gone, 4's wishlist
-- with it; the review stays.
SELECT id, name, referred_by FROM refs.customers ORDER BY id;
SELECT (SELECT count(*) FROM refs.reviews) AS reviews, (SELECT count(*) FROM refs.wishlists) AS wishlists,
       (SELECT array_agg(customer_id ORDER BY id) FROM refs.logins) AS logins_of;
