-- The small benchmark shape: an ERP's customer register, shaped like seed 004 (a Swedish ERP's
-- "Ta bort kunder (GDPR)"), seven tables in schema "bench", filled set-based at a given size.
--
--   psql -X -v ON_ERROR_STOP=1 -v customers=100000 -f bench/erp/schema.sql
--
-- Per customer, about 25 rows: the customer, 2 branches (billing and visiting address), 4 orders
-- with 10 order rows, 4 invoices, 2 support tickets and 2 credit checks. Orders, tickets and
-- credit checks are drawn for random customers in time order, as a live system inserts them.
-- About 1% of customers have an order not yet invoiced and about 1% an unpaid invoice: those
-- are blocked ("all orders delivered and invoiced, all invoices paid").
--
-- Every "random" value is a hash of the row's id, so a given size always produces the same data.

\if :{?customers}
\else
  \set customers 100000
\endif

SET maintenance_work_mem = '1GB';
SET client_min_messages = warning;

DROP SCHEMA IF EXISTS "bench" CASCADE;
CREATE SCHEMA "bench";

CREATE FUNCTION "bench"."rnd"(n bigint, salt integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ((pg_catalog.hashint8extended(n, salt) & 2147483647) / 2147483648.0)::double precision $$;

CREATE FUNCTION "bench"."pick"(choices text[], n bigint, salt integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT choices[1 + floor("bench"."rnd"(n, salt) * pg_catalog.cardinality(choices))::integer] $$;

CREATE TABLE "bench"."customers" (
    "id"             bigint NOT NULL,
    "first_name"     text NOT NULL,
    "last_name"      text NOT NULL,
    "customer_name"  text NOT NULL,
    "org_number"     text,
    "vat_number"     text,
    "email_opt_in"   boolean NOT NULL,
    "post_opt_in"    boolean NOT NULL,
    "contact_person" text,
    "phone"          text,
    "mobile"         text,
    "email"          text,
    "website"        text,
    "birth_date"     date,
    "country"        char(2) NOT NULL,
    "created_at"     timestamptz NOT NULL,
    "anonymized_at"  timestamptz
);

-- A customer's billing and visiting addresses ("Fakturaadress", "Besöksadress").
CREATE TABLE "bench"."branches" (
    "id"           bigint NOT NULL,
    "customer_id"  bigint NOT NULL,
    "kind"         text NOT NULL CHECK ("kind" IN ('billing', 'visiting')),
    "company_name" text NOT NULL,
    "attention"    text,
    "address1"     text,
    "address2"     text,
    "city"         text,
    "postal_code"  text,
    "country"      char(2) NOT NULL,
    "latitude"     numeric(9, 6) NOT NULL,
    "longitude"    numeric(9, 6) NOT NULL
);

CREATE TABLE "bench"."orders" (
    "id"               bigint NOT NULL,
    "customer_id"      bigint NOT NULL,
    "status"           text NOT NULL CHECK ("status" IN ('open', 'delivered', 'invoiced', 'cancelled')),
    "our_reference"    text,
    "delivery_address" text,
    "total"            numeric(12, 2) NOT NULL,
    "ordered_at"       timestamptz NOT NULL
);

CREATE TABLE "bench"."order_rows" (
    "id"          bigint NOT NULL,
    "order_id"    bigint NOT NULL,
    "article"     text NOT NULL,
    "quantity"    integer NOT NULL,
    "price"       numeric(12, 2) NOT NULL,
    "note"        text
);

CREATE TABLE "bench"."invoices" (
    "id"            bigint NOT NULL,
    "customer_id"   bigint NOT NULL,
    "order_id"      bigint NOT NULL,
    "number"        text NOT NULL,
    "customer_name" text NOT NULL,
    "address"       text,
    "total"         numeric(12, 2) NOT NULL,
    "issued_at"     date NOT NULL,
    "paid_at"       date
);

CREATE TABLE "bench"."tickets" (
    "id"          bigint NOT NULL,
    "customer_id" bigint NOT NULL,
    "subject"     text NOT NULL,
    "body"        text NOT NULL,
    "created_at"  timestamptz NOT NULL
);

-- Credit checks and ratings ("Kreditkontroll / Rating-uppgifter ... tas bort").
CREATE TABLE "bench"."credit_checks" (
    "id"          bigint NOT NULL,
    "customer_id" bigint NOT NULL,
    "checked_at"  timestamptz NOT NULL,
    "rating"      text NOT NULL,
    "report"      text NOT NULL
);

INSERT INTO "bench"."customers"
SELECT c,
       "bench"."pick"('{Anna,Erik,Karin,Lars,Maria,Nils,Sara,Johan,Eva,Olof}', c, 1),
       "bench"."pick"('{Andersson,Johansson,Karlsson,Nilsson,Eriksson,Larsson,Olsson,Persson}', c, 2),
       "bench"."pick"('{Bygg,Måleri,Konsult,Transport,Elektriska,VVS}', c, 3) || ' ' || c || ' AB',
       lpad((floor("bench"."rnd"(c, 4) * 10000000000))::bigint::text, 10, '0'),
       'SE' || lpad((floor("bench"."rnd"(c, 4) * 10000000000))::bigint::text, 10, '0') || '01',
       "bench"."rnd"(c, 5) < 0.5,
       "bench"."rnd"(c, 6) < 0.3,
       "bench"."pick"('{Anna,Erik,Karin,Lars}', c, 7) || ' ' || "bench"."pick"('{Berg,Lund,Ström,Holm}', c, 8),
       '08-' || lpad((floor("bench"."rnd"(c, 9) * 10000000))::bigint::text, 7, '0'),
       '070-' || lpad((floor("bench"."rnd"(c, 10) * 10000000))::bigint::text, 7, '0'),
       'kund' || c || '@example.se',
       CASE WHEN "bench"."rnd"(c, 11) < 0.5 THEN 'https://kund' || c || '.example.se' END,
       date '1950-01-01' + floor("bench"."rnd"(c, 12) * 20000)::integer,
       CASE WHEN "bench"."rnd"(c, 13) < 0.9 THEN 'SE' ELSE "bench"."pick"('{NO,DK,FI}', c, 14) END,
       timestamptz '2019-01-01' + "bench"."rnd"(c, 15) * interval '6 years',
       NULL
  FROM generate_series(1, :customers::bigint) AS c;

INSERT INTO "bench"."branches"
SELECT 2 * c.id - 1 + k, c.id, CASE k WHEN 0 THEN 'billing' ELSE 'visiting' END,
       c.customer_name, CASE WHEN k = 0 THEN c.contact_person END,
       "bench"."pick"('{Storgatan,Drottninggatan,Kungsgatan,Sveavägen}', c.id * 2 + k, 20) || ' '
         || (1 + floor("bench"."rnd"(c.id * 2 + k, 21) * 90))::integer,
       CASE WHEN "bench"."rnd"(c.id * 2 + k, 22) < 0.3 THEN 'Box ' || (100 + floor("bench"."rnd"(c.id, 23) * 900))::integer END,
       "bench"."pick"('{Stockholm,Göteborg,Malmö,Uppsala,Västerås}', c.id, 24),
       lpad((10000 + floor("bench"."rnd"(c.id * 2 + k, 25) * 89999))::integer::text, 5, '0'),
       c.country,
       round((55 + "bench"."rnd"(c.id * 2 + k, 26) * 14)::numeric, 6),
       round((11 + "bench"."rnd"(c.id * 2 + k, 27) * 13)::numeric, 6)
  FROM "bench"."customers" c
 CROSS JOIN generate_series(0, 1) AS k;

-- 1 order in 400 is still open: about 1% of customers have one.
INSERT INTO "bench"."orders"
SELECT o, c.id,
       CASE WHEN "bench"."rnd"(o, 31) < 0.0025 THEN 'open'
            WHEN "bench"."rnd"(o, 31) < 0.03 THEN 'cancelled'
            ELSE 'invoiced' END,
       c.contact_person,
       'Storgatan ' || (1 + floor("bench"."rnd"(o, 32) * 90))::integer || ', ' || c.customer_name,
       round((100 + "bench"."rnd"(o, 33) * 9900)::numeric, 2),
       timestamptz '2019-01-01' + o * (interval '6 years' / (4 * :customers::bigint))
  FROM generate_series(1, 4 * :customers::bigint) AS o
  JOIN "bench"."customers" c ON c.id = 1 + floor("bench"."rnd"(o, 30) * :customers::bigint)::bigint;

-- 1 to 4 rows per order, 2.5 on average.
INSERT INTO "bench"."order_rows"
SELECT 4 * (o.id - 1) + k, o.id,
       "bench"."pick"('{Montering,Material,Resa,Konsulttimme,Skruv M8,Kabel 10 m}', o.id * 4 + k, 40),
       1 + floor("bench"."rnd"(o.id * 4 + k, 41) * 10)::integer,
       round((10 + "bench"."rnd"(o.id * 4 + k, 42) * 990)::numeric, 2),
       CASE WHEN "bench"."rnd"(o.id * 4 + k, 43) < 0.1 THEN 'Ring ' || o.our_reference || ' före leverans' END
  FROM "bench"."orders" o
 CROSS JOIN LATERAL generate_series(1, 1 + floor("bench"."rnd"(o.id, 44) * 4)::integer) AS k;

-- One invoice per invoiced order; 1 in 400 is unpaid. Bookkeeping law keeps them as issued.
INSERT INTO "bench"."invoices"
SELECT o.id, o.customer_id, o.id, 'F' || lpad(o.id::text, 9, '0'), c.customer_name, o.delivery_address,
       o.total, o.ordered_at::date,
       CASE WHEN "bench"."rnd"(o.id, 50) >= 0.0025 THEN o.ordered_at::date + 30 END
  FROM "bench"."orders" o
  JOIN "bench"."customers" c ON c.id = o.customer_id
 WHERE o.status = 'invoiced';

INSERT INTO "bench"."tickets"
SELECT t, c.id,
       "bench"."pick"('{Fakturafråga,Leveransfråga,Reklamation}', t, 61),
       'Hej, det är ' || c.contact_person || ', ring mig på ' || c.mobile || '.',
       timestamptz '2019-01-01' + t * (interval '6 years' / (2 * :customers::bigint))
  FROM generate_series(1, 2 * :customers::bigint) AS t
  JOIN "bench"."customers" c ON c.id = 1 + floor("bench"."rnd"(t, 60) * :customers::bigint)::bigint;

INSERT INTO "bench"."credit_checks"
SELECT k, 1 + floor("bench"."rnd"(k, 70) * :customers::bigint)::bigint,
       timestamptz '2019-01-01' + k * (interval '6 years' / (2 * :customers::bigint)),
       "bench"."pick"('{AAA,AA,A,B,C}', k, 71),
       'Kreditupplysning: ' || "bench"."pick"('{inga anmärkningar,1 betalningsanmärkning,skuldsaldo}', k, 72)
  FROM generate_series(1, 2 * :customers::bigint) AS k;

ALTER TABLE "bench"."customers" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."branches" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."orders" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."order_rows" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."invoices" ADD PRIMARY KEY ("id"), ADD UNIQUE ("number");
ALTER TABLE "bench"."tickets" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."credit_checks" ADD PRIMARY KEY ("id");

CREATE INDEX ON "bench"."branches" ("customer_id");
CREATE INDEX ON "bench"."orders" ("customer_id");
CREATE INDEX ON "bench"."order_rows" ("order_id");
CREATE INDEX ON "bench"."invoices" ("customer_id");
CREATE INDEX ON "bench"."invoices" ("order_id");
CREATE INDEX ON "bench"."tickets" ("customer_id");
CREATE INDEX ON "bench"."credit_checks" ("customer_id");

ALTER TABLE "bench"."branches" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers";
ALTER TABLE "bench"."orders" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers";
ALTER TABLE "bench"."order_rows" ADD FOREIGN KEY ("order_id") REFERENCES "bench"."orders";
ALTER TABLE "bench"."invoices" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers",
                               ADD FOREIGN KEY ("order_id") REFERENCES "bench"."orders";
ALTER TABLE "bench"."tickets" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers";
ALTER TABLE "bench"."credit_checks" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers";

DROP FUNCTION "bench"."pick"(text[], bigint, integer);
DROP FUNCTION "bench"."rnd"(bigint, integer);

VACUUM (ANALYZE);
