-- The DDL watch: warnings when a migration adds a column to a registered table or a table with
-- a foreign key to one; silence for everything else; catalog rows removed with dropped tables
-- and columns; DDL never fails because of it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA watch;
CREATE TABLE watch.members (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE watch.visits (id integer PRIMARY KEY, member_id integer REFERENCES watch.members, note text);
SELECT erasure.register_subject('watch_member', 'watch.members');
SELECT erasure.register_table('watch_member', 'watch.visits');
SELECT erasure.set_policy('watch.members', 'name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('watch.visits', 'id', 'keep');
SELECT erasure.set_policy('watch.visits', 'note', 'null');

-- A new column on a registered table, and a new table referencing one: warnings with the fix.
ALTER TABLE watch.members ADD COLUMN whatsapp text;
CREATE TABLE watch.tickets (id integer PRIMARY KEY, member_id integer REFERENCES watch.members, body text);
-- Unrelated tables: silence.
CREATE TABLE watch.products (id integer PRIMARY KEY, title text);
ALTER TABLE watch.products ADD COLUMN price numeric;
-- The warnings never stop DDL: the column and the table exist.
SELECT count(*) AS created FROM pg_attribute WHERE attrelid = 'watch.members'::regclass AND attname = 'whatsapp';

-- Dropping a column with a policy, and a registered table, keeps the catalog in step.
SELECT erasure.set_policy('watch.members', 'whatsapp', 'null');
ALTER TABLE watch.members DROP COLUMN whatsapp;
SELECT col AS policies_left FROM erasure.column_policies WHERE tbl = 'watch.members'::regclass;
DROP TABLE watch.visits;
SELECT count(*) AS visit_registrations FROM erasure.tables WHERE subject = 'watch_member';
SELECT count(*) AS visit_policies FROM erasure.column_policies p WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = p.tbl);
-- Dropping an unregistered table: silence.
DROP TABLE watch.products;
