-- The shop of before.sql after ALTER EXTENSION pg_erasure UPDATE TO '0.2.0' (scripts/upgrade.sh):
-- what 0.1.0 erased is still erased, new erasures work with 0.2.0's API, and nothing of
-- erasure_executor's is left in the database. Each check prints "ok: …" or stops the test.
\set ON_ERROR_STOP on
\pset tuples_only on
\pset format unaligned
-- The DBA follows the upgrade's hint: 0.1.0's setting of the hmac key goes.
ALTER DATABASE upgraded RESET erasure.hmac_key;
\c
CREATE FUNCTION pg_temp.expect(passed boolean, what text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF passed IS NOT TRUE THEN
        RAISE EXCEPTION 'upgrade test failed: %', what;
    END IF;
    RETURN 'ok: ' || what;
END
$$;
CREATE TEMP TABLE upgraded_ledger AS SELECT max(request_id) AS last, count(*) AS entries FROM erasure.ledger;
GRANT SELECT ON upgraded_ledger TO dpo;

SELECT pg_temp.expect((SELECT extversion FROM pg_extension WHERE extname = 'pg_erasure') = '0.2.0', 'pg_erasure is at 0.2.0');

-- The 0.1.0 role: kept, holding nothing here.
SELECT pg_temp.expect(to_regrole('erasure_executor') IS NOT NULL, 'the role erasure_executor is kept (roles are the cluster''s)');
SELECT pg_temp.expect(NOT EXISTS (
    SELECT FROM pg_class c, aclexplode(c.relacl) a WHERE a.grantee = 'erasure_executor'::regrole
    UNION ALL SELECT FROM pg_attribute t, aclexplode(t.attacl) a WHERE a.grantee = 'erasure_executor'::regrole
    UNION ALL SELECT FROM pg_namespace n, aclexplode(n.nspacl) a WHERE a.grantee = 'erasure_executor'::regrole
    UNION ALL SELECT FROM pg_proc p, aclexplode(p.proacl) a WHERE a.grantee = 'erasure_executor'::regrole),
  'erasure_executor holds no privilege in this database');

-- The hmac key moved from 0.1.0's setting; digests made before and after agree.
SELECT pg_temp.expect((SELECT key FROM erasure.hmac_key) = 'the shop''s hmac secret, 0.1.0', 'the hmac key moved into erasure.hmac_key');
SELECT pg_temp.expect((SELECT login FROM shop.customers WHERE id = 1)
                      = erasure.hmac_sha256('login1', (SELECT key FROM erasure.hmac_key)),
                      'a login 0.1.0 masked is the hmac 0.2.0 computes');

-- What 0.1.0 erased, 0.2.0 knows.
SELECT pg_temp.expect(bool_and(erasure.is_erased('customer', id)) , 'customers 1-6, 9 and 10, erased by 0.1.0, are erased')
  FROM unnest(ARRAY[1, 2, 3, 4, 5, 6, 9, 10]) AS id;
SELECT pg_temp.expect(bool_and(erasure.is_erased('customer', id::text)), 'the same, keys given as text')
  FROM unnest(ARRAY[1, 2, 3, 4, 5, 6, 9, 10]) AS id;
SELECT pg_temp.expect(NOT bool_or(erasure.is_erased('customer', id)), 'customers 7, 8, 11 and 12 are not')
  FROM unnest(ARRAY[7, 8, 11, 12]) AS id;
SELECT pg_temp.expect(erasure.is_erased('subscriber', 'ana@example.com'::text)
                      AND erasure.is_erased('subscriber', 'caio@example.com'::text)
                      AND NOT erasure.is_erased('subscriber', 'bia@example.com'::text),
                      'subscribers ana (anonymized) and caio (deleted) are erased, bia is not');

SET ROLE dpo;
-- Erasing an erased customer again changes nothing.
SELECT erasure.anonymize('customer', 1) IS NOT NULL AS again;
SELECT pg_temp.expect((SELECT count(*) FROM erasure.ledger) = (SELECT entries FROM upgraded_ledger), 'erasing customer 1 again adds no ledger row');
-- A new erasure, by the same officer.
SELECT pg_temp.expect(erasure.anonymize('customer', 11, reference => 'TICKET-11') ->> 'status' = 'anonymized', 'customer 11 is anonymized');
RESET ROLE;
SELECT pg_temp.expect((SELECT request_id FROM erasure.ledger WHERE subject = 'customer' AND key = '11') > (SELECT last FROM upgraded_ledger),
                      'its request id follows 0.1.0''s');
SELECT pg_temp.expect(c.login = erasure.hmac_sha256('login11', (SELECT key FROM erasure.hmac_key))
                      AND c.full_name = 'Xxxx' AND c.email = 'erased-11@invalid.example' AND c.phone = ''
                      AND c.birth_date = make_date(extract(year FROM date '1980-01-01' + 11 * 97)::int, 1, 1)
                      AND NOT c.profile ? 'nickname' AND c.anonymized_at IS NOT NULL,
                      'its row is masked by the policies 0.1.0 registered')
  FROM shop.customers c WHERE c.id = 11;
SELECT pg_temp.expect(NOT EXISTS (SELECT FROM shop.sessions WHERE customer_id = 11)
                      AND (SELECT street FROM shop.addresses WHERE customer_id = 11) = 'Xxxx'
                      AND (SELECT gift_message FROM shop.order_items WHERE order_id = 110) = ''
                      AND (SELECT billed_name FROM shop.invoices WHERE customer_id = 11) = 'Customer 11',
                      'its chained tables: sessions deleted, addresses and order items masked, the invoice retained');

-- The queue 0.1.0 left, moved into the lifecycle (sql/pg_erasure--0.1.0--0.2.0.sql, section 4):
-- 9 and 10, which 0.1.0 erased, executed; the open ones approved at the upgrade by the role
-- that ran it (this file runs as the same one), with no cooling-off and no identity
-- verification recorded, and so restricted until they end.
SELECT pg_temp.expect(array_agg(key || ' ' || state ORDER BY id)
                      = '{"7 blocked","8 blocked","9 executed","10 executed","11 approved","12 approved","dan@example.com approved"}',
                      'requests after the upgrade: 9 and 10 executed, the others approved (7 and 8 blocked as 0.1.0 found them)')
  FROM erasure.requests;
SELECT pg_temp.expect(count(*) = 2 AND bool_and(NOT q.open AND q.ended_at = l.executed_at AND q.ended_by = l.executed_by
                                                AND q.approved_at IS NULL AND q.attempts = 1),
                      'the executed ones ended when and by whom their erasure ran')
  FROM erasure.request_queue q JOIN erasure.ledger l ON l.request_id = q.ledger_request_id;
SELECT pg_temp.expect(count(*) = 5 AND bool_and(q.approved_by = session_user AND q.approved_at IS NOT NULL
                                                AND q.wait_until = q.approved_at AND q.verified_at IS NULL
                                                AND q.verified_by IS NULL AND q.ended_at IS NULL),
                      'the open ones are approved by the role that ran ALTER EXTENSION, with no cooling-off and no identity verification')
  FROM erasure.request_queue q WHERE q.state = 'approved';
SELECT pg_temp.expect(bool_and(q.received_by = session_user), 'every request 0.1.0 recorded is received by the role that ran ALTER EXTENSION')
  FROM erasure.request_queue q;
SELECT pg_temp.expect(erasure.is_restricted('customer', 7) AND erasure.is_restricted('customer', 12)
                      AND NOT erasure.is_restricted('customer', 9),
                      'customers 7 and 12, whose requests were open, are restricted; 9, erased, is not');

-- process_requests() takes the approved ones: 11 and 12 go through, 7 and 8 stay blocked, and
-- dan's ends as not_found (the application deleted his row after he asked).
SET ROLE dpo;
SELECT request_id || ' ' || status FROM erasure.process_requests() ORDER BY request_id;
RESET ROLE;
SELECT pg_temp.expect(array_agg(key || ' ' || state ORDER BY id)
                      = '{"7 blocked","8 blocked","9 executed","10 executed","11 executed","12 executed","dan@example.com not_found"}',
                      'requests: 7 and 8 blocked, 11 and 12 executed, dan''s not_found, 9 and 10 still executed')
  FROM erasure.requests;
SELECT pg_temp.expect(erasure.is_erased('customer', 12), 'customer 12, queued under 0.1.0, is erased');
SET ROLE dpo;
SELECT pg_temp.expect(array_agg(q.key ORDER BY q.id) = '{7,8}',
                      'a second run tries only 7 and 8 again: the ended requests stay ended')
  FROM erasure.process_requests() p JOIN erasure.request_queue q ON q.id = p.request_id;
-- One that should wait is cancelled, as the README says.
SELECT pg_temp.expect(erasure.cancel_request(q.id) = 'cancelled', 'the request of customer 8, approved by the upgrade, can be cancelled')
  FROM erasure.request_queue q WHERE q.subject = 'customer' AND q.key = '8';
RESET ROLE;
SELECT pg_temp.expect(q.state = 'cancelled' AND q.ended_by = session_user AND NOT erasure.is_restricted('customer', 8),
                      'it is cancelled, and customer 8 is no longer restricted')
  FROM erasure.request_queue q WHERE q.subject = 'customer' AND q.key = '8';

-- Retention: 0.1.0 released customer 1's expired invoice; 0.2.0 does not release it again.
SET ROLE dpo;
SELECT pg_temp.expect(NOT EXISTS (SELECT FROM erasure.release_expired() r WHERE r.rows > 0), 'nothing released twice');
RESET ROLE;

-- 0.2.0's own features over 0.1.0's data.
SELECT pg_temp.expect(NOT EXISTS (SELECT FROM erasure.verify_ledger()), 'the ledger, 0.1.0''s rows included, seals and verifies');
SELECT pg_temp.expect((SELECT count(*) FROM erasure.ledger_seals) = (SELECT count(*) FROM erasure.ledger), 'every ledger row is sealed');
SELECT pg_temp.expect(erasure.certificate(1) IS NOT NULL, 'a certificate of an erasure 0.1.0 made');
SELECT pg_temp.expect(erasure.describe('customer') LIKE '%shop.invoices%', 'describe() reads the 0.1.0 catalog');
SELECT pg_temp.expect((SELECT count(*) FROM erasure.check('customer')) >= 0, 'check() runs');
SET ROLE shop_owner;
SELECT erasure.register_batch_rule('subscriber', 'everyone', 'SELECT s.email FROM shop.subscribers s');
SET ROLE dpo;
CALL erasure.erase_batches('subscriber', 'everyone', batch_size => 1);
RESET ROLE;
SELECT pg_temp.expect(erasure.is_erased('subscriber', 'bia@example.com'::text), 'a registered batch rule erases subscriber bia');
