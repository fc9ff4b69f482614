-- Erasure lifecycle: preview, modes (anonymize, delete, auto), idempotent repeats, the ledger
-- (and that it holds nothing personal), is_erased and ledger_since.
SET client_min_messages = warning;  -- whether another suite created it first does not matter
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA life;
CREATE TABLE life.clients (id integer PRIMARY KEY, full_name text NOT NULL, cpf text, email text UNIQUE NOT NULL, uf text);
CREATE TABLE life.orders (id integer PRIMARY KEY, client_id integer NOT NULL REFERENCES life.clients, status text NOT NULL, ship_to text);
CREATE TABLE life.invoices (id integer PRIMARY KEY, client_id integer NOT NULL REFERENCES life.clients, billed_name text NOT NULL);
CREATE TABLE life.mail_log (id integer PRIMARY KEY, client_id integer NOT NULL REFERENCES life.clients, body text);
INSERT INTO life.clients VALUES
  (1, 'Ana Souza',   '111.111.111-11', 'ana@example.com',   'SP'),  -- orders and invoices: anonymize
  (2, 'Bruno Lima',  '222.222.222-22', 'bruno@example.com', 'RJ'),  -- an order awaiting payment: blocked
  (3, 'Carla Dias',  '333.333.333-33', 'carla@example.com', 'MG'),  -- only mail log rows: auto deletes
  (4, 'Davi Rocha',  '444.444.444-44', 'davi@example.com',  'BA');  -- an invoice: delete refused
INSERT INTO life.orders VALUES (10, 1, 'delivered', 'Ana Souza, Rua A 1'), (20, 2, 'awaiting_payment', 'Bruno Lima');
INSERT INTO life.invoices VALUES (100, 1, 'Ana Souza'), (400, 4, 'Davi Rocha');
INSERT INTO life.mail_log VALUES (1, 1, 'Olá Ana'), (2, 3, 'Olá Carla'), (3, 3, 'Oi Carla');

SELECT erasure.register_subject('client', 'life.clients', summary_columns => '{full_name,cpf,email}');
SELECT erasure.register_table('client', 'life.orders');
SELECT erasure.register_table('client', 'life.invoices', 'retain', reason => 'bookkeeping law');
SELECT erasure.register_table('client', 'life.mail_log', 'delete');
SELECT erasure.set_policy('life.clients', 'full_name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('life.clients', 'cpf', 'null');
SELECT erasure.set_policy('life.clients', 'email', 'placeholder', '{"template": "erased-{key}@invalid.example"}');
SELECT erasure.set_policy('life.clients', 'uf', 'keep');
SELECT erasure.set_policy('life.orders', 'id', 'keep');
SELECT erasure.set_policy('life.orders', 'status', 'keep');
SELECT erasure.set_policy('life.orders', 'ship_to', 'constant', '{"value": "Unknown customer"}');
SELECT erasure.register_blocker('client', 'awaiting_payment',
  $$SELECT id, status FROM life.orders WHERE client_id = $1 AND status = 'awaiting_payment'$$,
  'an order is awaiting payment');

-- The preview shows who, what each table holds, and what an erasure would decide.
SELECT jsonb_pretty(erasure.erasure_preview(1, 'client'));
SELECT erasure.erasure_preview(2, 'client') -> 'decision' AS blocked,
       erasure.erasure_preview(2, 'client') -> 'blockers' -> 0 -> 'details' AS why;
SELECT erasure.erasure_preview(3, 'client') -> 'decision' AS only_logs;
-- ... and neither writes nor locks a row: either would assign the transaction an id.
BEGIN;
SELECT erasure.erasure_preview(1, 'client') ->> 'decision' AS decision;
SELECT pg_current_xact_id_if_assigned() IS NULL AS wrote_and_locked_nothing;
COMMIT;
SELECT count(*) AS ledger_rows FROM erasure.ledger WHERE subject = 'client';

-- Modes. Anonymize keeps orders and invoices, without the person.
SELECT erasure.anonymize('client', 1, reference => 'TICKET-1') - 'request_id' AS report;
SELECT * FROM life.clients WHERE id = 1;
-- Auto deletes a client who has nothing to keep.
SELECT erasure.anonymize('client', 3, 'auto') - 'request_id' AS report;
SELECT count(*) AS carla_rows FROM life.clients WHERE id = 3;
-- Delete is refused while retained rows exist, and changes nothing.
SELECT erasure.anonymize('client', 4, 'delete');
SELECT full_name FROM life.clients WHERE id = 4;
-- Auto then anonymizes that client, and says why.
SELECT erasure.anonymize('client', 4, 'auto') ->> 'decision_reason' AS why, erasure.is_erased('client', 4) AS erased;
-- Unknown mode.
SELECT erasure.anonymize('client', 2, 'shred');

-- Repeating a request changes nothing and points at the original erasure, for anonymized
-- and deleted subjects alike.
SELECT r ->> 'status' AS status, r ->> 'erased_as' AS erased_as,
       (r ->> 'request_id')::bigint = (SELECT request_id FROM erasure.ledger WHERE subject = 'client' AND key = '1') AS same_request
  FROM erasure.anonymize('client', 1) AS r;
SELECT r ->> 'status' AS status, r ->> 'erased_as' AS erased_as
  FROM erasure.anonymize('client', '3', 'delete') AS r;
SELECT erasure.erasure_preview(3, 'client') ->> 'decision' AS decision;
SELECT count(*) AS ledger_rows FROM erasure.ledger WHERE subject = 'client';

-- The ledger: one row per erasure, who asked and who ran it, per-table counts, the reference.
SELECT key, status, mode, requested_by = session_user AS requested_by, executed_by = current_user AS executed_by,
       jsonb_array_length(tables) AS tables, reference
  FROM erasure.ledger_since(0) WHERE subject = 'client';
SELECT count(*) AS after_first
  FROM erasure.ledger_since((SELECT min(request_id) FROM erasure.ledger WHERE subject = 'client'))
 WHERE subject = 'client';
-- It holds nothing personal: none of the erased clients' names, CPFs or e-mails appears in
-- any of its columns.
SELECT count(*) AS personal_values_in_ledger
  FROM erasure.ledger l,
       (VALUES ('Ana Souza'), ('111.111.111-11'), ('ana@example.com'),
               ('Carla Dias'), ('333.333.333-33'), ('carla@example.com'),
               ('Davi Rocha'), ('444.444.444-44'), ('davi@example.com')) AS v(personal)
 WHERE strpos(lower(to_jsonb(l)::text), lower(v.personal)) > 0;
SELECT erasure.is_erased('client', 1) AS one, erasure.is_erased('client', 2) AS two, erasure.is_erased('client', '3') AS three;
