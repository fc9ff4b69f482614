-- The benchmark shop: twelve tables in schema "bench", shaped like the seed's web shop, filled
-- set-based at a given size.
--
--   psql -X -v ON_ERROR_STOP=1 -v customers=1000000 -f bench/shop/schema.sql
--
-- Fan-out per customer, on average: 1.5 addresses, 5 orders, 15 order items, 5 payments,
-- 5 invoices, 0.3 subscriptions, 1 appointment, 0.5 support tickets and 30 log rows (10 e-mails,
-- 15 activity events, 5 webhook calls). Orders, appointments, tickets and log rows are drawn
-- for random customers in time order, as a live shop inserts them, so a customer's rows are
-- spread over the heap instead of sitting on one page. About 1% of customers have an order
-- awaiting payment and about 1% an active subscription: those are blocked.
--
-- Every "random" value is a hash of the row's id, so a given size always produces the same data.
-- Tables are loaded bare; keys, foreign keys and indexes come after, then VACUUM so that no
-- benchmark pays for setting hint bits (not FREEZE: at 5M customers its WAL would need another
-- 50 GB of disk).

\if :{?customers}
\else
  \set customers 1000000
\endif

SET maintenance_work_mem = '1GB';
SET max_parallel_maintenance_workers = 2;
SET client_min_messages = warning;

DROP SCHEMA IF EXISTS "bench" CASCADE;
CREATE SCHEMA "bench";

-- A uniform value in [0, 1) drawn from (n, salt); inlined by the planner (SQL, immutable).
CREATE FUNCTION "bench"."rnd"(n bigint, salt integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ((pg_catalog.hashint8extended(n, salt) & 2147483647) / 2147483648.0)::double precision $$;

-- One of the values of a small list, picked by (n, salt).
CREATE FUNCTION "bench"."pick"(choices text[], n bigint, salt integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT choices[1 + floor("bench"."rnd"(n, salt) * pg_catalog.cardinality(choices))::integer] $$;

CREATE TABLE "bench"."customers" (
    "id"               bigint NOT NULL,
    "full_name"        text NOT NULL,
    "email"            text NOT NULL,
    "phone"            text,
    "birth_date"       date,
    "tax_id"           text,
    "street"           text,
    "street_number"    text,
    "city"             text,
    "state"            char(2) NOT NULL,
    "postal_code"      text,
    "country"          char(2) NOT NULL,
    "marketing_opt_in" boolean NOT NULL,
    "created_at"       timestamptz NOT NULL,
    "anonymized_at"    timestamptz
);

CREATE TABLE "bench"."addresses" (
    "id"             bigint NOT NULL,
    "customer_id"    bigint NOT NULL,
    "label"          text NOT NULL,
    "recipient_name" text NOT NULL,
    "street"         text,
    "street_number"  text,
    "city"           text,
    "state"          char(2) NOT NULL,
    "postal_code"    text,
    "country"        char(2) NOT NULL
);

CREATE TABLE "bench"."orders" (
    "id"                   bigint NOT NULL,
    "customer_id"          bigint NOT NULL,
    "status"               text NOT NULL
        CHECK ("status" IN ('awaiting_payment', 'paid', 'shipped', 'delivered', 'cancelled')),
    "shipping_name"        text NOT NULL,
    "shipping_street"      text,
    "shipping_city"        text,
    "shipping_postal_code" text,
    "shipping_phone"       text,
    "notes"                text,
    "total"                numeric(10, 2) NOT NULL,
    "created_at"           timestamptz NOT NULL
);

CREATE TABLE "bench"."order_items" (
    "id"           bigint NOT NULL,
    "order_id"     bigint NOT NULL,
    "product"      text NOT NULL,
    "unit_price"   numeric(10, 2) NOT NULL,
    "quantity"     integer NOT NULL,
    "gift_message" text
);

CREATE TABLE "bench"."payments" (
    "id"          bigint NOT NULL,
    "order_id"    bigint NOT NULL,
    "method"      text NOT NULL,
    "card_holder" text,
    "card_last4"  text,
    "amount"      numeric(10, 2) NOT NULL,
    "paid_at"     timestamptz
);

CREATE TABLE "bench"."invoices" (
    "id"              bigint NOT NULL,
    "customer_id"     bigint NOT NULL,
    "order_id"        bigint NOT NULL,
    "number"          text NOT NULL,
    "customer_name"   text NOT NULL,
    "customer_tax_id" text,
    "billing_address" text,
    "total"           numeric(10, 2) NOT NULL,
    "issued_at"       date NOT NULL
);

CREATE TABLE "bench"."subscriptions" (
    "id"          bigint NOT NULL,
    "customer_id" bigint NOT NULL,
    "plan"        text NOT NULL,
    "status"      text NOT NULL CHECK ("status" IN ('active', 'ended')),
    "started_at"  date NOT NULL,
    "ended_at"    date
);

CREATE TABLE "bench"."appointments" (
    "id"          bigint NOT NULL,
    "customer_id" bigint NOT NULL,
    "starts_at"   timestamptz NOT NULL,
    "service"     text NOT NULL,
    "notes"       text
);

CREATE TABLE "bench"."support_tickets" (
    "id"          bigint NOT NULL,
    "customer_id" bigint NOT NULL,
    "subject"     text NOT NULL,
    "body"        text NOT NULL,
    "status"      text NOT NULL,
    "created_at"  timestamptz NOT NULL
);

CREATE TABLE "bench"."email_log" (
    "id"          bigint NOT NULL,
    "customer_id" bigint NOT NULL,
    "sent_at"     timestamptz NOT NULL,
    "template"    text NOT NULL,
    "to_address"  text NOT NULL,
    "subject"     text NOT NULL
);

CREATE TABLE "bench"."activity_log" (
    "id"          bigint NOT NULL,
    "customer_id" bigint NOT NULL,
    "at"          timestamptz NOT NULL,
    "ip"          inet NOT NULL,
    "user_agent"  text NOT NULL,
    "path"        text NOT NULL
);

CREATE TABLE "bench"."webhook_log" (
    "id"          bigint NOT NULL,
    "customer_id" bigint NOT NULL,
    "at"          timestamptz NOT NULL,
    "event"       text NOT NULL,
    "payload"     jsonb NOT NULL
);

-- ---------------------------------------------------------------------------------------------
-- Data. Names are built from short lists; e-mails are unique because they carry the id.

INSERT INTO "bench"."customers"
SELECT c,
       "bench"."pick"('{Ana,Bruno,Carla,Daniel,Elisa,Felipe,Gabriela,Hugo,Isabel,João,Karin,Lucas}', c, 1)
         || ' ' || "bench"."pick"('{Silva,Souza,Costa,Lima,Andersson,Nilsson,Martin,Rossi,Müller,Santos}', c, 2),
       'customer' || c || '@example.com',
       '+55 11 9' || lpad((floor("bench"."rnd"(c, 3) * 100000000))::bigint::text, 8, '0'),
       date '1950-01-01' + floor("bench"."rnd"(c, 4) * 20000)::integer,
       lpad((floor("bench"."rnd"(c, 5) * 100000000000))::bigint::text, 11, '0'),
       "bench"."pick"('{Rua das Flores,Av. Paulista,Rua Augusta,Storgatan,Rue de Rivoli,Via Roma}', c, 6),
       (1 + floor("bench"."rnd"(c, 7) * 2000))::integer::text,
       "bench"."pick"('{São Paulo,Rio de Janeiro,Belo Horizonte,Porto Alegre,Curitiba,Recife}', c, 8),
       "bench"."pick"('{SP,RJ,MG,RS,PR,PE}', c, 8),
       lpad((floor("bench"."rnd"(c, 9) * 100000))::integer::text, 5, '0') || '-000',
       CASE WHEN "bench"."rnd"(c, 10) < 0.9 THEN 'BR' ELSE "bench"."pick"('{PT,SE,FR,IT}', c, 11) END,
       "bench"."rnd"(c, 12) < 0.4,
       timestamptz '2019-01-01' + "bench"."rnd"(c, 13) * interval '6 years',
       NULL
  FROM generate_series(1, :customers::bigint) AS c;

-- Every customer has a home address; half have a second one (work, a relative's).
INSERT INTO "bench"."addresses"
SELECT 2 * c.id - 1 + k, c.id,
       CASE k WHEN 0 THEN 'home' ELSE 'work' END,
       c.full_name, c.street, c.street_number, c.city, c.state, c.postal_code, c.country
  FROM "bench"."customers" c
 CROSS JOIN LATERAL generate_series(0, CASE WHEN "bench"."rnd"(c.id, 20) < 0.5 THEN 1 ELSE 0 END) AS k;

-- 1 order in 500 awaits payment: about 1% of customers have one.
INSERT INTO "bench"."orders"
SELECT o, c.id,
       CASE WHEN "bench"."rnd"(o, 31) < 0.002 THEN 'awaiting_payment'
            WHEN "bench"."rnd"(o, 31) < 0.05 THEN 'cancelled'
            WHEN "bench"."rnd"(o, 31) < 0.07 THEN 'paid'
            WHEN "bench"."rnd"(o, 31) < 0.10 THEN 'shipped'
            ELSE 'delivered' END,
       c.full_name, c.street || ' ' || c.street_number, c.city, c.postal_code, c.phone,
       CASE WHEN "bench"."rnd"(o, 32) < 0.1 THEN 'Deixar com o porteiro, falar com ' || c.full_name END,
       round((10 + "bench"."rnd"(o, 33) * 990)::numeric, 2),
       timestamptz '2019-01-01' + o * (interval '6 years' / (5 * :customers::bigint))
  FROM generate_series(1, 5 * :customers::bigint) AS o
  JOIN "bench"."customers" c ON c.id = 1 + floor("bench"."rnd"(o, 30) * :customers::bigint)::bigint;

-- 1 to 5 items per order, 3 on average; ids are dense per order.
INSERT INTO "bench"."order_items"
SELECT 5 * (o.id - 1) + k, o.id,
       "bench"."pick"('{Cafeteira italiana,Caneca,Monitor 27 polegadas,Mochila,Livro,Fone de ouvido,Camiseta,Luminária}', o.id * 5 + k, 40),
       round((5 + "bench"."rnd"(o.id * 5 + k, 41) * 300)::numeric, 2),
       1 + floor("bench"."rnd"(o.id * 5 + k, 42) * 3)::integer,
       CASE WHEN "bench"."rnd"(o.id * 5 + k, 43) < 0.05 THEN 'Feliz aniversário! Com carinho, ' || o.shipping_name END
  FROM "bench"."orders" o
 CROSS JOIN LATERAL generate_series(1, 1 + floor("bench"."rnd"(o.id, 44) * 5)::integer) AS k;

INSERT INTO "bench"."payments"
SELECT o.id, o.id, m.method,
       CASE WHEN m.method = 'credit_card' THEN upper(o.shipping_name) END,
       CASE WHEN m.method = 'credit_card' THEN lpad((floor("bench"."rnd"(o.id, 51) * 10000))::integer::text, 4, '0') END,
       o.total,
       CASE WHEN o.status <> 'awaiting_payment' THEN o.created_at + interval '10 minutes' END
  FROM "bench"."orders" o
 CROSS JOIN LATERAL (SELECT "bench"."pick"('{credit_card,credit_card,pix,boleto}', o.id, 50) AS method) m;

-- One invoice per order; bookkeeping law keeps them as issued.
INSERT INTO "bench"."invoices"
SELECT o.id, o.customer_id, o.id, 'NF-' || lpad(o.id::text, 10, '0'),
       o.shipping_name, c.tax_id, o.shipping_street || ', ' || o.shipping_city, o.total, o.created_at::date
  FROM "bench"."orders" o
  JOIN "bench"."customers" c ON c.id = o.customer_id;

-- 30% of customers subscribe; 1 subscription in 30 is still active.
INSERT INTO "bench"."subscriptions"
SELECT c, c,
       "bench"."pick"('{Clube do Café,Clube do Livro,Frete Grátis}', c, 61),
       CASE WHEN "bench"."rnd"(c, 62) < 1.0 / 30 THEN 'active' ELSE 'ended' END,
       date '2019-01-01' + floor("bench"."rnd"(c, 63) * 1000)::integer,
       CASE WHEN "bench"."rnd"(c, 62) < 1.0 / 30 THEN NULL ELSE date '2022-01-01' + floor("bench"."rnd"(c, 64) * 1000)::integer END
  FROM generate_series(1, :customers::bigint) AS c
 WHERE "bench"."rnd"(c, 60) < 0.3;

INSERT INTO "bench"."appointments"
SELECT a, 1 + floor("bench"."rnd"(a, 70) * :customers::bigint)::bigint,
       timestamptz '2019-01-01' + a * (interval '6 years' / :customers::bigint),
       "bench"."pick"('{Montagem,Consultoria,Retirada na loja,Troca}', a, 71),
       CASE WHEN "bench"."rnd"(a, 72) < 0.3 THEN 'Cliente pediu para ligar antes' END
  FROM generate_series(1, :customers::bigint) AS a;

INSERT INTO "bench"."support_tickets"
SELECT t, c.id,
       "bench"."pick"('{Pedido atrasado,Troca de produto,Nota fiscal,Cancelamento}', t, 81),
       'Olá, meu nome é ' || c.full_name || ', meu telefone é ' || c.phone || '. ' ||
         "bench"."pick"('{O pedido não chegou.,Quero trocar o tamanho.,Preciso da segunda via.}', t, 82),
       CASE WHEN "bench"."rnd"(t, 83) < 0.9 THEN 'closed' ELSE 'open' END,
       timestamptz '2019-01-01' + t * (interval '6 years' / (:customers::bigint / 2 + 1))
  FROM generate_series(1, :customers::bigint / 2) AS t
  JOIN "bench"."customers" c ON c.id = 1 + floor("bench"."rnd"(t, 80) * :customers::bigint)::bigint;

INSERT INTO "bench"."email_log"
SELECT e, c.id,
       timestamptz '2019-01-01' + e * (interval '6 years' / (10 * :customers::bigint)),
       "bench"."pick"('{order_confirmed,order_shipped,newsletter,password_reset}', e, 91),
       c.email,
       "bench"."pick"('{Seu pedido foi confirmado,Seu pedido saiu para entrega,Novidades da semana,Redefinir senha}', e, 91)
  FROM generate_series(1, 10 * :customers::bigint) AS e
  JOIN "bench"."customers" c ON c.id = 1 + floor("bench"."rnd"(e, 90) * :customers::bigint)::bigint;

INSERT INTO "bench"."activity_log"
SELECT a, 1 + floor("bench"."rnd"(a, 100) * :customers::bigint)::bigint,
       timestamptz '2019-01-01' + a * (interval '6 years' / (15 * :customers::bigint)),
       ('10.0.0.0'::inet + floor("bench"."rnd"(a, 101) * 16777216)::bigint),
       "bench"."pick"('{Mozilla/5.0 (Windows NT 10.0; Win64; x64),Mozilla/5.0 (iPhone; CPU iPhone OS 17_0),Mozilla/5.0 (X11; Linux x86_64)}', a, 102),
       "bench"."pick"('{/,/cart,/checkout,/account,/products/42,/search?q=caneca}', a, 103)
  FROM generate_series(1, 15 * :customers::bigint) AS a;

INSERT INTO "bench"."webhook_log"
SELECT w, c.id,
       timestamptz '2019-01-01' + w * (interval '6 years' / (5 * :customers::bigint)),
       "bench"."pick"('{order.created,order.paid,order.shipped,customer.updated}', w, 111),
       jsonb_build_object('customer', jsonb_build_object('id', c.id, 'name', c.full_name, 'email', c.email),
                          'attempt', 1 + floor("bench"."rnd"(w, 112) * 3)::integer)
  FROM generate_series(1, 5 * :customers::bigint) AS w
  JOIN "bench"."customers" c ON c.id = 1 + floor("bench"."rnd"(w, 110) * :customers::bigint)::bigint;

-- ---------------------------------------------------------------------------------------------
-- Keys and indexes, built once on the loaded tables: an index on every foreign key, as the
-- erasure (engine and baseline alike) finds a customer's rows through them.

ALTER TABLE "bench"."customers" ADD PRIMARY KEY ("id"), ADD UNIQUE ("email");
ALTER TABLE "bench"."addresses" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."orders" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."order_items" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."payments" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."invoices" ADD PRIMARY KEY ("id"), ADD UNIQUE ("number");
ALTER TABLE "bench"."subscriptions" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."appointments" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."support_tickets" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."email_log" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."activity_log" ADD PRIMARY KEY ("id");
ALTER TABLE "bench"."webhook_log" ADD PRIMARY KEY ("id");

CREATE INDEX ON "bench"."addresses" ("customer_id");
CREATE INDEX ON "bench"."orders" ("customer_id");
CREATE INDEX ON "bench"."order_items" ("order_id");
CREATE INDEX ON "bench"."payments" ("order_id");
CREATE INDEX ON "bench"."invoices" ("customer_id");
CREATE INDEX ON "bench"."invoices" ("order_id");
CREATE INDEX ON "bench"."subscriptions" ("customer_id");
CREATE INDEX ON "bench"."appointments" ("customer_id");
CREATE INDEX ON "bench"."support_tickets" ("customer_id");
CREATE INDEX ON "bench"."email_log" ("customer_id");
CREATE INDEX ON "bench"."activity_log" ("customer_id");
CREATE INDEX ON "bench"."webhook_log" ("customer_id");

ALTER TABLE "bench"."addresses" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers";
ALTER TABLE "bench"."orders" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers";
ALTER TABLE "bench"."order_items" ADD FOREIGN KEY ("order_id") REFERENCES "bench"."orders";
ALTER TABLE "bench"."payments" ADD FOREIGN KEY ("order_id") REFERENCES "bench"."orders";
ALTER TABLE "bench"."invoices" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers",
                               ADD FOREIGN KEY ("order_id") REFERENCES "bench"."orders";
ALTER TABLE "bench"."subscriptions" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers";
ALTER TABLE "bench"."appointments" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers";
ALTER TABLE "bench"."support_tickets" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers";
ALTER TABLE "bench"."email_log" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers";
ALTER TABLE "bench"."activity_log" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers";
ALTER TABLE "bench"."webhook_log" ADD FOREIGN KEY ("customer_id") REFERENCES "bench"."customers";

-- The generator's helpers are no part of the shop.
DROP FUNCTION "bench"."pick"(text[], bigint, integer);
DROP FUNCTION "bench"."rnd"(bigint, integer);

VACUUM (ANALYZE);
