-- The residual scan: the customer's name in a free-text comment the erasure keeps and a phone
-- inside a jsonb document of a retained table are found, named by identifier, never printed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA res;
CREATE TABLE res.customers (id integer PRIMARY KEY, name text NOT NULL, phone text, uf text, notes text);
CREATE TABLE res.orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES res.customers, comment text, ship_to text);
CREATE TABLE res.invoices (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES res.customers, payload jsonb);
INSERT INTO res.customers VALUES (1, 'Anna Andersson', '070-1234567', 'SP', 'prefers e-mail'), (2, 'Bo Berg', '070-7654321', 'RJ', NULL);
INSERT INTO res.orders VALUES (10, 1, 'Deliver to ANNA ANDERSSON, ring twice', 'Rua A'),
                              (11, 1, 'Leave at the door', 'Rua B'),
                              (20, 2, 'Deliver to Anna Andersson (gift from Bo)', 'Rua C');   -- another customer's row
INSERT INTO res.invoices VALUES (100, 1, '{"contact": {"phone": "070-1234567"}, "total": 10}'), (101, 1, '{"total": 5}');
SELECT erasure.register_subject('res_customer', 'res.customers');
SELECT erasure.register_table('res_customer', 'res.orders');
SELECT erasure.register_table('res_customer', 'res.invoices', 'retain', reason => 'bookkeeping law');
SELECT erasure.set_policy('res.customers', 'name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('res.customers', 'phone', 'null');
SELECT erasure.set_policy('res.customers', 'uf', 'keep');
SELECT erasure.set_policy('res.customers', 'notes', 'keep');
SELECT erasure.set_policy('res.orders', 'id', 'keep');
SELECT erasure.set_policy('res.orders', 'ship_to', 'null');
-- res.orders.comment has no policy: the erasure would leave it, with the name inside.

SELECT * FROM erasure.residual_scan(1, 'res_customer');
-- The output names identifiers only: neither the name nor the phone appears in it.
SELECT count(*) AS values_printed FROM erasure.residual_scan(1, 'res_customer') r
 WHERE to_jsonb(r)::text ~* '(anna|070-1234567)';
-- The preview counts the hits.
SELECT erasure.erasure_preview(1, 'res_customer') -> 'residual_hits' AS residual_hits;
-- Once the comment is masked too, only the retained invoice still holds the phone.
SELECT erasure.set_policy('res.orders', 'comment', 'null');
SELECT * FROM erasure.residual_scan(1, 'res_customer');
SELECT * FROM erasure.residual_scan(99, 'res_customer');
-- Arrays of text are read too, as jsonb is: a kept list of gift-card names holding the name.
ALTER TABLE res.orders ADD COLUMN gift_names text[];
UPDATE res.orders SET gift_names = ARRAY['for anna andersson', 'from Bo'] WHERE id = 11;
SELECT erasure.set_policy('res.orders', 'gift_names', 'keep');
SELECT * FROM erasure.residual_scan(1, 'res_customer');
