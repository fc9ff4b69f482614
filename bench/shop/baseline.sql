-- The baselines pg_erasure is measured against: the erasure of bench/shop/policies.sql written by
-- hand, as a competent DBA would, for the same schema (bench/shop/schema.sql).
--
--   bench.bench_baseline_erase(id)         one customer, PL/pgSQL, the competitor of
--                                          erasure.anonymize_customer(id);
--   bench.bench_baseline_erase_set(ids)    a set of customers, set-based statements, the same
--                                          work as erasure.anonymize_many('customer', ids);
--   bench.bench_minimal_erase(id)          the least anyone could write: the locks, the
--   bench.bench_minimal_erase_set(ids)     blockers and the changes; no ledger, no idempotency
--                                          check, no notification (the set form takes no locks).
--
-- Both do the work the engine does: lock the customer, refuse a customer already erased, lock
-- every row they will change in a fixed order (parents first, key order within a table) so that
-- concurrent erasures queue instead of deadlocking, then refuse a customer that is blocked (an
-- order awaiting payment, an active subscription) — after the locks, so a blocking state
-- written meanwhile to a locked row is seen —, mask and delete with the same values, count the retained rows, write a
-- ledger row per customer with the per-table counts, and notify listeners on commit.
-- Changing bench/shop/policies.sql means changing this file too: the driver compares the data both
-- leave behind and fails when they differ.

-- The baselines' ledger, like erasure.ledger: one row per erased customer, nothing personal.
-- No foreign key to the customers: the ledger must outlive a deleted customer.
CREATE TABLE "bench"."erasure_ledger" (
    "request_id"   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "customer_id"  bigint NOT NULL UNIQUE,
    "status"       text NOT NULL,
    "requested_by" name NOT NULL DEFAULT session_user,
    "executed_by"  name NOT NULL DEFAULT current_user,
    "executed_at"  timestamptz NOT NULL DEFAULT now(),
    "tables"       jsonb NOT NULL
);

-- The blockers, as one rule for the queues of bench/workload.sql.
CREATE FUNCTION "bench"."blocked"(customer bigint) RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT FROM "bench"."orders" o WHERE o."customer_id" = customer AND o."status" = 'awaiting_payment')
        OR EXISTS (SELECT FROM "bench"."subscriptions" s WHERE s."customer_id" = customer AND s."status" = 'active')
$$;

CREATE FUNCTION "bench"."bench_baseline_erase"(id bigint) RETURNS jsonb
LANGUAGE plpgsql
-- The engine bounds its lock waits by erasure.lock_timeout (5s by default).
SET lock_timeout = '5s'
AS $$
DECLARE
    customer  CONSTANT bigint := id;
    done      "bench"."erasure_ledger";
    blockers  jsonb;
    order_ids bigint[];
    tables    jsonb := '[]';
    n         bigint;
    request   bigint;
BEGIN
    -- The customer's row first: holding it also makes a concurrent insert of an order for this
    -- customer (its foreign key check) wait until the erasure commits.
    PERFORM FROM "bench"."customers" c WHERE c."id" = customer FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'customer "%" not found', customer USING ERRCODE = 'no_data_found';
    END IF;

    -- Checked under the lock: a concurrent erasure of the same customer has committed by now.
    SELECT * INTO done FROM "bench"."erasure_ledger" l WHERE l."customer_id" = customer;
    IF FOUND THEN
        RETURN jsonb_build_object('key', customer::text, 'status', 'already_erased',
                                  'erased_as', done."status", 'request_id', done."request_id",
                                  'executed_at', done."executed_at");
    END IF;

    -- Every row to change, locked before any is changed and before the blockers look, so a
    -- blocking state written meanwhile to a locked row is seen: orders, then the customer's
    -- other tables, then the orders' items and payments.
    SELECT array_agg(o."id") INTO order_ids
      FROM (SELECT o."id" FROM "bench"."orders" o WHERE o."customer_id" = customer ORDER BY o."id" FOR UPDATE) o;
    PERFORM FROM "bench"."addresses" a WHERE a."customer_id" = customer ORDER BY a."id" FOR UPDATE;
    PERFORM FROM "bench"."appointments" a WHERE a."customer_id" = customer ORDER BY a."id" FOR UPDATE;
    PERFORM FROM "bench"."support_tickets" t WHERE t."customer_id" = customer ORDER BY t."id" FOR UPDATE;
    PERFORM FROM "bench"."email_log" e WHERE e."customer_id" = customer ORDER BY e."id" FOR UPDATE;
    PERFORM FROM "bench"."activity_log" a WHERE a."customer_id" = customer ORDER BY a."id" FOR UPDATE;
    PERFORM FROM "bench"."webhook_log" w WHERE w."customer_id" = customer ORDER BY w."id" FOR UPDATE;
    PERFORM FROM "bench"."order_items" i WHERE i."order_id" = ANY (order_ids) ORDER BY i."id" FOR UPDATE;
    PERFORM FROM "bench"."payments" p WHERE p."order_id" = ANY (order_ids) ORDER BY p."id" FOR UPDATE;

    SELECT jsonb_agg(b) INTO blockers
      FROM (SELECT 'order_awaiting_payment' AS "blocker", jsonb_build_object('id', o."id", 'total', o."total") AS "details"
              FROM "bench"."orders" o
             WHERE o."customer_id" = customer AND o."status" = 'awaiting_payment'
            UNION ALL
            SELECT 'active_subscription', jsonb_build_object('id', s."id", 'plan', s."plan")
              FROM "bench"."subscriptions" s
             WHERE s."customer_id" = customer AND s."status" = 'active') b;
    IF blockers IS NOT NULL THEN
        RAISE EXCEPTION 'customer "%" cannot be erased yet: % blocking items', customer, jsonb_array_length(blockers)
              USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = blockers::text;
    END IF;

    UPDATE "bench"."customers" c
       SET "full_name" = 'Xxxx', "email" = 'erased-' || customer || '@invalid.example', "phone" = NULL,
           "birth_date" = date_trunc('year', c."birth_date")::date, "tax_id" = NULL, "street" = NULL,
           "street_number" = NULL, "city" = NULL, "marketing_opt_in" = false, "anonymized_at" = now()
     WHERE c."id" = customer;
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.customers', 'action', 'masked', 'rows', n);

    UPDATE "bench"."addresses" a
       SET "recipient_name" = 'Xxxx', "street" = NULL, "street_number" = NULL, "city" = NULL
     WHERE a."customer_id" = customer;
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.addresses', 'action', 'masked', 'rows', n);

    UPDATE "bench"."orders" o
       SET "shipping_name" = 'Unknown customer', "shipping_street" = NULL, "shipping_city" = NULL,
           "shipping_phone" = NULL, "notes" = NULL
     WHERE o."id" = ANY (order_ids);
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.orders', 'action', 'masked', 'rows', n);

    UPDATE "bench"."order_items" i SET "gift_message" = NULL WHERE i."order_id" = ANY (order_ids);
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.order_items', 'action', 'masked', 'rows', n);

    UPDATE "bench"."payments" p SET "card_holder" = NULL, "card_last4" = NULL WHERE p."order_id" = ANY (order_ids);
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.payments', 'action', 'masked', 'rows', n);

    UPDATE "bench"."appointments" a SET "notes" = NULL WHERE a."customer_id" = customer;
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.appointments', 'action', 'masked', 'rows', n);

    UPDATE "bench"."support_tickets" t SET "body" = '[erased]' WHERE t."customer_id" = customer;
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.support_tickets', 'action', 'masked', 'rows', n);

    DELETE FROM "bench"."email_log" e WHERE e."customer_id" = customer;
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.email_log', 'action', 'deleted', 'rows', n);

    DELETE FROM "bench"."activity_log" a WHERE a."customer_id" = customer;
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.activity_log', 'action', 'deleted', 'rows', n);

    DELETE FROM "bench"."webhook_log" w WHERE w."customer_id" = customer;
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.webhook_log', 'action', 'deleted', 'rows', n);

    -- Retained rows are only counted, for the report.
    tables := tables
        || jsonb_build_object('table', 'bench.invoices', 'action', 'retained', 'rows',
                              (SELECT count(*) FROM "bench"."invoices" i WHERE i."customer_id" = customer))
        || jsonb_build_object('table', 'bench.subscriptions', 'action', 'retained', 'rows',
                              (SELECT count(*) FROM "bench"."subscriptions" s WHERE s."customer_id" = customer));

    INSERT INTO "bench"."erasure_ledger" ("customer_id", "status", "tables")
    VALUES (customer, 'anonymized', tables)
    RETURNING "request_id" INTO request;
    PERFORM pg_notify('bench_erasure',
                      jsonb_build_object('key', customer::text, 'request_id', request, 'status', 'anonymized')::text);

    RETURN jsonb_build_object('key', customer::text, 'status', 'anonymized', 'request_id', request,
                              'tables', tables);
END
$$;

-- One line per distinct id: anonymized, or skipped with nothing changed (already_erased,
-- blocked, not_found).
CREATE FUNCTION "bench"."bench_baseline_erase_set"(ids bigint[])
RETURNS TABLE ("customer_id" bigint, "status" text)
LANGUAGE plpgsql
SET lock_timeout = '5s'
AS $$
DECLARE
    found_ids  bigint[];
    candidates bigint[];
    erasable   bigint[];
    notified  bigint;
BEGIN
    -- The customers first, in key order, as the single erasure does.
    SELECT array_agg(c."id") INTO found_ids
      FROM (SELECT c."id" FROM "bench"."customers" c WHERE c."id" = ANY (ids) ORDER BY c."id" FOR UPDATE) c;

    -- The ledger for the whole set at once; then every row the set may change, locked; then
    -- the blockers, which see what committed while the locks were taken.
    SELECT array_agg(c.k) INTO candidates
      FROM unnest(found_ids) AS c(k)
     WHERE NOT EXISTS (SELECT FROM "bench"."erasure_ledger" l WHERE l."customer_id" = c.k);

    PERFORM FROM "bench"."orders" o WHERE o."customer_id" = ANY (candidates) ORDER BY o."id" FOR UPDATE;
    PERFORM FROM "bench"."addresses" a WHERE a."customer_id" = ANY (candidates) ORDER BY a."id" FOR UPDATE;
    PERFORM FROM "bench"."appointments" a WHERE a."customer_id" = ANY (candidates) ORDER BY a."id" FOR UPDATE;
    PERFORM FROM "bench"."support_tickets" t WHERE t."customer_id" = ANY (candidates) ORDER BY t."id" FOR UPDATE;
    PERFORM FROM "bench"."email_log" e WHERE e."customer_id" = ANY (candidates) ORDER BY e."id" FOR UPDATE;
    PERFORM FROM "bench"."activity_log" a WHERE a."customer_id" = ANY (candidates) ORDER BY a."id" FOR UPDATE;
    PERFORM FROM "bench"."webhook_log" w WHERE w."customer_id" = ANY (candidates) ORDER BY w."id" FOR UPDATE;
    PERFORM FROM "bench"."order_items" i JOIN "bench"."orders" o ON o."id" = i."order_id"
      WHERE o."customer_id" = ANY (candidates) ORDER BY i."id" FOR UPDATE OF i;
    PERFORM FROM "bench"."payments" p JOIN "bench"."orders" o ON o."id" = p."order_id"
      WHERE o."customer_id" = ANY (candidates) ORDER BY p."id" FOR UPDATE OF p;

    SELECT array_agg(c.k) INTO erasable
      FROM unnest(candidates) AS c(k)
     WHERE NOT EXISTS (SELECT FROM "bench"."orders" o WHERE o."customer_id" = c.k AND o."status" = 'awaiting_payment')
       AND NOT EXISTS (SELECT FROM "bench"."subscriptions" s WHERE s."customer_id" = c.k AND s."status" = 'active');

    -- One statement: every change returns its customer, so each ledger row gets that
    -- customer's counts.
    WITH "customers" AS (
        UPDATE "bench"."customers" c
           SET "full_name" = 'Xxxx', "email" = 'erased-' || c."id" || '@invalid.example', "phone" = NULL,
               "birth_date" = date_trunc('year', c."birth_date")::date, "tax_id" = NULL, "street" = NULL,
               "street_number" = NULL, "city" = NULL, "marketing_opt_in" = false, "anonymized_at" = now()
         WHERE c."id" = ANY (erasable)
        RETURNING c."id" AS k),
    "addresses" AS (
        UPDATE "bench"."addresses" a
           SET "recipient_name" = 'Xxxx', "street" = NULL, "street_number" = NULL, "city" = NULL
         WHERE a."customer_id" = ANY (erasable)
        RETURNING a."customer_id" AS k),
    "orders" AS (
        UPDATE "bench"."orders" o
           SET "shipping_name" = 'Unknown customer', "shipping_street" = NULL, "shipping_city" = NULL,
               "shipping_phone" = NULL, "notes" = NULL
         WHERE o."customer_id" = ANY (erasable)
        RETURNING o."customer_id" AS k),
    "order_items" AS (
        UPDATE "bench"."order_items" i SET "gift_message" = NULL
          FROM "bench"."orders" o
         WHERE o."id" = i."order_id" AND o."customer_id" = ANY (erasable)
        RETURNING o."customer_id" AS k),
    "payments" AS (
        UPDATE "bench"."payments" p SET "card_holder" = NULL, "card_last4" = NULL
          FROM "bench"."orders" o
         WHERE o."id" = p."order_id" AND o."customer_id" = ANY (erasable)
        RETURNING o."customer_id" AS k),
    "appointments" AS (
        UPDATE "bench"."appointments" a SET "notes" = NULL
         WHERE a."customer_id" = ANY (erasable)
        RETURNING a."customer_id" AS k),
    "support_tickets" AS (
        UPDATE "bench"."support_tickets" t SET "body" = '[erased]'
         WHERE t."customer_id" = ANY (erasable)
        RETURNING t."customer_id" AS k),
    "email_log" AS (
        DELETE FROM "bench"."email_log" e WHERE e."customer_id" = ANY (erasable) RETURNING e."customer_id" AS k),
    "activity_log" AS (
        DELETE FROM "bench"."activity_log" a WHERE a."customer_id" = ANY (erasable) RETURNING a."customer_id" AS k),
    "webhook_log" AS (
        DELETE FROM "bench"."webhook_log" w WHERE w."customer_id" = ANY (erasable) RETURNING w."customer_id" AS k),
    "changed" AS (
        SELECT k, 'bench.customers' AS "table", 'masked' AS "action" FROM "customers"
        UNION ALL SELECT k, 'bench.addresses', 'masked' FROM "addresses"
        UNION ALL SELECT k, 'bench.orders', 'masked' FROM "orders"
        UNION ALL SELECT k, 'bench.order_items', 'masked' FROM "order_items"
        UNION ALL SELECT k, 'bench.payments', 'masked' FROM "payments"
        UNION ALL SELECT k, 'bench.appointments', 'masked' FROM "appointments"
        UNION ALL SELECT k, 'bench.support_tickets', 'masked' FROM "support_tickets"
        UNION ALL SELECT k, 'bench.email_log', 'deleted' FROM "email_log"
        UNION ALL SELECT k, 'bench.activity_log', 'deleted' FROM "activity_log"
        UNION ALL SELECT k, 'bench.webhook_log', 'deleted' FROM "webhook_log"
        UNION ALL SELECT i."customer_id", 'bench.invoices', 'retained'
                    FROM "bench"."invoices" i WHERE i."customer_id" = ANY (erasable)
        UNION ALL SELECT s."customer_id", 'bench.subscriptions', 'retained'
                    FROM "bench"."subscriptions" s WHERE s."customer_id" = ANY (erasable)),
    "counted" AS (
        SELECT k, "table", "action", count(*) AS "rows" FROM "changed" GROUP BY k, "table", "action"),
    "ledger" AS (
        INSERT INTO "bench"."erasure_ledger" ("customer_id", "status", "tables")
        SELECT e.k, 'anonymized',
               coalesce(jsonb_agg(jsonb_build_object('table', n."table", 'action', n."action", 'rows', n."rows"))
                          FILTER (WHERE n.k IS NOT NULL), '[]')
          FROM unnest(erasable) AS e(k)
          LEFT JOIN "counted" n ON n.k = e.k
         GROUP BY e.k
        RETURNING "bench"."erasure_ledger"."customer_id", "bench"."erasure_ledger"."request_id")
    SELECT count(pg_notify('bench_erasure',
                           jsonb_build_object('key', l."customer_id"::text, 'request_id', l."request_id",
                                              'status', 'anonymized')::text))
      INTO notified
      FROM "ledger" l;

    RETURN QUERY
    SELECT DISTINCT i.k,
           CASE WHEN i.k = ANY (erasable) THEN 'anonymized'
                WHEN NOT i.k = ANY (coalesce(found_ids, '{}')) THEN 'not_found'
                WHEN EXISTS (SELECT FROM "bench"."erasure_ledger" l WHERE l."customer_id" = i.k) THEN 'already_erased'
                ELSE 'blocked' END
      FROM unnest(ids) AS i(k);
END
$$;

CREATE FUNCTION "bench"."bench_minimal_erase"(id bigint) RETURNS void
LANGUAGE plpgsql
SET lock_timeout = '5s'
AS $$
DECLARE
    customer  CONSTANT bigint := id;
    order_ids bigint[];
BEGIN
    PERFORM FROM "bench"."customers" c WHERE c."id" = customer FOR UPDATE;
    SELECT array_agg(o."id") INTO order_ids
      FROM (SELECT o."id" FROM "bench"."orders" o WHERE o."customer_id" = customer ORDER BY o."id" FOR UPDATE) o;
    PERFORM FROM "bench"."addresses" a WHERE a."customer_id" = customer ORDER BY a."id" FOR UPDATE;
    PERFORM FROM "bench"."appointments" a WHERE a."customer_id" = customer ORDER BY a."id" FOR UPDATE;
    PERFORM FROM "bench"."support_tickets" t WHERE t."customer_id" = customer ORDER BY t."id" FOR UPDATE;
    PERFORM FROM "bench"."email_log" e WHERE e."customer_id" = customer ORDER BY e."id" FOR UPDATE;
    PERFORM FROM "bench"."activity_log" a WHERE a."customer_id" = customer ORDER BY a."id" FOR UPDATE;
    PERFORM FROM "bench"."webhook_log" w WHERE w."customer_id" = customer ORDER BY w."id" FOR UPDATE;
    PERFORM FROM "bench"."order_items" i WHERE i."order_id" = ANY (order_ids) ORDER BY i."id" FOR UPDATE;
    PERFORM FROM "bench"."payments" p WHERE p."order_id" = ANY (order_ids) ORDER BY p."id" FOR UPDATE;
    IF EXISTS (SELECT FROM "bench"."orders" o WHERE o."customer_id" = customer AND o."status" = 'awaiting_payment')
       OR EXISTS (SELECT FROM "bench"."subscriptions" s WHERE s."customer_id" = customer AND s."status" = 'active') THEN
        RAISE EXCEPTION 'customer "%" cannot be erased yet', customer USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE "bench"."customers" c
       SET "full_name" = 'Xxxx', "email" = 'erased-' || customer || '@invalid.example', "phone" = NULL,
           "birth_date" = date_trunc('year', c."birth_date")::date, "tax_id" = NULL, "street" = NULL,
           "street_number" = NULL, "city" = NULL, "marketing_opt_in" = false, "anonymized_at" = now()
     WHERE c."id" = customer;
    UPDATE "bench"."addresses" a
       SET "recipient_name" = 'Xxxx', "street" = NULL, "street_number" = NULL, "city" = NULL
     WHERE a."customer_id" = customer;
    UPDATE "bench"."orders" o
       SET "shipping_name" = 'Unknown customer', "shipping_street" = NULL, "shipping_city" = NULL,
           "shipping_phone" = NULL, "notes" = NULL
     WHERE o."id" = ANY (order_ids);
    UPDATE "bench"."order_items" i SET "gift_message" = NULL WHERE i."order_id" = ANY (order_ids);
    UPDATE "bench"."payments" p SET "card_holder" = NULL, "card_last4" = NULL WHERE p."order_id" = ANY (order_ids);
    UPDATE "bench"."appointments" a SET "notes" = NULL WHERE a."customer_id" = customer;
    UPDATE "bench"."support_tickets" t SET "body" = '[erased]' WHERE t."customer_id" = customer;
    DELETE FROM "bench"."email_log" e WHERE e."customer_id" = customer;
    DELETE FROM "bench"."activity_log" a WHERE a."customer_id" = customer;
    DELETE FROM "bench"."webhook_log" w WHERE w."customer_id" = customer;
END
$$;

-- The floor: the blocked customers left out, everyone else changed by one UPDATE or DELETE per
-- table, with no locks taken first, no ledger and no notification. Returns the customers changed.
CREATE FUNCTION "bench"."bench_minimal_erase_set"(ids bigint[]) RETURNS bigint
LANGUAGE sql
AS $$
    WITH "erasable" AS MATERIALIZED (
        SELECT c."id" FROM "bench"."customers" c
         WHERE c."id" = ANY (ids) AND c."anonymized_at" IS NULL
           AND NOT EXISTS (SELECT FROM "bench"."orders" o WHERE o."customer_id" = c."id" AND o."status" = 'awaiting_payment')
           AND NOT EXISTS (SELECT FROM "bench"."subscriptions" s WHERE s."customer_id" = c."id" AND s."status" = 'active')),
    "customers" AS (
        UPDATE "bench"."customers" c
           SET "full_name" = 'Xxxx', "email" = 'erased-' || c."id" || '@invalid.example', "phone" = NULL,
               "birth_date" = date_trunc('year', c."birth_date")::date, "tax_id" = NULL, "street" = NULL,
               "street_number" = NULL, "city" = NULL, "marketing_opt_in" = false, "anonymized_at" = now()
         WHERE c."id" IN (SELECT "id" FROM "erasable")
        RETURNING 1),
    "addresses" AS (
        UPDATE "bench"."addresses" a
           SET "recipient_name" = 'Xxxx', "street" = NULL, "street_number" = NULL, "city" = NULL
         WHERE a."customer_id" IN (SELECT "id" FROM "erasable")),
    "orders" AS (
        UPDATE "bench"."orders" o
           SET "shipping_name" = 'Unknown customer', "shipping_street" = NULL, "shipping_city" = NULL,
               "shipping_phone" = NULL, "notes" = NULL
         WHERE o."customer_id" IN (SELECT "id" FROM "erasable")),
    "order_items" AS (
        UPDATE "bench"."order_items" i SET "gift_message" = NULL
          FROM "bench"."orders" o
         WHERE o."id" = i."order_id" AND o."customer_id" IN (SELECT "id" FROM "erasable")),
    "payments" AS (
        UPDATE "bench"."payments" p SET "card_holder" = NULL, "card_last4" = NULL
          FROM "bench"."orders" o
         WHERE o."id" = p."order_id" AND o."customer_id" IN (SELECT "id" FROM "erasable")),
    "appointments" AS (
        UPDATE "bench"."appointments" a SET "notes" = NULL WHERE a."customer_id" IN (SELECT "id" FROM "erasable")),
    "support_tickets" AS (
        UPDATE "bench"."support_tickets" t SET "body" = '[erased]' WHERE t."customer_id" IN (SELECT "id" FROM "erasable")),
    "email_log" AS (
        DELETE FROM "bench"."email_log" e WHERE e."customer_id" IN (SELECT "id" FROM "erasable")),
    "activity_log" AS (
        DELETE FROM "bench"."activity_log" a WHERE a."customer_id" IN (SELECT "id" FROM "erasable")),
    "webhook_log" AS (
        DELETE FROM "bench"."webhook_log" w WHERE w."customer_id" IN (SELECT "id" FROM "erasable"))
    SELECT count(*) FROM "customers"
$$;
