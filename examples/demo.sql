-- The admin screen of seed 000, in psql: pick a customer, see what stands in the way, confirm,
-- and the personal data is gone while orders and invoices remain.
\pset footer off
\echo '== The customers'
SELECT id, full_name, company_name, coalesce(cpf, cnpj) AS document, email, uf FROM shop.customers ORDER BY id;

\echo
\echo '== João (3) has an order awaiting payment: erasure_blockers says why he cannot be erased yet'
SELECT * FROM erasure.erasure_blockers(3);
\echo '== ... and anonymize_customer refuses, changing nothing'
\set ON_ERROR_STOP 0
SELECT erasure.anonymize_customer(3);
\set ON_ERROR_STOP 1

\echo
\echo '== Ana (1): the confirmation screen (erasure_preview: no write, no lock)'
SELECT jsonb_pretty(erasure.erasure_preview(1) - 'unreviewed_columns');
\echo '== Ana before'
\x on
SELECT * FROM shop.customers WHERE id = 1;
\x off
SELECT id, status, shipping_name, shipping_street, shipping_city, payment_method, total FROM shop.orders WHERE customer_id = 1 ORDER BY id;
CREATE TEMP TABLE invoices_before AS SELECT xmin::text AS row_version, * FROM billing.invoices WHERE customer_id = 1;
SELECT number, customer_name, customer_document, total FROM invoices_before ORDER BY number;

\echo
\echo '== Confirm: SELECT erasure.anonymize_customer(1)'
SELECT jsonb_pretty(erasure.anonymize_customer(1) - 'request_id');

\echo
\echo '== Ana after: personal data generic, the state (UF), postal code and country kept'
\x on
SELECT * FROM shop.customers WHERE id = 1;
\x off
SELECT id, status, shipping_name, shipping_street, shipping_city, payment_method, total FROM shop.orders WHERE customer_id = 1 ORDER BY id;
SELECT product, price, quantity FROM shop.order_items WHERE order_id IN (1001, 1002) ORDER BY id;
\echo '== Her invoices are byte-identical (same row version, same content)'
SELECT i.number, i.customer_name, i.xmin::text = b.row_version AND to_jsonb(i) = to_jsonb(b) - 'row_version' AS unchanged
  FROM billing.invoices i JOIN invoices_before b USING (id) ORDER BY i.number;
SELECT count(*) AS emails_left FROM shop.email_log WHERE customer_id = 1;

\echo
\echo '== Asking again changes nothing; the ledger proves the erasure, without personal data'
SELECT erasure.anonymize_customer(1) ->> 'status' AS second_request;
SELECT request_id, subject, key, status, mode, requested_by, executed_at IS NOT NULL AS recorded FROM erasure.ledger;
