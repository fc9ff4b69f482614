-- Masking: the effect of every strategy, chains of tables, a polymorphic link, a filter-only
-- table found through a value the erasure masks, and the report.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA mask;
CREATE TABLE mask.customers (
  id bigint PRIMARY KEY, kind text NOT NULL, full_name text NOT NULL, company_name text, cpf text,
  email text UNIQUE NOT NULL, phone text, uf text, birth_date date, last_login timestamptz,
  marketing_opt_in boolean NOT NULL, latitude numeric, profile jsonb, anonymized_at timestamptz, login text NOT NULL,
  device_id text);
CREATE TABLE mask.orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES mask.customers, status text NOT NULL,
                          ship_name text, guest_email text);
CREATE TABLE mask.order_items (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES mask.orders, product text NOT NULL, gift_message text);
CREATE TABLE mask.comments (id bigint PRIMARY KEY, owner_type text NOT NULL, owner_id bigint NOT NULL, body text);
INSERT INTO mask.customers VALUES
  (1, 'company', 'Anna Andersson', 'Andersson AB', '123.456.789-09', 'anna@example.com', '070-1234567', 'SP',
   '1984-07-14', '2026-03-05 10:20:30+00', true, -23.55, '{"nickname": "ann", "address": {"street": "Rua A 1", "city": "São Paulo"}, "lang": "pt"}',
   NULL, 'anna', 'dev-1'),
  (2, 'individual', 'Bruno Borges', NULL, '987.654.321-00', 'bruno@example.com', NULL, 'RJ',
   '1990-12-31', NULL, true, -22.90, '{"nickname": "bb"}', NULL, 'bruno', NULL);
INSERT INTO mask.orders VALUES (10, 1, 'delivered', 'Anna Andersson', NULL),
                               (11, NULL, 'delivered', 'Guest', 'anna@example.com'),   -- a guest order placed with Anna's e-mail
                               (20, 2, 'delivered', 'Bruno Borges', NULL);
INSERT INTO mask.order_items VALUES (100, 10, 'book', 'Happy birthday Anna'), (101, 11, 'pen', 'for Anna'), (200, 20, 'mug', 'Bruno');
INSERT INTO mask.comments VALUES (1, 'customer', 1, 'Calls in the morning'), (2, 'supplier', 1, 'Supplier note, not Anna'),
                                 (3, 'customer', 2, 'Bruno likes mugs');

SELECT erasure.register_subject('mcustomer', 'mask.customers');
-- Orders are found by the customer id or, for guest orders, by the customer's e-mail, which the
-- erasure itself masks: every change is one statement that sees the data as it was.
SELECT erasure.register_table('mcustomer', 'mask.orders', via => '{}',
  filter => 'customer_id = $1 OR guest_email = (SELECT c.email FROM mask.customers c WHERE c.id = $1)');
SELECT erasure.register_table('mcustomer', 'mask.order_items', parent => 'mask.orders');
SELECT erasure.register_table('mcustomer', 'mask.comments', via => '{owner_id}', filter => $$owner_type = 'customer'$$);
SELECT erasure.set_policy('mask.customers', 'kind', 'keep');
SELECT erasure.set_policy('mask.customers', 'full_name', 'expression', '{"sql": "coalesce(company_name, ''Xxxx'')"}');
SELECT erasure.set_policy('mask.customers', 'company_name', 'null');
SELECT erasure.set_policy('mask.customers', 'cpf', 'null');
SELECT erasure.set_policy('mask.customers', 'email', 'placeholder', '{"template": "erased-{key}@invalid.example"}');
SELECT erasure.set_policy('mask.customers', 'phone', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('mask.customers', 'uf', 'keep');
SELECT erasure.set_policy('mask.customers', 'birth_date', 'year_only');
SELECT erasure.set_policy('mask.customers', 'last_login', 'year_only');
SELECT erasure.set_policy('mask.customers', 'marketing_opt_in', 'constant', '{"value": false}');
SELECT erasure.set_policy('mask.customers', 'latitude', 'constant', '{"value": 0}');
SELECT erasure.set_policy('mask.customers', 'profile', 'jsonb_remove', '{"keys": ["nickname", "address.street"]}');
SELECT erasure.set_policy('mask.customers', 'anonymized_at', 'now');
-- The hmac strategy needs the key, which a superuser sets once for the database.
SELECT erasure.set_policy('mask.customers', 'login', 'hmac');
SELECT erasure.set_hmac_key('a secret of this test');
SELECT erasure.set_policy('mask.customers', 'login', 'hmac');
SELECT erasure.set_policy('mask.customers', 'device_id', 'placeholder', '{"template": "device-{uuid}"}');
SELECT erasure.set_policy('mask.orders', 'ship_name', 'constant', '{"value": "Unknown customer"}');
SELECT erasure.set_policy('mask.orders', 'guest_email', 'null');
SELECT erasure.set_policy('mask.orders', 'status', 'keep');
SELECT erasure.set_policy('mask.order_items', 'gift_message', 'blank');
SELECT erasure.set_policy('mask.comments', 'body', 'constant', '{"value": "Xxxx"}');

BEGIN;
SELECT jsonb_pretty(erasure.anonymize('mcustomer', 1) - 'request_id');
SELECT anonymized_at = now() AS marked_with_the_erasure_time FROM mask.customers WHERE id = 1;
COMMIT;
SELECT id, kind, full_name, company_name, cpf, email, phone, uf, birth_date, last_login, marketing_opt_in, latitude, profile
  FROM mask.customers ORDER BY id;
-- The HMAC-SHA-256 of 'anna' under the key, computed outside PostgreSQL (Python's hmac module):
-- the hmac strategy checked independently, on every major (no pgcrypto needed).
SELECT login = 'c13e8ef74cb5fa736afdca796d4f6f8389aeca355f8528153bdb12e0ce27bfbe' AS hmac_of_the_old_value,
       device_id ~ '^device-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' AS fresh_uuid
  FROM mask.customers WHERE id = 1;
SELECT * FROM mask.orders ORDER BY id;
SELECT * FROM mask.order_items ORDER BY id;
SELECT * FROM mask.comments ORDER BY id;

-- A masked table whose policies are all keep is not written: the report says kept, with its count.
CREATE TABLE mask.prefs (id int PRIMARY KEY, customer_id bigint REFERENCES mask.customers, theme text);
INSERT INTO mask.prefs VALUES (1, 2, 'dark'), (2, 2, 'large');
SELECT erasure.register_table('mcustomer', 'mask.prefs');
SELECT erasure.set_policy('mask.prefs', 'theme', 'keep');
CREATE TEMP TABLE prefs_before AS SELECT id, xmin::text AS x FROM mask.prefs;
SELECT t AS prefs_line FROM jsonb_array_elements(erasure.anonymize('mcustomer', 2) -> 'tables') t
 WHERE t ->> 'table' = 'mask.prefs';
SELECT count(*) AS prefs_rewritten FROM mask.prefs p JOIN prefs_before b USING (id) WHERE p.xmin::text <> b.x;
