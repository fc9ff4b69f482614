-- Partitioned tables as one table: a registered partitioned parent covers its partitions,
-- present and future. Their own foreign keys, indexes and triggers count as the parent's; a
-- new monthly partition needs nothing; a partition registered beside its parent is refused;
-- rows are counted once.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA part;
CREATE TABLE part.customers (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL);
-- As in the DVD-rental sample: the parent has no foreign key and no index, each monthly
-- partition declares its own.
CREATE TABLE part.payments (id integer NOT NULL, customer_id integer NOT NULL, paid_on date NOT NULL,
                            amount numeric NOT NULL, PRIMARY KEY (id, paid_on)) PARTITION BY RANGE (paid_on);
CREATE TABLE part.payments_2026_01 PARTITION OF part.payments FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE part.payments_2026_02 PARTITION OF part.payments FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
ALTER TABLE part.payments_2026_01 ADD FOREIGN KEY (customer_id) REFERENCES part.customers;
ALTER TABLE part.payments_2026_02 ADD FOREIGN KEY (customer_id) REFERENCES part.customers;
CREATE INDEX ON part.payments_2026_01 (customer_id);
CREATE INDEX ON part.payments_2026_02 (customer_id);
INSERT INTO part.customers VALUES (1, 'Ana Lima', 'ana@example.com'), (2, 'Beto Reis', 'beto@example.com');
INSERT INTO part.payments VALUES (1, 1, '2026-01-05', 10), (2, 1, '2026-02-07', 20), (3, 2, '2026-02-09', 30);

SELECT erasure.register_subject('payer', 'part.customers');
SELECT erasure.set_policy('part.customers', 'name', 'constant', '{"value": "Anonymous"}'),
       erasure.set_policy('part.customers', 'email', 'placeholder', '{"template": "{key}@erased.invalid"}');
SELECT erasure.register_table('payer', 'part.payments', 'retain', via => '{customer_id}', reason => 'tax law');
-- Each partition's own foreign key and index satisfy the parent: check() finds nothing.
SELECT severity, tbl, problem FROM erasure.check('payer') WHERE tbl::text LIKE 'part.%';

-- A partition registered beside its parent, or a parent beside its partition, is refused.
\set VERBOSITY default
SELECT erasure.register_table('payer', 'part.payments_2026_01', 'retain', via => '{customer_id}');
SELECT erasure.drop_table('payer', 'part.payments');
SELECT erasure.register_table('payer', 'part.payments_2026_01', 'retain', via => '{customer_id}');
SELECT erasure.register_table('payer', 'part.payments', 'retain', via => '{customer_id}');
SELECT erasure.drop_table('payer', 'part.payments_2026_01');
SELECT erasure.register_table('payer', 'part.payments', 'retain', via => '{customer_id}', reason => 'tax law');
SELECT tbl FROM erasure.tables WHERE subject = 'payer';

-- Next month's partition: the DDL watch says it needs nothing; without its own foreign key and
-- index, check() warns about that partition (but strict mode has no error to refuse on).
CREATE TABLE part.payments_2026_03 PARTITION OF part.payments FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
INSERT INTO part.payments VALUES (4, 1, '2026-03-02', 40);
SELECT severity, tbl, problem FROM erasure.check('payer') WHERE tbl::text LIKE 'part.%' ORDER BY problem;
-- A trigger a partition of a masked table has of its own is reported on the parent, once.
CREATE TABLE part.visits (id integer NOT NULL, customer_id integer NOT NULL REFERENCES part.customers, kind text NOT NULL,
                          note text, PRIMARY KEY (id, kind)) PARTITION BY LIST (kind);
CREATE INDEX ON part.visits (customer_id);
CREATE TABLE part.visits_shop PARTITION OF part.visits FOR VALUES IN ('shop');
CREATE TABLE part.visits_web PARTITION OF part.visits FOR VALUES IN ('web');
SELECT erasure.register_table('payer', 'part.visits');
SELECT erasure.set_policy('part.visits', 'note', 'null'), erasure.set_policy('part.visits', 'id', 'keep'),
       erasure.set_policy('part.visits', 'kind', 'keep');
CREATE FUNCTION part.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER touch BEFORE UPDATE ON part.visits_web FOR EACH ROW EXECUTE FUNCTION part.touch();
CREATE TRIGGER everywhere BEFORE UPDATE ON part.visits FOR EACH ROW EXECUTE FUNCTION part.touch();
SELECT severity, tbl, problem FROM erasure.check('payer') WHERE problem LIKE 'trigger%' ORDER BY problem;
DROP TRIGGER touch ON part.visits_web;
DROP TRIGGER everywhere ON part.visits;

-- Strict mode erases; the payments are counted once, and stay byte-identical.
SET erasure.require_complete = on;
CREATE TEMP TABLE before AS SELECT tableoid::regclass AS part, id, xmin::text AS x FROM part.payments;
SELECT r -> 'tables' AS tables FROM erasure.anonymize('payer', 1) AS r;
SELECT count(*) AS payments_changed FROM part.payments p JOIN before b USING (id) WHERE p.xmin::text <> b.x;
SELECT id, name, email FROM part.customers ORDER BY id;
SELECT jsonb_array_length(tables) AS tables_in_ledger FROM erasure.ledger WHERE subject = 'payer';
RESET erasure.require_complete;
