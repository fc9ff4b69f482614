-- Each key type (integer, bigint, text, uuid) and id given as any type or as a literal; the
-- errors an erasure can raise, each leaving everything as it was.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA keys;
CREATE TABLE keys.int_people (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE keys.int_orders (id integer PRIMARY KEY, person_id integer REFERENCES keys.int_people, note text);
CREATE TABLE keys.text_people (code text PRIMARY KEY, name text NOT NULL);
CREATE TABLE keys.text_orders (id integer PRIMARY KEY, person_code text REFERENCES keys.text_people, note text);
CREATE TABLE keys.uuid_people (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE keys.uuid_orders (id integer PRIMARY KEY, person_id uuid REFERENCES keys.uuid_people, note text);
INSERT INTO keys.int_people VALUES (1, 'Ana'), (2, 'Bia'), (3, 'Caio');
INSERT INTO keys.int_orders VALUES (1, 1, 'Ana'), (2, 2, 'Bia'), (3, 3, 'Caio');
INSERT INTO keys.text_people VALUES ('C-001', 'Dora'), ('C-002', 'Eli');
INSERT INTO keys.text_orders VALUES (1, 'C-001', 'Dora'), (2, 'C-002', 'Eli');
INSERT INTO keys.uuid_people VALUES ('3f2c7a10-0000-4000-8000-000000000001', 'Fabi'), ('3f2c7a10-0000-4000-8000-000000000002', 'Gil');
INSERT INTO keys.uuid_orders VALUES (1, '3f2c7a10-0000-4000-8000-000000000001', 'Fabi'), (2, '3f2c7a10-0000-4000-8000-000000000002', 'Gil');
SELECT erasure.register_subject('int_person', 'keys.int_people'), erasure.register_table('int_person', 'keys.int_orders'),
       erasure.set_policy('keys.int_people', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('keys.int_orders', 'note', 'null');
SELECT erasure.register_subject('text_person', 'keys.text_people'), erasure.register_table('text_person', 'keys.text_orders'),
       erasure.set_policy('keys.text_people', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('keys.text_orders', 'note', 'null');
SELECT erasure.register_subject('uuid_person', 'keys.uuid_people'), erasure.register_table('uuid_person', 'keys.uuid_orders'),
       erasure.set_policy('keys.uuid_people', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('keys.uuid_orders', 'note', 'null');

-- integer key: an integer, a bigint, a numeric literal as text.
SELECT erasure.anonymize('int_person', 1) ->> 'status' AS int_value,
       erasure.anonymize('int_person', 2::bigint) ->> 'status' AS bigint_value,
       erasure.anonymize('int_person', '3') ->> 'status' AS text_literal;
-- text key, uuid key: a literal, a typed value.
SELECT erasure.anonymize('text_person', 'C-001') ->> 'key' AS text_key;
SELECT erasure.anonymize('uuid_person', '3f2c7a10-0000-4000-8000-000000000001') ->> 'key' AS uuid_literal,
       erasure.anonymize('uuid_person', '3f2c7a10-0000-4000-8000-000000000002'::uuid) ->> 'key' AS uuid_value;
SELECT (SELECT string_agg(name || '/' || coalesce(note, '-'), ' ' ORDER BY p) FROM (
          SELECT p.id::text AS p, p.name, o.note FROM keys.int_people p JOIN keys.int_orders o ON o.person_id = p.id
          UNION ALL SELECT p.code, p.name, o.note FROM keys.text_people p JOIN keys.text_orders o ON o.person_code = p.code
          UNION ALL SELECT p.id::text, p.name, o.note FROM keys.uuid_people p JOIN keys.uuid_orders o ON o.person_id = p.id) x) AS people;

-- Errors at run time, each changing nothing.
SELECT erasure.anonymize('int_person', 'abc');
SELECT erasure.anonymize('uuid_person', 'not-a-uuid');
SELECT erasure.anonymize('int_person', NULL::integer);
SELECT erasure.anonymize(NULL, 1);
SELECT erasure.anonymize('int_person', 99);
SELECT erasure.anonymize('nobody', 1);
SELECT erasure.register_subject('lonely', 'keys.text_orders');
SELECT erasure.anonymize('lonely', 1);
SELECT * FROM erasure.erasure_blockers(99, 'int_person');
SELECT name FROM keys.text_people WHERE code = 'C-002';
-- A read-only transaction (or a hot standby) cannot erase.
BEGIN READ ONLY;
SELECT erasure.anonymize('text_person', 'C-002');
ROLLBACK;
-- A policy made impossible by a later schema change is reported, not half-applied.
SELECT erasure.set_policy('keys.text_orders', 'note', 'null');
ALTER TABLE keys.text_orders ALTER COLUMN note SET DEFAULT 'n/a';
UPDATE keys.text_orders SET note = 'n/a' WHERE note IS NULL;
ALTER TABLE keys.text_orders ALTER COLUMN note SET NOT NULL;
SELECT erasure.anonymize('text_person', 'C-002');
ALTER TABLE keys.text_orders ALTER COLUMN note DROP NOT NULL;
ALTER TABLE keys.text_people ADD COLUMN nickname text;
SELECT erasure.set_policy('keys.text_people', 'nickname', 'null');
-- Dropping a column with a policy: the DDL watch removes the policy, and erasures go on.
ALTER TABLE keys.text_people DROP COLUMN nickname;
SELECT erasure.anonymize('text_person', 'C-002') ->> 'status' AS after_the_drop;
SELECT name FROM keys.text_people WHERE code = 'C-002';
-- A text key holding a placeholder's own marker comes out verbatim in the placeholder.
INSERT INTO keys.text_people VALUES ('a{uuid}b', 'Fay');
INSERT INTO keys.text_orders VALUES (3, 'a{uuid}b', 'Fay');
SELECT erasure.set_policy('keys.text_orders', 'note', 'placeholder', '{"template": "of {key}, ref {uuid}"}');
SELECT erasure.anonymize('text_person', 'a{uuid}b') ->> 'status' AS marker_in_key;
SELECT note ~ '^of a\{uuid\}b, ref [0-9a-f-]{36}$' AS key_verbatim FROM keys.text_orders WHERE id = 3;
-- Keys by value: a numeric key given as 7.0 is the subject whose row holds 7; the ledger, the
-- report and every repeat know it by the text its row stores, and a batch finds every row.
CREATE TABLE keys.num_people (code numeric PRIMARY KEY, name text NOT NULL);
CREATE TABLE keys.num_notes (id integer PRIMARY KEY, code numeric NOT NULL REFERENCES keys.num_people, body text);
INSERT INTO keys.num_people VALUES (7, 'Sete'), (8.00, 'Oito'), (9, 'Nove');
INSERT INTO keys.num_notes VALUES (1, 7, 'a'), (2, 8, 'b'), (3, 9, 'c');
SELECT erasure.register_subject('num_person', 'keys.num_people');
SELECT erasure.register_table('num_person', 'keys.num_notes');
SELECT erasure.set_policy('keys.num_people', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('keys.num_notes', 'body', 'null'), erasure.set_policy('keys.num_notes', 'id', 'keep');
SELECT erasure.anonymize('num_person', 7.0) ->> 'key' AS erased_as;
SELECT erasure.anonymize('num_person', '7.000') ->> 'status' AS repeat, erasure.is_erased('num_person', 7) AS is_erased;
SELECT erasure.canonical_key('num_person', '8') AS stored_as;
SELECT key, status FROM erasure.anonymize_many('num_person', ARRAY[8, 8.0, 9.000, 10]) ORDER BY key;
SELECT key, count(*) AS ledger_rows FROM erasure.ledger WHERE subject = 'num_person' GROUP BY key ORDER BY key;
SELECT code, name FROM keys.num_people ORDER BY code;
