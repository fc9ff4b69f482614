-- Which customers each measurement erases, drawn once into the template database so that every
-- contender, working on its own copy, erases the same customers in the same order.
--
--   psql -X -v ON_ERROR_STOP=1 -v bulk=100000 -v batch=1000 -f bench/workload.sql
--
-- bulk_queue: the bulk measurement's customers, a random sample of all customers (the blocked
-- ones included, as in a real clean-up run), cut into batches.
-- single_queue: every other customer nothing blocks, shuffled; the single-erasure and OLTP
-- scripts take the next one from single_seq, so each customer is erased once.

CREATE TABLE "bench"."bulk_queue" (
    "batch"       integer NOT NULL,
    "customer_id" bigint NOT NULL
);
INSERT INTO "bench"."bulk_queue"
SELECT (row_number() OVER (ORDER BY s.h) - 1) / :batch + 1, s."id"
  FROM (SELECT c."id", pg_catalog.hashint8extended(c."id", 1) AS h
          FROM "bench"."customers" c
         ORDER BY h
         LIMIT :bulk) s;
CREATE INDEX ON "bench"."bulk_queue" ("batch");

CREATE TABLE "bench"."single_queue" (
    "seq"         bigint PRIMARY KEY,
    "customer_id" bigint NOT NULL
);
INSERT INTO "bench"."single_queue"
SELECT row_number() OVER (ORDER BY pg_catalog.hashint8extended(c."id", 2)), c."id"
  FROM "bench"."customers" c
 WHERE NOT EXISTS (SELECT FROM "bench"."bulk_queue" b WHERE b."customer_id" = c."id")
   AND NOT EXISTS (SELECT FROM "bench"."orders" o WHERE o."customer_id" = c."id" AND o."status" = 'awaiting_payment')
   AND NOT EXISTS (SELECT FROM "bench"."subscriptions" s WHERE s."customer_id" = c."id" AND s."status" = 'active');

CREATE SEQUENCE "bench"."single_seq";
CREATE SEQUENCE "bench"."bulk_seq";

ANALYZE "bench"."bulk_queue", "bench"."single_queue";
