-- Which customers each measurement erases, drawn once into the template database so that every
-- contender, working on its own copy, erases the same customers in the same order.
--
--   psql -X -v ON_ERROR_STOP=1 -v bulk=100000 -v batch=1000 -f bench/workload.sql
--
-- bulk_queue: the bulk measurement's customers, a random sample of all customers (the blocked
-- ones included, as in a real clean-up run), cut into batches.
-- single_queue: every other customer nothing blocks, shuffled; the single-erasure and OLTP
-- scripts take the next one from single_seq, so each customer is erased once.
-- blocked_queue: the blocked customers outside the bulk sample, shuffled; the refused-erasure
-- scripts take the next one from blocked_seq (blocked_seq cycles: a refusal changes nothing).

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
   AND NOT "bench"."blocked"(c."id");

CREATE TABLE "bench"."blocked_queue" (
    "seq"         bigint PRIMARY KEY,
    "customer_id" bigint NOT NULL
);
INSERT INTO "bench"."blocked_queue"
SELECT row_number() OVER (ORDER BY pg_catalog.hashint8extended(c."id", 3)), c."id"
  FROM "bench"."customers" c
 WHERE NOT EXISTS (SELECT FROM "bench"."bulk_queue" b WHERE b."customer_id" = c."id")
   AND "bench"."blocked"(c."id");
-- The refused erasure of a blocked customer, caught, for both contenders: 'refused' when the
-- blockers refused it (55000), as both must.
CREATE FUNCTION "bench"."refused"(erasure text, id bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE pg_catalog.format('SELECT %s($1)', erasure) USING id;
    RETURN 'erased';
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    RETURN 'refused';
END $$;

SELECT GREATEST(pg_catalog.count(*), 1) AS blocked_queue_max FROM "bench"."blocked_queue" \gset
CREATE SEQUENCE "bench"."blocked_seq" CYCLE MAXVALUE :blocked_queue_max;
CREATE SEQUENCE "bench"."single_seq";
CREATE SEQUENCE "bench"."bulk_seq";

ANALYZE "bench"."bulk_queue", "bench"."single_queue", "bench"."blocked_queue";
