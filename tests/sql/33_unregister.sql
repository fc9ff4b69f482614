-- Taking registrations back, as a reverse migration does: drop_blocker, drop_table and
-- drop_subject, idempotent, owner-checked, refusing to leave tables or policies orphaned
-- unless cascade, keeping the ledger and refusing while requests are open.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE ROLE unreg_owner;
CREATE ROLE unreg_other;
GRANT erasure_admin TO unreg_owner, unreg_other;
CREATE SCHEMA unreg AUTHORIZATION unreg_owner;
GRANT USAGE ON SCHEMA unreg TO unreg_other;
SET ROLE unreg_owner;
CREATE TABLE unreg.clients (id int PRIMARY KEY, name text, uf text);
CREATE TABLE unreg.orders (id int PRIMARY KEY, client_id int REFERENCES unreg.clients, ship_to text);
CREATE TABLE unreg.items (id int PRIMARY KEY, order_id int REFERENCES unreg.orders, note text);
CREATE TABLE unreg.mails (id int PRIMARY KEY, client_id int REFERENCES unreg.clients, body text);
INSERT INTO unreg.clients VALUES (1, 'Ana', 'SP'), (2, 'Bia', 'RJ');
INSERT INTO unreg.orders VALUES (10, 1, 'Rua A'), (20, 2, 'Rua B');
INSERT INTO unreg.items VALUES (100, 10, 'for Ana'), (200, 20, 'for Bia');
INSERT INTO unreg.mails VALUES (1, 1, 'hi Ana'), (2, 2, 'hi Bia');
SELECT erasure.register_subject('unreg_client', 'unreg.clients');
SELECT erasure.register_table('unreg_client', 'unreg.orders');
SELECT erasure.register_table('unreg_client', 'unreg.items', parent => 'unreg.orders');
SELECT erasure.register_table('unreg_client', 'unreg.mails', 'delete');
SELECT erasure.set_policy('unreg.clients', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('unreg.clients', 'uf', 'keep'),
       erasure.set_policy('unreg.orders', 'ship_to', 'null'),
       erasure.set_policy('unreg.items', 'note', 'null');
SELECT erasure.register_blocker('unreg_client', 'always', $$SELECT 1 WHERE $1 = 2$$);
CREATE VIEW unreg.catalog AS
SELECT (SELECT count(*) FROM erasure.subjects WHERE subject = 'unreg_client') AS subjects,
       (SELECT count(*) FROM erasure.tables WHERE subject = 'unreg_client') AS tables,
       (SELECT count(*) FROM erasure.column_policies WHERE tbl::text LIKE 'unreg.%') AS policies,
       (SELECT count(*) FROM erasure.blockers WHERE subject = 'unreg_client') AS blockers;
SELECT * FROM unreg.catalog;

-- Blockers: dropped, then dropping again does nothing; an erasure no longer sees it.
SELECT erasure.drop_blocker('unreg_client', 'always');
SELECT erasure.drop_blocker('unreg_client', 'always');
SELECT erasure.drop_blocker('unreg_client', 'never registered');
SELECT count(*) AS blockers_of_2 FROM erasure.erasure_blockers(2, 'unreg_client');

-- Someone else may not take registrations back.
RESET ROLE;
SET ROLE unreg_other;
SELECT erasure.drop_table('unreg_client', 'unreg.mails');
SELECT erasure.drop_subject('unreg_client', cascade => true);
RESET ROLE;
SET ROLE unreg_owner;

-- A table others are found through is refused, with the tables below it and the fix.
SELECT erasure.drop_table('unreg_client', 'unreg.orders');
-- Policies no other subject uses are refused too.
SELECT erasure.drop_table('unreg_client', 'unreg.items');
SELECT erasure.drop_policy('unreg.items', 'note');
SELECT erasure.drop_table('unreg_client', 'unreg.items');
SELECT erasure.drop_table('unreg_client', 'unreg.items');   -- again: nothing
SELECT * FROM unreg.catalog;
-- The subject's own table is the subject's, not a registered table.
SELECT erasure.drop_table('unreg_client', 'unreg.clients');
-- A table without policies goes without cascade; cascade takes the rest, policies included.
SELECT erasure.drop_table('unreg_client', 'unreg.mails');
SELECT erasure.register_table('unreg_client', 'unreg.items', parent => 'unreg.orders');
SELECT erasure.set_policy('unreg.items', 'note', 'null');
SELECT erasure.drop_table('unreg_client', 'unreg.orders', cascade => true);
SELECT * FROM unreg.catalog;
-- The erasure plans without them: orders and items stay as they are.
SELECT erasure.register_table('unreg_client', 'unreg.mails', 'delete');
SELECT erasure.anonymize('unreg_client', 1) -> 'tables' AS tables;
SELECT (SELECT ship_to FROM unreg.orders WHERE id = 10) AS ship_to, (SELECT note FROM unreg.items WHERE id = 100) AS note,
       (SELECT count(*) FROM unreg.mails WHERE client_id = 1) AS mails;

-- A subject with open requests stays; the ledger outlives the subject.
SELECT erasure.request('unreg_client', '2', 'ticket 9') > 0 AS queued;
SELECT erasure.drop_subject('unreg_client', cascade => true);
RESET ROLE;
DELETE FROM erasure.request_queue WHERE subject = 'unreg_client';
SET ROLE unreg_owner;
SELECT erasure.drop_subject('unreg_client');
SELECT erasure.drop_subject('unreg_client', cascade => true);
SELECT erasure.drop_subject('unreg_client', cascade => true);   -- again: nothing
SELECT * FROM unreg.catalog;
SELECT count(*) AS ledger_rows FROM erasure.ledger WHERE subject = 'unreg_client';
SELECT erasure.anonymize('unreg_client', 2);
-- Registering again works as the first time.
SELECT erasure.register_subject('unreg_client', 'unreg.clients');
SELECT erasure.set_policy('unreg.clients', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('unreg.clients', 'uf', 'keep');
SELECT * FROM unreg.catalog;
SELECT erasure.drop_subject('unreg_client', cascade => true);
RESET ROLE;
DROP SCHEMA unreg CASCADE;
DROP OWNED BY unreg_owner, unreg_other;
DROP ROLE unreg_owner, unreg_other;
