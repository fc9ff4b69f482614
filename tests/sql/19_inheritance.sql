-- Inheritance children: a legacy table INHERITS from a registered one and adds a column of its
-- own. The erasure changes ONLY the registered table, check() reports the child until it is
-- registered, and once it is (with its policies), both are erased, each counted on its own.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA inh;
CREATE TABLE inh.customers (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE inh.contacts (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES inh.customers, note text);
CREATE TABLE inh.legacy_contacts (contact_phone text) INHERITS (inh.contacts);
INSERT INTO inh.customers VALUES (1, 'Ana'), (2, 'Bia');
INSERT INTO inh.contacts VALUES (10, 1, 'call Ana'), (20, 2, 'call Bia');
INSERT INTO inh.legacy_contacts VALUES (11, 1, 'old note on Ana', '+55 11 5555-0001'), (21, 2, 'old Bia', '+55 11 5555-0002');
SELECT erasure.register_subject('inh_customer', 'inh.customers');
SELECT erasure.register_table('inh_customer', 'inh.contacts');
SELECT erasure.set_policy('inh.customers', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('inh.contacts', 'id', 'keep'), erasure.set_policy('inh.contacts', 'note', 'null');
SELECT severity, tbl, problem, hint FROM erasure.check('inh_customer') WHERE tbl = 'inh.legacy_contacts'::regclass;
-- Strict mode refuses while the child is not registered.
SET erasure.require_complete = on;
SELECT erasure.anonymize('inh_customer', 1);
-- Registered (no foreign key is inherited: via names the column), with its own column's policy.
SELECT erasure.register_table('inh_customer', 'inh.legacy_contacts', via => '{customer_id}');
SELECT erasure.set_policy('inh.legacy_contacts', 'id', 'keep'), erasure.set_policy('inh.legacy_contacts', 'note', 'null'),
       erasure.set_policy('inh.legacy_contacts', 'contact_phone', 'null');
SELECT count(*) AS errors FROM erasure.check('inh_customer') WHERE severity = 'error';
SELECT t ->> 'table' AS "table", t ->> 'rows' AS rows
  FROM jsonb_array_elements(erasure.anonymize('inh_customer', 1) -> 'tables') AS t ORDER BY 1;
RESET erasure.require_complete;
SELECT tableoid::regclass AS stored_in, id, customer_id, note FROM inh.contacts ORDER BY id;
SELECT id, note, contact_phone FROM inh.legacy_contacts ORDER BY id;
SELECT key, status FROM erasure.anonymize_many('inh_customer', ARRAY[2]);
SELECT id, note, contact_phone FROM inh.legacy_contacts ORDER BY id;

DROP SCHEMA inh CASCADE;
DELETE FROM erasure.ledger WHERE subject = 'inh_customer';
