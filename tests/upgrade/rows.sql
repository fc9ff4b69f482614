-- What pg_erasure 0.1.0 kept in this database, as text lines: scripts/upgrade.sh writes it
-- before ALTER EXTENSION … UPDATE and after, and the two must be equal. Each erasure.* table
-- with 0.1.0's columns (the columns 0.2.0 adds left out), row by row, and its row count; the
-- ledger's sequence; the shop's own tables, which the upgrade must not touch.
\set ON_ERROR_STOP on
\pset tuples_only on
\pset format unaligned
SELECT 'erasure.subjects ' || (to_jsonb(t) - 'personal_key')::text FROM erasure.subjects t ORDER BY t.subject;
SELECT 'erasure.tables ' || (to_jsonb(t) - 'referenced')::text FROM erasure.tables t ORDER BY t.subject, t.tbl::text;
SELECT 'erasure.column_policies ' || to_jsonb(t)::text FROM erasure.column_policies t ORDER BY t.tbl::text, t.col;
SELECT 'erasure.blockers ' || to_jsonb(t)::text FROM erasure.blockers t ORDER BY t.subject, t.name;
SELECT 'erasure.ledger ' || to_jsonb(t)::text FROM erasure.ledger t ORDER BY t.request_id;
-- The request queue and the view over it: 0.1.0's columns, and what a request's state is.
-- 0.2.0 has a column state; 0.1.0 had none, and what its rows mean in 0.2.0's terms is what
-- the upgrade moves them to: executed when the ledger has the erasure, approved otherwise
-- (sql/pg_erasure--0.1.0--0.2.0.sql, section 4). In the view, 0.1.0's status done is 0.2.0's
-- state executed, blocked is blocked, and pending and overdue are approved (blocked when it
-- has blockers: 0.1.0's overdue hid them).
SELECT 'erasure.request_queue ' || pg_catalog.jsonb_build_object(
           'id', t.id, 'subject', t.subject, 'key', t.key, 'reference', t.reference,
           'received_at', t.received_at, 'due_at', t.due_at, 'checked_at', t.checked_at,
           'blockers', t.blockers, 'held_until', t.held_until, 'ledger_request_id', t.ledger_request_id,
           'state', coalesce(j ->> 'state', CASE WHEN t.ledger_request_id IS NOT NULL THEN 'executed' ELSE 'approved' END))::text
  FROM erasure.request_queue t, pg_catalog.to_jsonb(t) AS j ORDER BY t.id;
SELECT 'erasure.requests ' || pg_catalog.jsonb_build_object(
           'id', r.id, 'key', r.key, 'blockers', r.blockers, 'ledger_request_id', r.ledger_request_id,
           'state', coalesce(j ->> 'state', CASE WHEN j ->> 'status' = 'done' THEN 'executed'
                                                 WHEN r.blockers IS NOT NULL THEN 'blocked' ELSE 'approved' END),
           'executed_at', coalesce(j -> 'executed_at', j -> 'done_at'))::text
  FROM erasure.requests r, pg_catalog.to_jsonb(r) AS j ORDER BY r.id;
SELECT 'count ' || x.what || ' ' || x.n
  FROM (SELECT 'erasure.subjects', pg_catalog.count(*) FROM erasure.subjects
        UNION ALL SELECT 'erasure.tables', pg_catalog.count(*) FROM erasure.tables
        UNION ALL SELECT 'erasure.column_policies', pg_catalog.count(*) FROM erasure.column_policies
        UNION ALL SELECT 'erasure.blockers', pg_catalog.count(*) FROM erasure.blockers
        UNION ALL SELECT 'erasure.ledger', pg_catalog.count(*) FROM erasure.ledger
        UNION ALL SELECT 'erasure.request_queue', pg_catalog.count(*) FROM erasure.request_queue) AS x(what, n)
 ORDER BY 1;
SELECT 'sequence erasure.ledger_request_id_seq ' || s.last_value FROM erasure.ledger_request_id_seq s;
SELECT 'sequence erasure.request_queue_id_seq ' || s.last_value FROM erasure.request_queue_id_seq s;
SELECT 'shop.customers ' || to_jsonb(t)::text FROM shop.customers t ORDER BY 1;
SELECT 'shop.addresses ' || to_jsonb(t)::text FROM shop.addresses t ORDER BY 1;
SELECT 'shop.orders ' || to_jsonb(t)::text FROM shop.orders t ORDER BY 1;
SELECT 'shop.order_items ' || to_jsonb(t)::text FROM shop.order_items t ORDER BY 1;
SELECT 'shop.invoices ' || to_jsonb(t)::text FROM shop.invoices t ORDER BY 1;
SELECT 'shop.sessions ' || to_jsonb(t)::text FROM shop.sessions t ORDER BY 1;
SELECT 'shop.comments ' || to_jsonb(t)::text FROM shop.comments t ORDER BY 1;
SELECT 'shop.holds ' || to_jsonb(t)::text FROM shop.holds t ORDER BY 1;
SELECT 'shop.subscribers ' || to_jsonb(t)::text FROM shop.subscribers t ORDER BY 1;
SELECT 'shop.deliveries ' || to_jsonb(t)::text FROM shop.deliveries t ORDER BY 1;
