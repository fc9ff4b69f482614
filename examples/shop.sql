-- A Brazilian web shop, as in seed 000: customers (individuals with a CPF, companies with a
-- CNPJ), their orders and order items, invoices kept for bookkeeping law, subscriptions and the
-- e-mails sent to them.
CREATE SCHEMA shop;
CREATE SCHEMA billing;

CREATE TABLE shop.customers (
    id               bigint PRIMARY KEY,
    person_type      text NOT NULL CHECK (person_type IN ('individual', 'company')),
    full_name        text NOT NULL,
    company_name     text,
    cpf              text,
    cnpj             text,
    email            text NOT NULL UNIQUE,
    phone            text,
    street           text,
    number           text,
    district         text,
    city             text,
    uf               char(2) NOT NULL,
    postal_code      text,
    country          text NOT NULL DEFAULT 'BR',
    birth_date       date,
    marketing_opt_in boolean NOT NULL DEFAULT false,
    latitude         numeric(9, 6),
    longitude        numeric(9, 6),
    profile          jsonb NOT NULL DEFAULT '{}',
    anonymized_at    timestamptz
);

CREATE TABLE shop.orders (
    id              bigint PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES shop.customers,
    status          text NOT NULL CHECK (status IN ('awaiting_payment', 'paid', 'shipped', 'delivered', 'cancelled')),
    shipping_name   text,
    shipping_street text,
    shipping_city   text,
    shipping_uf     char(2),
    payment_method  text NOT NULL,
    total           numeric(10, 2) NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX ON shop.orders (customer_id);

CREATE TABLE shop.order_items (
    id       bigint PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES shop.orders,
    product  text NOT NULL,
    price    numeric(10, 2) NOT NULL,
    quantity integer NOT NULL
);
CREATE INDEX ON shop.order_items (order_id);

CREATE TABLE billing.invoices (
    id                bigint PRIMARY KEY,
    customer_id       bigint NOT NULL REFERENCES shop.customers,
    order_id          bigint REFERENCES shop.orders,
    number            text NOT NULL UNIQUE,
    customer_name     text NOT NULL,
    customer_document text NOT NULL,
    total             numeric(10, 2) NOT NULL,
    issued_at         date NOT NULL,
    paid              boolean NOT NULL
);
CREATE INDEX ON billing.invoices (customer_id);

CREATE TABLE billing.subscriptions (
    id          bigint PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES shop.customers,
    plan        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('setup', 'active', 'ended'))
);
CREATE INDEX ON billing.subscriptions (customer_id);

CREATE TABLE shop.email_log (
    id          bigint PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES shop.customers,
    sent_at     timestamptz NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL
);
CREATE INDEX ON shop.email_log (customer_id);

INSERT INTO shop.customers (id, person_type, full_name, company_name, cpf, cnpj, email, phone, street, number,
                            district, city, uf, postal_code, birth_date, marketing_opt_in, latitude, longitude, profile) VALUES
    (1, 'individual', 'Ana Beatriz Souza', NULL, '123.456.789-09', NULL, 'ana.souza@example.com.br', '+55 11 98765-4321',
     'Rua das Flores', '120', 'Pinheiros', 'São Paulo', 'SP', '05422-010', '1988-03-14', true, -23.561684, -46.682231,
     '{"nickname": "Bia", "preferences": {"newsletter": true}, "address": {"street": "Rua das Flores 120", "city": "São Paulo"}}'),
    (2, 'company', 'Carlos Mendes', 'Mendes Tecnologia Ltda', NULL, '12.345.678/0001-95', 'compras@mendestec.example.com.br',
     '+55 21 3333-4444', 'Av. Atlântica', '1702', 'Copacabana', 'Rio de Janeiro', 'RJ', '22021-001', NULL, false,
     -22.971177, -43.182543, '{"nickname": "Mendes", "preferences": {"newsletter": false}}'),
    (3, 'individual', 'João Pedro Lima', NULL, '987.654.321-00', NULL, 'joao.lima@example.com.br', '+55 31 99876-5432',
     'Rua da Bahia', '45', 'Centro', 'Belo Horizonte', 'MG', '30160-011', '1995-11-02', true, -19.919052, -43.938669,
     '{"nickname": "JP"}'),
    (4, 'individual', 'Mariana Costa', NULL, '111.222.333-96', NULL, 'mari.costa@example.com.br', '+55 51 98888-7777',
     'Rua dos Andradas', '900', 'Centro Histórico', 'Porto Alegre', 'RS', '90020-007', '1979-06-30', false, -30.028309, -51.228564,
     '{}');

INSERT INTO shop.orders VALUES
    (1001, 1, 'delivered', 'Ana Beatriz Souza', 'Rua das Flores 120', 'São Paulo', 'SP', 'pix', 259.80, '2025-08-02 14:10+00'),
    (1002, 1, 'delivered', 'Ana Souza (presente)', 'Rua Augusta 500', 'São Paulo', 'SP', 'credit_card', 89.90, '2025-12-20 09:30+00'),
    (2001, 2, 'shipped', 'Mendes Tecnologia', 'Av. Atlântica 1702', 'Rio de Janeiro', 'RJ', 'boleto', 1890.00, '2026-10-28 16:45+00'),
    (3001, 3, 'awaiting_payment', 'João Pedro Lima', 'Rua da Bahia 45', 'Belo Horizonte', 'MG', 'boleto', 149.90, '2026-11-20 11:00+00');
INSERT INTO shop.order_items VALUES
    (1, 1001, 'Cafeteira italiana', 129.90, 2), (2, 1002, 'Caneca personalizada "Bia"', 89.90, 1),
    (3, 2001, 'Monitor 27"', 945.00, 2), (4, 3001, 'Mochila', 149.90, 1);
INSERT INTO billing.invoices VALUES
    (1, 1, 1001, 'NF-2025-000381', 'Ana Beatriz Souza', '123.456.789-09', 259.80, '2025-08-02', true),
    (2, 1, 1002, 'NF-2025-001207', 'Ana Beatriz Souza', '123.456.789-09', 89.90, '2025-12-20', true),
    (3, 2, 2001, 'NF-2026-000918', 'Mendes Tecnologia Ltda', '12.345.678/0001-95', 1890.00, '2026-10-28', true);
INSERT INTO billing.subscriptions VALUES
    (1, 1, 'Clube do Café', 'ended'), (2, 2, 'Suporte Empresarial', 'active'), (3, 1, 'Clube do Chá', 'setup');
INSERT INTO shop.email_log VALUES
    (1, 1, '2025-08-02 14:11+00', 'Pedido 1001 confirmado', 'Olá Ana, seu pedido foi confirmado.'),
    (2, 1, '2025-12-20 09:31+00', 'Pedido 1002 confirmado', 'Olá Ana, obrigado pela compra!'),
    (3, 3, '2026-11-20 11:01+00', 'Boleto do pedido 3001', 'Olá João, segue o boleto.');
