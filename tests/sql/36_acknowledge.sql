-- Acknowledged findings: the owner marks a harmless last_update trigger, a table that only
-- points at the subject's rows, and invoices keeping the billing name by law as reviewed, with
-- a reason; check() and the preview then show them as acknowledged, not as problems, until the
-- trigger is redefined or the column retyped. Refusals with their SQLSTATE change nothing.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
\set SHOW_CONTEXT never
CREATE ROLE ack_owner;
CREATE ROLE ack_other;
CREATE ROLE ack_support;
GRANT erasure_admin TO ack_owner, ack_other;
GRANT erasure_operator TO ack_support;
CREATE SCHEMA ack AUTHORIZATION ack_owner;
GRANT USAGE ON SCHEMA ack TO ack_other, ack_support;
SET ROLE ack_owner;
CREATE TABLE ack.customers (id int PRIMARY KEY, name text NOT NULL, last_update timestamptz);
CREATE TABLE ack.addresses (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES ack.customers, street text);
CREATE INDEX ON ack.addresses (customer_id);
-- Pickup points sit at some addresses: they point at the subject's rows, but are not its data.
CREATE TABLE ack.pickup_points (id int PRIMARY KEY, address_id int REFERENCES ack.addresses, opening text);
CREATE TABLE ack.invoices (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES ack.customers, billed_to text);
CREATE INDEX ON ack.invoices (customer_id);
CREATE TABLE ack.unrelated (id int PRIMARY KEY);
CREATE FUNCTION ack.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.last_update := pg_catalog.now(); RETURN NEW; END $$;
CREATE TRIGGER last_updated BEFORE UPDATE ON ack.customers FOR EACH ROW EXECUTE FUNCTION ack.stamp();
CREATE TRIGGER unrelated_stamp BEFORE UPDATE ON ack.unrelated FOR EACH ROW EXECUTE FUNCTION ack.stamp();
INSERT INTO ack.customers VALUES (1, 'Ana Souza', NULL), (2, 'Bia Lima', NULL);
INSERT INTO ack.addresses VALUES (10, 1, 'Rua A 1'), (20, 2, 'Rua B 2');
INSERT INTO ack.pickup_points VALUES (100, 20, 'mornings');
INSERT INTO ack.invoices VALUES (1000, 1, 'Ana Souza, Rua A 1');
SELECT erasure.register_subject('ack_customer', 'ack.customers');
SELECT erasure.register_table('ack_customer', 'ack.addresses');
SELECT erasure.register_table('ack_customer', 'ack.invoices', 'retain', reason => 'bookkeeping law');
SELECT erasure.set_policy('ack.customers', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('ack.customers', 'last_update', 'keep'),
       erasure.set_policy('ack.addresses', 'id', 'keep'),
       erasure.set_policy('ack.addresses', 'street', 'null');
CREATE VIEW ack.findings AS
SELECT severity, tbl, col, problem, hint, hint LIKE 'acknowledged by ack_owner on ____-__-__: %' AS says_who
  FROM erasure.check('ack_customer') WHERE severity <> 'info' AND tbl::text LIKE 'ack.%';
SELECT severity, tbl, problem FROM ack.findings ORDER BY tbl::text, problem;
SELECT hint FROM ack.findings WHERE problem LIKE 'trigger%';
SELECT tbl, col, matched, acknowledged FROM erasure.residual_scan(1, 'ack_customer');
SELECT erasure.erasure_preview(1, 'ack_customer') -> 'residual_hits' AS hits,
       erasure.erasure_preview(1, 'ack_customer') -> 'residual_acknowledged' AS acknowledged;

-- Refused, each changing nothing.
SELECT erasure.acknowledge('ack_customer', 'trigger', 'ack.customers', 'last_updated', reason => '');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.acknowledge('ack_customer', 'trigger', 'ack.customers', 'last_updated', reason => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.acknowledge('ack_customer', 'triger', 'ack.customers', 'last_updated', reason => 'typo');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.acknowledge('ack_customer', 'trigger', 'ack.customers', 'no_such_trigger', reason => 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.acknowledge('ack_customer', 'trigger', 'ack.unrelated', 'unrelated_stamp', reason => 'not a finding');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.acknowledge('ack_customer', 'reference', 'ack.addresses', 'addresses_customer_id_fkey', reason => 'registered');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.acknowledge('ack_customer', 'reference', 'ack.pickup_points', 'no_such_fkey', reason => 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.acknowledge('ack_customer', 'residual', 'ack.invoices', 'no_such_column', reason => 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.acknowledge('ack_customer', 'residual', 'ack.unrelated', 'id', reason => 'not registered');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.acknowledge('no_subject', 'trigger', 'ack.customers', 'last_updated', reason => 'x');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE ack_other;
SELECT erasure.acknowledge('ack_customer', 'trigger', 'ack.customers', 'last_updated', reason => 'not mine');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE ack_support;
SELECT erasure.acknowledge('ack_customer', 'trigger', 'ack.customers', 'last_updated', reason => 'an operator');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS acknowledgements FROM erasure.acknowledgements WHERE subject = 'ack_customer';

-- Strict mode refuses while the pickup points are an error ...
BEGIN;
SET LOCAL erasure.require_complete = on;
SELECT erasure.anonymize('ack_customer', 2);
ROLLBACK;

-- ... which the owner declares once: not the subject's data. And the trigger, and the invoices.
SET ROLE ack_owner;
SELECT erasure.acknowledge('ack_customer', 'trigger', 'ack.customers', 'last_updated',
                           reason => 'stamps last_update, copies nothing');
SELECT erasure.acknowledge('ack_customer', 'reference', 'ack.pickup_points', 'pickup_points_address_id_fkey',
                           reason => 'pickup points are the shop''s, not the customer''s');
SELECT erasure.acknowledge('ack_customer', 'residual', 'ack.invoices', 'billed_to',
                           reason => 'invoices keep the billing name by law');
SELECT subject, finding, tbl, object, reason, acknowledged_by FROM erasure.acknowledgements
 WHERE subject = 'ack_customer' ORDER BY finding;
SELECT severity, tbl, problem, says_who FROM ack.findings ORDER BY tbl::text, problem;
SELECT count(*) AS suggestions FROM erasure.suggest_policies('ack_customer') s WHERE s.statement LIKE '%pickup_points%';
SELECT tbl, col, matched, acknowledged FROM erasure.residual_scan(1, 'ack_customer');
SELECT erasure.erasure_preview(1, 'ack_customer') -> 'residual_hits' AS hits,
       erasure.erasure_preview(1, 'ack_customer') -> 'residual_acknowledged' AS acknowledged;
-- Acknowledging again replaces the reason; it stays one acknowledgement.
SELECT erasure.acknowledge('ack_customer', 'trigger', 'ack.customers', 'last_updated',
                           reason => 'stamps last_update only');
SELECT count(*), min(reason) FROM erasure.acknowledgements WHERE subject = 'ack_customer' AND finding = 'trigger';
RESET ROLE;
-- Strict mode lets the erasure through now.
BEGIN;
SET LOCAL erasure.require_complete = on;
SELECT erasure.anonymize('ack_customer', 2) ->> 'status' AS status;
ROLLBACK;

-- The trigger's function redefined: the acknowledgement lapses, the warning is back.
SET ROLE ack_owner;
CREATE OR REPLACE FUNCTION ack.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.last_update := pg_catalog.now(); INSERT INTO ack.unrelated VALUES (NEW.id) ON CONFLICT DO NOTHING; RETURN NEW; END $$;
SELECT severity, tbl, problem FROM ack.findings WHERE problem LIKE 'trigger%';
-- So does a trigger redefined: acknowledged for the new function, then fired differently.
SELECT erasure.acknowledge('ack_customer', 'trigger', 'ack.customers', 'last_updated',
                           reason => 'stamps last_update; the row it inserts holds only the id');
SELECT severity FROM ack.findings WHERE problem LIKE 'trigger%';
CREATE OR REPLACE TRIGGER last_updated BEFORE UPDATE OF name ON ack.customers FOR EACH ROW EXECUTE FUNCTION ack.stamp();
SELECT severity FROM ack.findings WHERE problem LIKE 'trigger%';
-- A partition's own trigger is reported on its registered parent and acknowledged on the
-- partition, where it is defined.
CREATE TABLE ack.visits (customer_id int NOT NULL REFERENCES ack.customers, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE ack.visits_2026 PARTITION OF ack.visits FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX ON ack.visits (customer_id);
CREATE TRIGGER visit_stamp BEFORE UPDATE ON ack.visits_2026 FOR EACH ROW EXECUTE FUNCTION ack.stamp();
SELECT erasure.register_table('ack_customer', 'ack.visits', 'delete');
SELECT severity, tbl, problem, hint LIKE '%erasure.acknowledge(''ack_customer'', ''trigger'', ''ack.visits_2026'', ''visit_stamp''%' AS names_partition
  FROM ack.findings WHERE problem LIKE 'trigger visit_stamp%';
SELECT erasure.acknowledge('ack_customer', 'trigger', 'ack.visits_2026', 'visit_stamp', reason => 'stamps only');
SELECT severity, tbl, problem FROM ack.findings WHERE problem LIKE 'trigger visit_stamp%';
-- The invoice column retyped: the residual is reported again.
ALTER TABLE ack.invoices ALTER COLUMN billed_to TYPE varchar(200);
SELECT tbl, col, matched, acknowledged FROM erasure.residual_scan(1, 'ack_customer');
SELECT erasure.erasure_preview(1, 'ack_customer') -> 'residual_hits' AS hits;
-- Acknowledged again, for the column as it is now.
SELECT erasure.acknowledge('ack_customer', 'residual', 'ack.invoices', 'billed_to',
                           reason => 'invoices keep the billing name by law');
SELECT acknowledged FROM erasure.residual_scan(1, 'ack_customer');

-- Taking back: someone else may not; the owner may, twice; the error is back.
RESET ROLE;
SET ROLE ack_other;
SELECT erasure.unacknowledge('ack_customer', 'reference', 'ack.pickup_points', 'pickup_points_address_id_fkey');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE ack_owner;
SELECT erasure.unacknowledge('ack_customer', 'reference', 'ack.pickup_points', 'pickup_points_address_id_fkey');
SELECT erasure.unacknowledge('ack_customer', 'reference', 'ack.pickup_points', 'pickup_points_address_id_fkey');
SELECT severity, tbl, problem FROM ack.findings WHERE tbl = 'ack.pickup_points'::regclass;
-- A table dropped takes its acknowledgements with it (the DDL watch).
SELECT erasure.acknowledge('ack_customer', 'reference', 'ack.pickup_points', 'pickup_points_address_id_fkey',
                           reason => 'pickup points are the shop''s');
DROP TABLE ack.pickup_points;
SELECT finding, object FROM erasure.acknowledgements WHERE subject = 'ack_customer' ORDER BY finding;
-- A subject dropped takes its acknowledgements with it.
SELECT erasure.drop_subject('ack_customer', cascade => true);
SELECT count(*) AS acknowledgements FROM erasure.acknowledgements WHERE subject = 'ack_customer';
RESET ROLE;
DROP SCHEMA ack CASCADE;
DROP ROLE ack_owner, ack_other, ack_support;
