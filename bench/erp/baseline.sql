-- The ERP shape's baselines: bench/erp/policies.sql's erasure written by hand, as a competent
-- DBA would, for bench/erp/schema.sql.
--
--   bench.bench_baseline_erase(id)          one customer, PL/pgSQL, the same work as
--                                           erasure.anonymize_customer(id);
--   bench.bench_baseline_erase_set(ids)     a set of customers, set-based, the same work as
--                                           erasure.anonymize_many('customer', ids);
--   bench.bench_minimal_erase(id)           the least anyone could write: the locks, the
--   bench.bench_minimal_erase_set(ids)      blockers and the changes; no ledger, no idempotency
--                                           check, no notification (the set form takes no locks).
--
-- The same work is the engine's: lock the customer, refuse a customer already erased, lock every
-- row to change (parents first, key order within a table), then refuse a blocked customer (an
-- order not invoiced, an unpaid invoice), mask and delete with the same values, count the
-- retained rows, write a ledger row with the per-table counts and notify listeners on commit.
-- The driver compares the data every contender leaves and fails when they differ.

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
    SELECT EXISTS (SELECT FROM "bench"."orders" o WHERE o."customer_id" = customer AND o."status" IN ('open', 'delivered'))
        OR EXISTS (SELECT FROM "bench"."invoices" i WHERE i."customer_id" = customer AND i."paid_at" IS NULL)
$$;

CREATE FUNCTION "bench"."bench_baseline_erase"(id bigint) RETURNS jsonb
LANGUAGE plpgsql
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
    PERFORM FROM "bench"."customers" c WHERE c."id" = customer FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'customer "%" not found', customer USING ERRCODE = 'no_data_found';
    END IF;
    SELECT * INTO done FROM "bench"."erasure_ledger" l WHERE l."customer_id" = customer;
    IF FOUND THEN
        RETURN jsonb_build_object('key', customer::text, 'status', 'already_erased',
                                  'erased_as', done."status", 'request_id', done."request_id",
                                  'executed_at', done."executed_at");
    END IF;

    PERFORM FROM "bench"."branches" b WHERE b."customer_id" = customer ORDER BY b."id" FOR UPDATE;
    PERFORM FROM "bench"."credit_checks" k WHERE k."customer_id" = customer ORDER BY k."id" FOR UPDATE;
    SELECT array_agg(o."id") INTO order_ids
      FROM (SELECT o."id" FROM "bench"."orders" o WHERE o."customer_id" = customer ORDER BY o."id" FOR UPDATE) o;
    PERFORM FROM "bench"."tickets" t WHERE t."customer_id" = customer ORDER BY t."id" FOR UPDATE;
    PERFORM FROM "bench"."order_rows" r WHERE r."order_id" = ANY (order_ids) ORDER BY r."id" FOR UPDATE;

    SELECT jsonb_agg(b) INTO blockers
      FROM (SELECT 'order_not_invoiced' AS "blocker", jsonb_build_object('id', o."id", 'status', o."status") AS "details"
              FROM "bench"."orders" o
             WHERE o."customer_id" = customer AND o."status" IN ('open', 'delivered')
            UNION ALL
            SELECT 'unpaid_invoice', jsonb_build_object('id', i."id", 'number', i."number")
              FROM "bench"."invoices" i
             WHERE i."customer_id" = customer AND i."paid_at" IS NULL) b;
    IF blockers IS NOT NULL THEN
        RAISE EXCEPTION 'customer "%" cannot be erased yet: % blocking items', customer, jsonb_array_length(blockers)
              USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = blockers::text;
    END IF;

    UPDATE "bench"."customers" c
       SET "first_name" = 'Xxxx', "last_name" = 'Xxxx', "customer_name" = 'Xxxx', "org_number" = NULL,
           "vat_number" = NULL, "email_opt_in" = false, "post_opt_in" = false, "contact_person" = 'Xxxx',
           "phone" = NULL, "mobile" = NULL, "email" = NULL, "website" = NULL,
           "birth_date" = date_trunc('year', c."birth_date")::date, "anonymized_at" = now()
     WHERE c."id" = customer;
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.customers', 'action', 'masked', 'rows', n);

    UPDATE "bench"."branches" b
       SET "company_name" = 'Xxxx', "attention" = NULL, "address1" = NULL, "address2" = NULL, "city" = NULL,
           "latitude" = 0, "longitude" = 0
     WHERE b."customer_id" = customer;
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.branches', 'action', 'masked', 'rows', n);

    DELETE FROM "bench"."credit_checks" k WHERE k."customer_id" = customer;
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.credit_checks', 'action', 'deleted', 'rows', n);

    UPDATE "bench"."orders" o SET "our_reference" = NULL, "delivery_address" = NULL WHERE o."id" = ANY (order_ids);
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.orders', 'action', 'masked', 'rows', n);

    UPDATE "bench"."tickets" t SET "body" = '[erased]' WHERE t."customer_id" = customer;
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.tickets', 'action', 'masked', 'rows', n);

    UPDATE "bench"."order_rows" r SET "note" = NULL WHERE r."order_id" = ANY (order_ids);
    GET DIAGNOSTICS n = ROW_COUNT;
    tables := tables || jsonb_build_object('table', 'bench.order_rows', 'action', 'masked', 'rows', n);

    tables := tables
        || jsonb_build_object('table', 'bench.invoices', 'action', 'retained', 'rows',
                              (SELECT count(*) FROM "bench"."invoices" i WHERE i."customer_id" = customer));

    INSERT INTO "bench"."erasure_ledger" ("customer_id", "status", "tables")
    VALUES (customer, 'anonymized', tables)
    RETURNING "request_id" INTO request;
    PERFORM pg_notify('bench_erasure',
                      jsonb_build_object('key', customer::text, 'request_id', request, 'status', 'anonymized')::text);
    RETURN jsonb_build_object('key', customer::text, 'status', 'anonymized', 'request_id', request, 'tables', tables);
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
    PERFORM FROM "bench"."branches" b WHERE b."customer_id" = customer ORDER BY b."id" FOR UPDATE;
    PERFORM FROM "bench"."credit_checks" k WHERE k."customer_id" = customer ORDER BY k."id" FOR UPDATE;
    SELECT array_agg(o."id") INTO order_ids
      FROM (SELECT o."id" FROM "bench"."orders" o WHERE o."customer_id" = customer ORDER BY o."id" FOR UPDATE) o;
    PERFORM FROM "bench"."tickets" t WHERE t."customer_id" = customer ORDER BY t."id" FOR UPDATE;
    PERFORM FROM "bench"."order_rows" r WHERE r."order_id" = ANY (order_ids) ORDER BY r."id" FOR UPDATE;
    IF EXISTS (SELECT FROM "bench"."orders" o WHERE o."customer_id" = customer AND o."status" IN ('open', 'delivered'))
       OR EXISTS (SELECT FROM "bench"."invoices" i WHERE i."customer_id" = customer AND i."paid_at" IS NULL) THEN
        RAISE EXCEPTION 'customer "%" cannot be erased yet', customer USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE "bench"."customers" c
       SET "first_name" = 'Xxxx', "last_name" = 'Xxxx', "customer_name" = 'Xxxx', "org_number" = NULL,
           "vat_number" = NULL, "email_opt_in" = false, "post_opt_in" = false, "contact_person" = 'Xxxx',
           "phone" = NULL, "mobile" = NULL, "email" = NULL, "website" = NULL,
           "birth_date" = date_trunc('year', c."birth_date")::date, "anonymized_at" = now()
     WHERE c."id" = customer;
    UPDATE "bench"."branches" b
       SET "company_name" = 'Xxxx', "attention" = NULL, "address1" = NULL, "address2" = NULL, "city" = NULL,
           "latitude" = 0, "longitude" = 0
     WHERE b."customer_id" = customer;
    DELETE FROM "bench"."credit_checks" k WHERE k."customer_id" = customer;
    UPDATE "bench"."orders" o SET "our_reference" = NULL, "delivery_address" = NULL WHERE o."id" = ANY (order_ids);
    UPDATE "bench"."tickets" t SET "body" = '[erased]' WHERE t."customer_id" = customer;
    UPDATE "bench"."order_rows" r SET "note" = NULL WHERE r."order_id" = ANY (order_ids);
END
$$;

-- One line per distinct id: anonymized, or skipped with nothing changed.
CREATE FUNCTION "bench"."bench_baseline_erase_set"(ids bigint[])
RETURNS TABLE ("customer_id" bigint, "status" text)
LANGUAGE plpgsql
SET lock_timeout = '5s'
AS $$
DECLARE
    found_ids  bigint[];
    candidates bigint[];
    erasable   bigint[];
    notified   bigint;
BEGIN
    SELECT array_agg(c."id") INTO found_ids
      FROM (SELECT c."id" FROM "bench"."customers" c WHERE c."id" = ANY (ids) ORDER BY c."id" FOR UPDATE) c;
    SELECT array_agg(c.k) INTO candidates
      FROM unnest(found_ids) AS c(k)
     WHERE NOT EXISTS (SELECT FROM "bench"."erasure_ledger" l WHERE l."customer_id" = c.k);

    PERFORM FROM "bench"."branches" b WHERE b."customer_id" = ANY (candidates) ORDER BY b."id" FOR UPDATE;
    PERFORM FROM "bench"."credit_checks" k WHERE k."customer_id" = ANY (candidates) ORDER BY k."id" FOR UPDATE;
    PERFORM FROM "bench"."orders" o WHERE o."customer_id" = ANY (candidates) ORDER BY o."id" FOR UPDATE;
    PERFORM FROM "bench"."tickets" t WHERE t."customer_id" = ANY (candidates) ORDER BY t."id" FOR UPDATE;
    PERFORM FROM "bench"."order_rows" r JOIN "bench"."orders" o ON o."id" = r."order_id"
      WHERE o."customer_id" = ANY (candidates) ORDER BY r."id" FOR UPDATE OF r;

    SELECT array_agg(c.k) INTO erasable
      FROM unnest(candidates) AS c(k)
     WHERE NOT EXISTS (SELECT FROM "bench"."orders" o WHERE o."customer_id" = c.k AND o."status" IN ('open', 'delivered'))
       AND NOT EXISTS (SELECT FROM "bench"."invoices" i WHERE i."customer_id" = c.k AND i."paid_at" IS NULL);

    WITH "customers" AS (
        UPDATE "bench"."customers" c
           SET "first_name" = 'Xxxx', "last_name" = 'Xxxx', "customer_name" = 'Xxxx', "org_number" = NULL,
               "vat_number" = NULL, "email_opt_in" = false, "post_opt_in" = false, "contact_person" = 'Xxxx',
               "phone" = NULL, "mobile" = NULL, "email" = NULL, "website" = NULL,
               "birth_date" = date_trunc('year', c."birth_date")::date, "anonymized_at" = now()
         WHERE c."id" = ANY (erasable)
        RETURNING c."id" AS k),
    "branches" AS (
        UPDATE "bench"."branches" b
           SET "company_name" = 'Xxxx', "attention" = NULL, "address1" = NULL, "address2" = NULL, "city" = NULL,
               "latitude" = 0, "longitude" = 0
         WHERE b."customer_id" = ANY (erasable)
        RETURNING b."customer_id" AS k),
    "credit_checks" AS (
        DELETE FROM "bench"."credit_checks" k WHERE k."customer_id" = ANY (erasable) RETURNING k."customer_id" AS k),
    "orders" AS (
        UPDATE "bench"."orders" o SET "our_reference" = NULL, "delivery_address" = NULL
         WHERE o."customer_id" = ANY (erasable)
        RETURNING o."customer_id" AS k),
    "tickets" AS (
        UPDATE "bench"."tickets" t SET "body" = '[erased]' WHERE t."customer_id" = ANY (erasable)
        RETURNING t."customer_id" AS k),
    "order_rows" AS (
        UPDATE "bench"."order_rows" r SET "note" = NULL
          FROM "bench"."orders" o
         WHERE o."id" = r."order_id" AND o."customer_id" = ANY (erasable)
        RETURNING o."customer_id" AS k),
    "changed" AS (
        SELECT k, 'bench.customers' AS "table", 'masked' AS "action" FROM "customers"
        UNION ALL SELECT k, 'bench.branches', 'masked' FROM "branches"
        UNION ALL SELECT k, 'bench.credit_checks', 'deleted' FROM "credit_checks"
        UNION ALL SELECT k, 'bench.orders', 'masked' FROM "orders"
        UNION ALL SELECT k, 'bench.tickets', 'masked' FROM "tickets"
        UNION ALL SELECT k, 'bench.order_rows', 'masked' FROM "order_rows"
        UNION ALL SELECT i."customer_id", 'bench.invoices', 'retained'
                    FROM "bench"."invoices" i WHERE i."customer_id" = ANY (erasable)),
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

-- The floor: the blocked customers left out, everyone else changed by one UPDATE or DELETE per
-- table, with no locks taken first, no ledger and no notification. Returns the customers changed.
CREATE FUNCTION "bench"."bench_minimal_erase_set"(ids bigint[]) RETURNS bigint
LANGUAGE sql
AS $$
    WITH "erasable" AS MATERIALIZED (
        SELECT c."id" FROM "bench"."customers" c
         WHERE c."id" = ANY (ids) AND c."anonymized_at" IS NULL
           AND NOT EXISTS (SELECT FROM "bench"."orders" o WHERE o."customer_id" = c."id" AND o."status" IN ('open', 'delivered'))
           AND NOT EXISTS (SELECT FROM "bench"."invoices" i WHERE i."customer_id" = c."id" AND i."paid_at" IS NULL)),
    "customers" AS (
        UPDATE "bench"."customers" c
           SET "first_name" = 'Xxxx', "last_name" = 'Xxxx', "customer_name" = 'Xxxx', "org_number" = NULL,
               "vat_number" = NULL, "email_opt_in" = false, "post_opt_in" = false, "contact_person" = 'Xxxx',
               "phone" = NULL, "mobile" = NULL, "email" = NULL, "website" = NULL,
               "birth_date" = date_trunc('year', c."birth_date")::date, "anonymized_at" = now()
         WHERE c."id" IN (SELECT "id" FROM "erasable")
        RETURNING 1),
    "branches" AS (
        UPDATE "bench"."branches" b
           SET "company_name" = 'Xxxx', "attention" = NULL, "address1" = NULL, "address2" = NULL, "city" = NULL,
               "latitude" = 0, "longitude" = 0
         WHERE b."customer_id" IN (SELECT "id" FROM "erasable")),
    "credit_checks" AS (
        DELETE FROM "bench"."credit_checks" k WHERE k."customer_id" IN (SELECT "id" FROM "erasable")),
    "orders" AS (
        UPDATE "bench"."orders" o SET "our_reference" = NULL, "delivery_address" = NULL
         WHERE o."customer_id" IN (SELECT "id" FROM "erasable")),
    "tickets" AS (
        UPDATE "bench"."tickets" t SET "body" = '[erased]' WHERE t."customer_id" IN (SELECT "id" FROM "erasable")),
    "order_rows" AS (
        UPDATE "bench"."order_rows" r SET "note" = NULL
          FROM "bench"."orders" o
         WHERE o."id" = r."order_id" AND o."customer_id" IN (SELECT "id" FROM "erasable"))
    SELECT count(*) FROM "customers"
$$;
