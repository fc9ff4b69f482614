-- The ERP shape's erasure policy (seed 004's list of what is anonymized), registered with
-- pg_erasure's API as a migration would. bench/erp/baseline.sql does the same work by hand.

SELECT erasure.register_subject('customer', 'bench.customers', summary_columns => '{customer_name}');

SELECT erasure.register_table('customer', 'bench.branches');
SELECT erasure.register_table('customer', 'bench.orders');
SELECT erasure.register_table('customer', 'bench.order_rows', parent => 'bench.orders');
SELECT erasure.register_table('customer', 'bench.tickets');
SELECT erasure.register_table('customer', 'bench.invoices', 'retain',
       reason => 'bookkeeping law: invoices stay as issued, with the customer''s details');
SELECT erasure.register_table('customer', 'bench.credit_checks', 'delete');

-- "Xxxx" for names, the field cleared for the rest; the birth date keeps its year (for CRM
-- searches by age), the country stays for statistics.
SELECT erasure.set_policy('bench.customers', 'first_name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('bench.customers', 'last_name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('bench.customers', 'customer_name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('bench.customers', 'org_number', 'null');
SELECT erasure.set_policy('bench.customers', 'vat_number', 'null');
SELECT erasure.set_policy('bench.customers', 'email_opt_in', 'constant', '{"value": false}');
SELECT erasure.set_policy('bench.customers', 'post_opt_in', 'constant', '{"value": false}');
SELECT erasure.set_policy('bench.customers', 'contact_person', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('bench.customers', 'phone', 'null');
SELECT erasure.set_policy('bench.customers', 'mobile', 'null');
SELECT erasure.set_policy('bench.customers', 'email', 'null');
SELECT erasure.set_policy('bench.customers', 'website', 'null');
SELECT erasure.set_policy('bench.customers', 'birth_date', 'year_only');
SELECT erasure.set_policy('bench.customers', 'country', 'keep');
SELECT erasure.set_policy('bench.customers', 'created_at', 'keep');
SELECT erasure.set_policy('bench.customers', 'anonymized_at', 'now');

SELECT erasure.set_policy('bench.branches', 'id', 'keep');
SELECT erasure.set_policy('bench.branches', 'kind', 'keep');
SELECT erasure.set_policy('bench.branches', 'company_name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('bench.branches', 'attention', 'null');
SELECT erasure.set_policy('bench.branches', 'address1', 'null');
SELECT erasure.set_policy('bench.branches', 'address2', 'null');
SELECT erasure.set_policy('bench.branches', 'city', 'null');
SELECT erasure.set_policy('bench.branches', 'postal_code', 'keep');
SELECT erasure.set_policy('bench.branches', 'country', 'keep');
-- The map position becomes 0.000000, 0.000000: no position is shown.
SELECT erasure.set_policy('bench.branches', 'latitude', 'constant', '{"value": 0}');
SELECT erasure.set_policy('bench.branches', 'longitude', 'constant', '{"value": 0}');

SELECT erasure.set_policy('bench.orders', 'id', 'keep');
SELECT erasure.set_policy('bench.orders', 'status', 'keep');
SELECT erasure.set_policy('bench.orders', 'our_reference', 'null');
SELECT erasure.set_policy('bench.orders', 'delivery_address', 'null');
SELECT erasure.set_policy('bench.orders', 'total', 'keep');
SELECT erasure.set_policy('bench.orders', 'ordered_at', 'keep');

SELECT erasure.set_policy('bench.order_rows', 'id', 'keep');
SELECT erasure.set_policy('bench.order_rows', 'article', 'keep');
SELECT erasure.set_policy('bench.order_rows', 'quantity', 'keep');
SELECT erasure.set_policy('bench.order_rows', 'price', 'keep');
SELECT erasure.set_policy('bench.order_rows', 'note', 'null');

SELECT erasure.set_policy('bench.tickets', 'id', 'keep');
SELECT erasure.set_policy('bench.tickets', 'subject', 'keep');
SELECT erasure.set_policy('bench.tickets', 'body', 'constant', '{"value": "[erased]"}');
SELECT erasure.set_policy('bench.tickets', 'created_at', 'keep');

-- "All orders delivered and invoiced, all invoices paid."
SELECT erasure.register_blocker('customer', 'order_not_invoiced',
  $$SELECT o.id, o.status FROM bench.orders o WHERE o.customer_id = $1 AND o.status IN ('open', 'delivered')$$,
  'an order is not delivered and invoiced yet');
SELECT erasure.register_blocker('customer', 'unpaid_invoice',
  $$SELECT i.id, i.number FROM bench.invoices i WHERE i.customer_id = $1 AND i.paid_at IS NULL$$,
  'an invoice is unpaid');
