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

-- Migrations register in any order and rename later. A table is registered before its
-- policies, which a later migration sets; registering again changes nothing.
CREATE TABLE watch.people (id integer PRIMARY KEY, full_name text, phone text);
SELECT erasure.register_subject('watch_person', 'watch.people', summary_columns => '{full_name}');
CREATE TABLE watch.letters (id integer PRIMARY KEY, person_id integer NOT NULL REFERENCES watch.people, sent date NOT NULL, body text);
CREATE INDEX ON watch.letters (person_id);
SELECT erasure.register_table('watch_person', 'watch.letters', 'retain', reason => 'correspondence archive',
                              retain_for => '1 year', retain_from => 'sent');
CREATE TABLE watch.notes (id integer PRIMARY KEY, person_id integer REFERENCES watch.people, body text);
CREATE INDEX ON watch.notes (person_id);
CREATE TABLE watch.old_notes (origin text) INHERITS (watch.notes);
CREATE INDEX ON watch.old_notes (person_id);
SELECT erasure.register_table('watch_person', 'watch.notes');
SELECT erasure.register_table('watch_person', 'watch.old_notes', via => '{person_id}', parent => 'watch.people');
SELECT erasure.set_policy('watch.people', 'full_name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('watch.people', 'phone', 'null');
SELECT erasure.set_policy('watch.letters', 'body', 'null'), erasure.set_policy('watch.letters', 'id', 'keep'),
       erasure.set_policy('watch.letters', 'sent', 'keep');
SELECT erasure.set_policy('watch.notes', 'id', 'keep');
SELECT erasure.set_policy('watch.notes', 'body', 'null');
SELECT erasure.set_policy('watch.old_notes', 'id', 'keep');
SELECT erasure.set_policy('watch.old_notes', 'body', 'null');
SELECT erasure.set_policy('watch.old_notes', 'origin', 'null');
SELECT erasure.register_table('watch_person', 'watch.notes');
SELECT severity, tbl, col, problem FROM erasure.check('watch_person') WHERE severity = 'error';
CREATE VIEW watch.person_catalog AS
    SELECT 'subject' AS entry, tbl::text, key_column::text || ' ' || summary_columns::text AS names FROM erasure.subjects WHERE subject = 'watch_person'
    UNION ALL SELECT 'table', tbl::text, via::text || ' -> ' || parent::text || parent_columns::text || ' ' || coalesce(retain_from::text, '')
      FROM erasure.tables WHERE subject = 'watch_person'
    UNION ALL SELECT 'policy', tbl::text, col || ' ' || strategy FROM erasure.column_policies WHERE tbl::text LIKE 'watch.%'
    ORDER BY 1, 2, 3;
CREATE TEMP TABLE catalog_before AS SELECT * FROM watch.person_catalog;
-- An erasure before the renames: this session's plan of the subject is then cached.
INSERT INTO watch.people VALUES (3, 'Cid Early', '555-0300');
SELECT erasure.anonymize('watch_person', 3) ->> 'status' AS early_erasure;

-- A later migration renames columns: each entry naming one follows it (the key, a summary
-- column, the parent's key of via links, via columns, retain_from, policies), in the
-- inheritance child too; the watch says so.
ALTER TABLE watch.people RENAME COLUMN phone TO mobile;
ALTER TABLE watch.people RENAME COLUMN full_name TO display_name;
ALTER TABLE watch.people RENAME COLUMN id TO person_no;
ALTER TABLE watch.notes RENAME COLUMN person_id TO owner_id;
ALTER TABLE watch.notes RENAME COLUMN body TO text_body;
ALTER TABLE watch.letters RENAME COLUMN sent TO sent_on;
-- A column added with its policies (the child inherits it), renamed by a later migration.
BEGIN;
ALTER TABLE watch.notes ADD COLUMN topic text;
SELECT erasure.set_policy('watch.notes', 'topic', 'keep');
SELECT erasure.set_policy('watch.old_notes', 'topic', 'keep');
COMMIT;
ALTER TABLE watch.notes RENAME COLUMN topic TO subject_line;
-- A column no entry names, and a column of an unregistered table: silence.
ALTER TABLE watch.people ADD COLUMN note_count integer;
SELECT erasure.set_policy('watch.people', 'note_count', 'keep');
ALTER TABLE watch.people RENAME COLUMN note_count TO notes_written;
SELECT erasure.drop_policy('watch.people', 'notes_written');
ALTER TABLE watch.people RENAME COLUMN notes_written TO note_total;
ALTER TABLE watch.people DROP COLUMN note_total;
CREATE TABLE watch.misc (a integer);
ALTER TABLE watch.misc RENAME COLUMN a TO b;
-- A rename rolled back leaves the catalog as it was.
BEGIN;
ALTER TABLE watch.letters RENAME COLUMN body TO content;
ROLLBACK;
SELECT * FROM watch.person_catalog EXCEPT SELECT * FROM catalog_before ORDER BY 1, 2, 3;
SELECT severity, tbl, col, problem FROM erasure.check('watch_person') WHERE severity = 'error';
INSERT INTO watch.people VALUES (1, 'Ann Example', '555-0100'), (2, 'Bob Other', '555-0200');
INSERT INTO watch.letters VALUES (1, 1, '2020-01-02', 'Dear Ann');
INSERT INTO watch.notes VALUES (1, 1, 'called Ann');
INSERT INTO watch.old_notes VALUES (2, 1, 'met Ann', 'fax');
SELECT erasure.anonymize('watch_person', 1) -> 'tables' AS erased;
SELECT * FROM watch.people ORDER BY person_no;
SELECT * FROM watch.notes ORDER BY id;
SELECT * FROM erasure.release_expired('watch_person');
SELECT * FROM watch.letters;

-- A column dropped in a later migration takes its policy along, and the watch says so.
ALTER TABLE watch.old_notes DROP COLUMN origin;
SELECT count(*) AS origin_policies FROM erasure.column_policies WHERE tbl = 'watch.old_notes'::regclass AND col = 'origin';
