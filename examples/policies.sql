-- The shop's erasure policy, as a migration would register it (every call is idempotent:
-- running this file twice changes nothing).

-- The data subject: a customer, identified by its primary key. The confirmation screen shows
-- the full name or company name, CPF or CNPJ, and e-mail (seed 000).
SELECT erasure.register_subject('customer', 'shop.customers',
       summary_columns => '{full_name,company_name,cpf,cnpj,email}');

-- Orders and their items stay (products, price, quantity, shipping and payment method), without
-- the person.
SELECT erasure.register_table('customer', 'shop.orders');
SELECT erasure.register_table('customer', 'shop.order_items', parent => 'shop.orders');
-- Invoices are kept unchanged: bookkeeping law wins over erasure.
SELECT erasure.register_table('customer', 'billing.invoices', 'retain',
       reason => 'bookkeeping law: invoices are kept unchanged');
-- Subscriptions are records of what was sold: kept, but none may be active (a blocker below).
SELECT erasure.register_table('customer', 'billing.subscriptions', 'retain',
       reason => 'contract history');
-- The history of e-mails sent is personal and serves nothing afterwards: deleted.
SELECT erasure.register_table('customer', 'shop.email_log', 'delete');

-- The customer's own row. Seed 000: everything personal becomes generic, except the state (UF).
SELECT erasure.set_policy('shop.customers', 'person_type', 'keep');      -- statistics, not a person
SELECT erasure.set_policy('shop.customers', 'full_name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('shop.customers', 'company_name', 'null');
SELECT erasure.set_policy('shop.customers', 'cpf', 'null');
SELECT erasure.set_policy('shop.customers', 'cnpj', 'null');
-- UNIQUE and NOT NULL: a placeholder, so the customer may register again with the same e-mail.
SELECT erasure.set_policy('shop.customers', 'email', 'placeholder', '{"template": "erased-{key}@invalid.example"}');
SELECT erasure.set_policy('shop.customers', 'phone', 'null');
SELECT erasure.set_policy('shop.customers', 'street', 'null');
SELECT erasure.set_policy('shop.customers', 'number', 'null');
SELECT erasure.set_policy('shop.customers', 'district', 'null');
SELECT erasure.set_policy('shop.customers', 'city', 'null');
SELECT erasure.set_policy('shop.customers', 'uf', 'keep');              -- kept for statistics (seed 000)
SELECT erasure.set_policy('shop.customers', 'postal_code', 'keep');     -- kept for statistics (seed 004)
SELECT erasure.set_policy('shop.customers', 'country', 'keep');         -- needed for accounting (seed 003)
SELECT erasure.set_policy('shop.customers', 'birth_date', 'year_only'); -- YYYY-01-01 (seed 004)
SELECT erasure.set_policy('shop.customers', 'marketing_opt_in', 'constant', '{"value": false}');
SELECT erasure.set_policy('shop.customers', 'latitude', 'constant', '{"value": 0}');
SELECT erasure.set_policy('shop.customers', 'longitude', 'constant', '{"value": 0}');
SELECT erasure.set_policy('shop.customers', 'profile', 'jsonb_remove', '{"keys": ["nickname", "address"]}');
-- The marker applications use to hide erased customers from listings and search.
SELECT erasure.set_policy('shop.customers', 'anonymized_at', 'now');

SELECT erasure.set_policy('shop.orders', 'id', 'keep');
SELECT erasure.set_policy('shop.orders', 'status', 'keep');
SELECT erasure.set_policy('shop.orders', 'shipping_name', 'constant', '{"value": "Unknown customer"}');
SELECT erasure.set_policy('shop.orders', 'shipping_street', 'null');
SELECT erasure.set_policy('shop.orders', 'shipping_city', 'null');
SELECT erasure.set_policy('shop.orders', 'shipping_uf', 'keep');
SELECT erasure.set_policy('shop.orders', 'payment_method', 'keep');
SELECT erasure.set_policy('shop.orders', 'total', 'keep');
SELECT erasure.set_policy('shop.orders', 'created_at', 'keep');
SELECT erasure.set_policy('shop.order_items', 'id', 'keep');
SELECT erasure.set_policy('shop.order_items', 'product', 'keep');
SELECT erasure.set_policy('shop.order_items', 'price', 'keep');
SELECT erasure.set_policy('shop.order_items', 'quantity', 'keep');

-- What forbids an erasure yet (seed 000): orders awaiting payment, active subscriptions.
SELECT erasure.register_blocker('customer', 'order_awaiting_payment',
  $$SELECT o.id, o.total, o.payment_method FROM shop.orders o
     WHERE o.customer_id = $1 AND o.status = 'awaiting_payment'$$,
  'an order is awaiting payment');
SELECT erasure.register_blocker('customer', 'active_subscription',
  $$SELECT s.id, s.plan FROM billing.subscriptions s WHERE s.customer_id = $1 AND s.status = 'active'$$,
  'a subscription is active');
