-- The safety net: erasure.check() on a clean catalog, then on each kind of problem; strict mode
-- refusing an erasure until the suggested fix is applied; pending_vacuum().
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA net;
CREATE TABLE net.clients (id integer PRIMARY KEY, name text NOT NULL, email text UNIQUE NOT NULL, uf text, contact text);
CREATE TABLE net.orders (id integer PRIMARY KEY, client_id integer NOT NULL REFERENCES net.clients, ship_to text);
CREATE INDEX ON net.orders (client_id);
CREATE TABLE net.invoices (id integer PRIMARY KEY, client_id integer NOT NULL REFERENCES net.clients, billed_to text);
CREATE INDEX ON net.invoices (client_id);
INSERT INTO net.clients VALUES (1, 'Ana', 'ana@example.com', 'SP', 'ana.alt@example.com'), (2, 'Bia', 'bia@example.com', 'RJ', NULL);
INSERT INTO net.orders VALUES (1, 1, 'Rua A'), (2, 2, 'Rua B');
INSERT INTO net.invoices VALUES (1, 1, 'Ana');
SELECT erasure.register_subject('net_client', 'net.clients');
SELECT erasure.register_table('net_client', 'net.orders');
SELECT erasure.register_table('net_client', 'net.invoices', 'retain', reason => 'bookkeeping law');
SELECT erasure.set_policy('net.clients', 'name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('net.clients', 'email', 'placeholder', '{"template": "erased-{key}@invalid.example"}');
SELECT erasure.set_policy('net.clients', 'uf', 'keep');
SELECT erasure.set_policy('net.clients', 'contact', 'null');
SELECT erasure.set_policy('net.orders', 'id', 'keep');
SELECT erasure.set_policy('net.orders', 'ship_to', 'constant', '{"value": "Unknown customer"}');

-- A clean catalog: nothing to report.
SELECT * FROM erasure.check('net_client');

-- A migration adds a column and a table nobody registered.
ALTER TABLE net.clients ADD COLUMN whatsapp text;
CREATE TABLE net.tickets (id integer PRIMARY KEY, client_id integer REFERENCES net.clients, body text);
-- A kept column whose values look personal, an unindexed via, a retained table without reason,
-- a constant on a column made UNIQUE after its policy was set, a trigger and a view.
SELECT erasure.set_policy('net.clients', 'contact', 'keep');
DROP INDEX net.orders_client_id_idx;
SELECT erasure.register_table('net_client', 'net.invoices', 'retain');
CREATE UNIQUE INDEX ON net.orders (ship_to);
CREATE FUNCTION net.audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER audit AFTER UPDATE ON net.orders FOR EACH ROW EXECUTE FUNCTION net.audit();
CREATE VIEW net.client_list AS SELECT id, name FROM net.clients;
-- A column retyped after its policy was set: year_only no longer fits.
ALTER TABLE net.clients ADD COLUMN since date;
SELECT erasure.set_policy('net.clients', 'since', 'year_only');
ALTER TABLE net.clients ALTER COLUMN since TYPE text;
-- Registration and check() apply one rule, so they say the same: setting it again is refused
-- with the problem check() reports.
SELECT erasure.set_policy('net.clients', 'since', 'year_only');
SELECT severity, tbl, col, problem, hint FROM erasure.check('net_client') ORDER BY severity, tbl::text, col, problem;

-- A policy the schema broke stops every registration of the subject (each plans the erasure,
-- which would fail) until it is fixed: the error names it and the fix.
SELECT erasure.set_policy('net.orders', 'id', 'keep');
SELECT erasure.set_policy('net.clients', 'since', 'null');

-- A rule on a registered table: PostgreSQL refuses rules on the statement an erasure runs, so
-- check() reports it as an error (and registrations are refused while it exists).
CREATE TABLE net.order_audit (order_id integer, ship_to text);
CREATE RULE keep_old AS ON UPDATE TO net.orders DO ALSO INSERT INTO net.order_audit VALUES (OLD.id, OLD.ship_to);
SELECT severity, tbl, problem, hint FROM erasure.check('net_client') WHERE problem LIKE 'rule%';
SELECT erasure.set_policy('net.orders', 'id', 'keep');
DROP RULE keep_old ON net.orders;

-- Strict mode refuses while check() reports errors, and names them.
SET erasure.require_complete = on;
SELECT erasure.anonymize('net_client', 2);
SELECT name FROM net.clients WHERE id = 2;
-- suggest_policies drafts the fix; applied (the ticket table's policy included), the erasure goes.
SELECT * FROM erasure.suggest_policies('net_client');
SELECT erasure.register_table('net_client', 'net.tickets');
SELECT * FROM erasure.suggest_policies('net_client');
SELECT erasure.set_policy('net.clients', 'whatsapp', 'null'),
       erasure.set_policy('net.tickets', 'id', 'keep'),
       erasure.set_policy('net.tickets', 'body', 'null'),
       erasure.set_policy('net.orders', 'ship_to', 'placeholder', '{"template": "erased-{uuid}"}');
SELECT severity, count(*) FROM erasure.check('net_client') GROUP BY 1 ORDER BY 1;
SELECT erasure.anonymize('net_client', 2) ->> 'status' AS strict_erasure;
RESET erasure.require_complete;

-- What PostgreSQL keeps after an erasure: old row versions until VACUUM, planner statistics
-- until ANALYZE, a materialized view (here over a view) until REFRESH. pending_vacuum() lists
-- each with its statement; cleanup() runs the ANALYZE and REFRESH, as each relation's owner.
INSERT INTO net.clients (id, name, email) VALUES (3, 'Caio', 'caio@example.com');
CREATE VIEW net.client_names AS SELECT id, name FROM net.clients;
CREATE MATERIALIZED VIEW net.client_report AS SELECT id, name FROM net.client_names;
ANALYZE net.clients;
SELECT count(*) AS statistics_show_the_name FROM pg_stats
 WHERE schemaname = 'net' AND tablename = 'clients'
   AND concat(most_common_vals::text, histogram_bounds::text) LIKE '%Caio%';
SELECT erasure.anonymize('net_client', 3) ->> 'status' AS status;
SELECT count(*) AS report_keeps_the_name FROM net.client_report WHERE name = 'Caio';
SELECT tbl, step, erasures, statement FROM erasure.pending_vacuum() WHERE tbl::text LIKE 'net.%' ORDER BY 2, 1;
SELECT rel, step FROM erasure.cleanup() WHERE rel::text LIKE 'net.%' ORDER BY 2, 1;
SELECT count(*) AS report_keeps_the_name FROM net.client_report WHERE name = 'Caio';
SELECT count(*) AS statistics_show_the_name FROM pg_stats
 WHERE schemaname = 'net' AND tablename = 'clients'
   AND concat(most_common_vals::text, histogram_bounds::text) LIKE '%Caio%';
VACUUM net.clients, net.orders;
SELECT tbl, step FROM erasure.pending_vacuum() WHERE tbl::text LIKE 'net.%' ORDER BY 2, 1;

-- What check() sees beyond foreign keys: a table holding the subject's id without a foreign
-- key (named like a reference, of the key's type), a publication replicating the deletes of a
-- table without a replica identity, and personal values inside a kept text[] column.
CREATE TABLE net.events (client_id integer, payload jsonb);
CREATE TABLE net.visits (id serial, client_id integer, page text);   -- no primary key
SELECT erasure.register_table('net_client', 'net.visits', 'delete', via => '{client_id}');
SET client_min_messages = error;  -- the warning about wal_level is worded differently by each major
CREATE PUBLICATION net_pub FOR TABLE net.visits WITH (publish = 'insert, delete');
RESET client_min_messages;
ALTER TABLE net.clients ADD COLUMN aliases text[];
UPDATE net.clients SET aliases = ARRAY['the boss', 'boss@example.com'] WHERE id = 1;
SELECT erasure.set_policy('net.clients', 'aliases', 'keep');
SELECT severity, tbl, col, problem FROM erasure.check('net_client')
 WHERE tbl IN ('net.events'::regclass, 'net.visits'::regclass) OR col = 'aliases' ORDER BY 2, 3;
DROP PUBLICATION net_pub;

-- One rule decides whether a strategy fits a column: set_policy, check() and suggest_policies()
-- all ask it. A birth date kept as text is not offered year_only, which set_policy would refuse.
ALTER TABLE net.clients ADD COLUMN birth_text text, ADD COLUMN birth_day date;
SELECT erasure.strategy_fits('net.clients', 'birth_text', 'year_only') AS text_fits,
       erasure.strategy_fits('net.clients', 'birth_day', 'year_only') AS date_fits,
       erasure.strategy_fits('net.clients', 'birth_text', 'placeholder', '{"template": "x-{key}"}') AS placeholder_fits;
SELECT statement FROM erasure.suggest_policies('net_client') WHERE statement LIKE '%birth%' ORDER BY 1;
SELECT erasure.set_policy('net.clients', 'birth_text', 'year_only');
ALTER TABLE net.clients DROP COLUMN birth_text, DROP COLUMN birth_day;
