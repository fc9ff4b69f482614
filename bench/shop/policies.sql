-- The benchmark shop's erasure policy, registered with pg_erasure's API as a migration would.
-- bench/shop/baseline.sql does the same work by hand: change one, change the other.

SELECT erasure.register_subject('customer', 'bench.customers',
       summary_columns => '{full_name,tax_id,email}');

-- Registered outwards, parents first: orders before their items and payments.
SELECT erasure.register_table('customer', 'bench.addresses');
SELECT erasure.register_table('customer', 'bench.orders');
SELECT erasure.register_table('customer', 'bench.order_items', parent => 'bench.orders');
SELECT erasure.register_table('customer', 'bench.payments', parent => 'bench.orders');
SELECT erasure.register_table('customer', 'bench.appointments');
SELECT erasure.register_table('customer', 'bench.support_tickets');
SELECT erasure.register_table('customer', 'bench.invoices', 'retain',
       reason => 'bookkeeping law: invoices are kept unchanged');
SELECT erasure.register_table('customer', 'bench.subscriptions', 'retain',
       reason => 'contract history');
-- Logs serve nothing once the customer is gone.
SELECT erasure.register_table('customer', 'bench.email_log', 'delete');
SELECT erasure.register_table('customer', 'bench.activity_log', 'delete');
SELECT erasure.register_table('customer', 'bench.webhook_log', 'delete');

-- The customer: everything personal becomes generic; state, postal code, country and the
-- year of birth stay for statistics.
SELECT erasure.set_policy('bench.customers', 'full_name', 'constant', '{"value": "Xxxx"}');
-- UNIQUE: a placeholder per customer, so the person may register again with the same e-mail.
SELECT erasure.set_policy('bench.customers', 'email', 'placeholder', '{"template": "erased-{key}@invalid.example"}');
SELECT erasure.set_policy('bench.customers', 'phone', 'null');
SELECT erasure.set_policy('bench.customers', 'birth_date', 'year_only');
SELECT erasure.set_policy('bench.customers', 'tax_id', 'null');
SELECT erasure.set_policy('bench.customers', 'street', 'null');
SELECT erasure.set_policy('bench.customers', 'street_number', 'null');
SELECT erasure.set_policy('bench.customers', 'city', 'null');
SELECT erasure.set_policy('bench.customers', 'state', 'keep');
SELECT erasure.set_policy('bench.customers', 'postal_code', 'keep');
SELECT erasure.set_policy('bench.customers', 'country', 'keep');
SELECT erasure.set_policy('bench.customers', 'marketing_opt_in', 'constant', '{"value": false}');
SELECT erasure.set_policy('bench.customers', 'created_at', 'keep');
SELECT erasure.set_policy('bench.customers', 'anonymized_at', 'now');

SELECT erasure.set_policy('bench.addresses', 'id', 'keep');
SELECT erasure.set_policy('bench.addresses', 'label', 'keep');
SELECT erasure.set_policy('bench.addresses', 'recipient_name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('bench.addresses', 'street', 'null');
SELECT erasure.set_policy('bench.addresses', 'street_number', 'null');
SELECT erasure.set_policy('bench.addresses', 'city', 'null');
SELECT erasure.set_policy('bench.addresses', 'state', 'keep');
SELECT erasure.set_policy('bench.addresses', 'postal_code', 'keep');
SELECT erasure.set_policy('bench.addresses', 'country', 'keep');

-- Orders stay (what was sold, when, for how much), without the person.
SELECT erasure.set_policy('bench.orders', 'id', 'keep');
SELECT erasure.set_policy('bench.orders', 'status', 'keep');
SELECT erasure.set_policy('bench.orders', 'shipping_name', 'constant', '{"value": "Unknown customer"}');
SELECT erasure.set_policy('bench.orders', 'shipping_street', 'null');
SELECT erasure.set_policy('bench.orders', 'shipping_city', 'null');
SELECT erasure.set_policy('bench.orders', 'shipping_postal_code', 'keep');
SELECT erasure.set_policy('bench.orders', 'shipping_phone', 'null');
SELECT erasure.set_policy('bench.orders', 'notes', 'null');
SELECT erasure.set_policy('bench.orders', 'total', 'keep');
SELECT erasure.set_policy('bench.orders', 'created_at', 'keep');

SELECT erasure.set_policy('bench.order_items', 'id', 'keep');
SELECT erasure.set_policy('bench.order_items', 'product', 'keep');
SELECT erasure.set_policy('bench.order_items', 'unit_price', 'keep');
SELECT erasure.set_policy('bench.order_items', 'quantity', 'keep');
SELECT erasure.set_policy('bench.order_items', 'gift_message', 'null');

SELECT erasure.set_policy('bench.payments', 'id', 'keep');
SELECT erasure.set_policy('bench.payments', 'method', 'keep');
SELECT erasure.set_policy('bench.payments', 'card_holder', 'null');
SELECT erasure.set_policy('bench.payments', 'card_last4', 'null');
SELECT erasure.set_policy('bench.payments', 'amount', 'keep');
SELECT erasure.set_policy('bench.payments', 'paid_at', 'keep');

SELECT erasure.set_policy('bench.appointments', 'id', 'keep');
SELECT erasure.set_policy('bench.appointments', 'starts_at', 'keep');
SELECT erasure.set_policy('bench.appointments', 'service', 'keep');
SELECT erasure.set_policy('bench.appointments', 'notes', 'null');

-- Free text quotes the customer's name and phone: replaced whole.
SELECT erasure.set_policy('bench.support_tickets', 'id', 'keep');
SELECT erasure.set_policy('bench.support_tickets', 'subject', 'keep');
SELECT erasure.set_policy('bench.support_tickets', 'body', 'constant', '{"value": "[erased]"}');
SELECT erasure.set_policy('bench.support_tickets', 'status', 'keep');
SELECT erasure.set_policy('bench.support_tickets', 'created_at', 'keep');

SELECT erasure.register_blocker('customer', 'order_awaiting_payment',
  $$SELECT o.id, o.total FROM bench.orders o WHERE o.customer_id = $1 AND o.status = 'awaiting_payment'$$,
  'an order is awaiting payment');
SELECT erasure.register_blocker('customer', 'active_subscription',
  $$SELECT s.id, s.plan FROM bench.subscriptions s WHERE s.customer_id = $1 AND s.status = 'active'$$,
  'a subscription is active');
