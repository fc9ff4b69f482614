-- A shop on pg_erasure 0.1.0, set up with 0.1.0's API as its migrations and DBAs would
-- (scripts/upgrade.sh runs it before ALTER EXTENSION … UPDATE): a shop owner registers two
-- subjects, chained tables, a policy of each of 0.1.0's strategies, blockers and retention; a
-- data protection officer erases customers in each of 0.1.0's ways, releases expired invoices
-- and queues requests, some of which process_requests() erases and some it finds blocked.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION pg_erasure VERSION '0.1.0';
RESET client_min_messages;
-- 0.1.0 read the hmac strategy's key from this setting (0.2.0 from a table: the upgrade moves it).
ALTER DATABASE upgraded SET erasure.hmac_key = 'the shop''s hmac secret, 0.1.0';
\c

CREATE ROLE shop_owner NOLOGIN;
CREATE ROLE dpo NOLOGIN;
GRANT erasure_admin TO shop_owner;
GRANT erasure_operator TO dpo;
CREATE SCHEMA shop AUTHORIZATION shop_owner;

SET ROLE shop_owner;
CREATE TABLE shop.customers (
    id bigint PRIMARY KEY, kind text NOT NULL, full_name text NOT NULL, company_name text,
    email text UNIQUE NOT NULL, phone text, city text, birth_date date, marketing_opt_in boolean NOT NULL,
    profile jsonb, login text NOT NULL, device_id text, anonymized_at timestamptz);
CREATE TABLE shop.addresses (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES shop.customers,
                             street text NOT NULL, city text NOT NULL);
CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES shop.customers,
                          status text NOT NULL, ship_name text, guest_email text);
CREATE TABLE shop.order_items (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES shop.orders,
                               product text NOT NULL, gift_message text);
CREATE TABLE shop.invoices (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES shop.customers,
                            issued_on date NOT NULL, billed_name text NOT NULL, total numeric NOT NULL, paid boolean NOT NULL);
CREATE TABLE shop.sessions (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES shop.customers, ip inet);
CREATE TABLE shop.comments (id bigint PRIMARY KEY, owner_type text NOT NULL, owner_id bigint NOT NULL, body text);
CREATE TABLE shop.holds (customer_id bigint NOT NULL REFERENCES shop.customers, until timestamptz NOT NULL);
CREATE TABLE shop.subscribers (email text PRIMARY KEY, name text NOT NULL, subscribed_on date NOT NULL);
CREATE TABLE shop.deliveries (id bigint PRIMARY KEY, email text NOT NULL REFERENCES shop.subscribers, sent_at timestamptz NOT NULL);

INSERT INTO shop.customers
SELECT i, CASE WHEN i % 3 = 0 THEN 'company' ELSE 'individual' END, 'Customer ' || i,
       CASE WHEN i % 3 = 0 THEN 'Company ' || i || ' AB' END, 'c' || i || '@example.com', '070-' || (1000000 + i),
       'São Paulo', date '1980-01-01' + i * 97, i % 2 = 0,
       jsonb_build_object('nickname', 'nick' || i, 'address', jsonb_build_object('street', 'Rua ' || i, 'city', 'SP'), 'lang', 'pt'),
       'login' || i, 'device-' || i, NULL
  FROM generate_series(1, 12) AS i;
INSERT INTO shop.addresses SELECT i, i, 'Rua ' || i, 'São Paulo' FROM generate_series(1, 12) AS i;
INSERT INTO shop.orders SELECT 10 * i, i, 'delivered', 'Customer ' || i, NULL FROM generate_series(1, 12) AS i;
INSERT INTO shop.order_items SELECT 10 * i + 1, 10 * i, 'book', 'for customer ' || i FROM generate_series(1, 12) AS i;
INSERT INTO shop.invoices
SELECT 100 + i, i, current_date - CASE WHEN i = 1 THEN interval '6 years' ELSE interval '1 year' END,
       'Customer ' || i, 10 * i, i <> 7
  FROM generate_series(1, 12) AS i;
INSERT INTO shop.sessions SELECT i, i, ('10.0.0.' || i)::inet FROM generate_series(1, 12) AS i;
INSERT INTO shop.comments SELECT i, 'customer', i, 'note about customer ' || i FROM generate_series(1, 12) AS i;
INSERT INTO shop.comments VALUES (100, 'supplier', 1, 'a supplier note, not customer 1''s');
INSERT INTO shop.holds VALUES (8, now() + interval '30 days');
INSERT INTO shop.subscribers VALUES ('ana@example.com', 'Ana', '2025-01-01'), ('bia@example.com', 'Bia', '2025-02-01'),
                                    ('caio@example.com', 'Caio', '2025-03-01'), ('dan@example.com', 'Dan', '2025-04-01');
INSERT INTO shop.deliveries VALUES (1, 'ana@example.com', '2025-03-01'), (2, 'bia@example.com', '2025-03-01'),
                                   (3, 'caio@example.com', '2025-04-01');

-- The catalog, with 0.1.0's signatures.
SELECT erasure.register_subject('customer', 'shop.customers', summary_columns => '{kind, city}');
SELECT erasure.register_table('customer', 'shop.addresses');
SELECT erasure.register_table('customer', 'shop.orders');
SELECT erasure.register_table('customer', 'shop.order_items', parent => 'shop.orders');
SELECT erasure.register_table('customer', 'shop.invoices', 'retain', reason => 'bookkeeping law: 5 years',
                              retain_for => '5 years', retain_from => 'issued_on');
SELECT erasure.register_table('customer', 'shop.sessions', 'delete');
SELECT erasure.register_table('customer', 'shop.comments', via => '{owner_id}', filter => $$owner_type = 'customer'$$);
SELECT erasure.register_table('customer', 'shop.holds', 'delete');
SELECT erasure.set_policy('shop.customers', 'kind', 'keep');
SELECT erasure.set_policy('shop.customers', 'full_name', 'expression', '{"sql": "coalesce(company_name, ''Xxxx'')"}');
SELECT erasure.set_policy('shop.customers', 'company_name', 'null');
SELECT erasure.set_policy('shop.customers', 'email', 'placeholder', '{"template": "erased-{key}@invalid.example"}');
SELECT erasure.set_policy('shop.customers', 'phone', 'blank');
SELECT erasure.set_policy('shop.customers', 'city', 'keep');
SELECT erasure.set_policy('shop.customers', 'birth_date', 'year_only');
SELECT erasure.set_policy('shop.customers', 'marketing_opt_in', 'constant', '{"value": false}');
SELECT erasure.set_policy('shop.customers', 'profile', 'jsonb_remove', '{"keys": ["nickname", "address.street"]}');
SELECT erasure.set_policy('shop.customers', 'login', 'hmac');
SELECT erasure.set_policy('shop.customers', 'device_id', 'placeholder', '{"template": "device-{uuid}"}');
SELECT erasure.set_policy('shop.customers', 'anonymized_at', 'now');
SELECT erasure.set_policy('shop.addresses', 'street', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('shop.addresses', 'city', 'keep');
SELECT erasure.set_policy('shop.orders', 'status', 'keep');
SELECT erasure.set_policy('shop.orders', 'ship_name', 'constant', '{"value": "Unknown customer"}');
SELECT erasure.set_policy('shop.orders', 'guest_email', 'null');
SELECT erasure.set_policy('shop.order_items', 'gift_message', 'blank');
SELECT erasure.set_policy('shop.invoices', 'billed_name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('shop.comments', 'body', 'constant', '{"value": "Xxxx"}');
SELECT erasure.register_blocker('customer', 'unpaid_invoice',
    $$SELECT i.id FROM shop.invoices i WHERE i.customer_id = $1 AND NOT i.paid$$,
    'the customer has an unpaid invoice');
SELECT erasure.register_blocker('customer', 'legal_hold',
    $$SELECT h.until FROM shop.holds h WHERE h.customer_id = $1 AND h.until > now()$$);
-- A second subject, keyed by text.
SELECT erasure.register_subject('subscriber', 'shop.subscribers');
SELECT erasure.register_table('subscriber', 'shop.deliveries', 'delete');
SELECT erasure.set_policy('shop.subscribers', 'name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('shop.subscribers', 'subscribed_on', 'year_only');
RESET ROLE;

-- Erasures, by the data protection officer, in each of 0.1.0's ways.
SET ROLE dpo;
SELECT erasure.anonymize('customer', 1, reference => 'TICKET-1') ->> 'status' AS customer_1;
SELECT erasure.anonymize_customer(2) ->> 'status' AS customer_2;
SELECT erasure.anonymize('customer', '3'::text, 'auto') ->> 'status' AS customer_3;
SELECT key, status FROM erasure.anonymize_customers(ARRAY[4, 5]) ORDER BY key;
-- 0.1.0's erase_batches runs the caller's own candidate query: the shop owner's.
SET ROLE shop_owner;
CALL erasure.erase_batches('customer', 'SELECT id FROM shop.customers WHERE id = 6', batch_size => 1);
SET ROLE dpo;
SELECT erasure.anonymize('subscriber', 'ana@example.com'::text) ->> 'status' AS subscriber_ana;
SELECT erasure.anonymize('subscriber', 'caio@example.com'::text, 'delete') ->> 'status' AS subscriber_caio;
-- Customer 1's invoice is six years old: its retention is over.
SELECT * FROM erasure.release_expired();
-- Requests: 9 and 10 go through, 7 (unpaid) and 8 (held) are blocked; 11, 12 and dan's stay queued.
SELECT erasure.request('customer', 7, 'TICKET-7') IS NOT NULL AS queued_7,
       erasure.request('customer', 8) IS NOT NULL AS queued_8,
       erasure.request('customer', 9) IS NOT NULL AS queued_9,
       erasure.request('customer', '10') IS NOT NULL AS queued_10;
SELECT request_id, status FROM erasure.process_requests() ORDER BY request_id;
SELECT erasure.request('customer', 11) IS NOT NULL AS queued_11, erasure.request('customer', 12, 'TICKET-12') IS NOT NULL AS queued_12;
-- Dan asks too, then closes his account: the application deletes his row before the request is
-- processed (0.1.0's process_requests() would have failed on it; 0.2.0's closes it as not_found).
SELECT erasure.request('subscriber', 'dan@example.com'::text) IS NOT NULL AS queued_dan;
SET ROLE shop_owner;
DELETE FROM shop.subscribers WHERE email = 'dan@example.com';
SET ROLE dpo;
SELECT key, status, blockers FROM erasure.requests ORDER BY id;
RESET ROLE;

-- What the upgrade must take back: 0.1.0's registration granted its executor role the shop's tables.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_class c, aclexplode(c.relacl) a
                    WHERE c.oid = 'shop.customers'::regclass AND a.grantee = 'erasure_executor'::regrole AND a.privilege_type = 'UPDATE') THEN
        RAISE EXCEPTION 'upgrade test: 0.1.0 did not grant erasure_executor UPDATE on shop.customers';
    END IF;
END
$$;
