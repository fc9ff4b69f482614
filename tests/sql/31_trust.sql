-- What the security model promises beyond refusing callers (README "Security"): catalog code
-- runs as the subject's owner and leaves no setting behind; retained tables are enforced;
-- errors carry no personal value.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;

CREATE ROLE trust_owner LOGIN IN ROLE erasure_admin;
CREATE ROLE trust_operator LOGIN IN ROLE erasure_operator;
CREATE SCHEMA trust AUTHORIZATION trust_owner;
SET ROLE trust_owner;
CREATE TABLE trust.customers (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL,
                              phone text, CONSTRAINT name_is_not_phone CHECK (name <> phone));
CREATE TABLE trust.orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES trust.customers,
                           status text NOT NULL, ship_name text);
CREATE TABLE trust.invoices (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES trust.customers,
                             billed_to text NOT NULL);
INSERT INTO trust.customers VALUES (1, 'Ana Lima', 'ana@example.com', '+55 11 5555-0001'),
                                   (2, 'Bia Costa', 'bia@example.com', '+55 11 5555-0002'),
                                   (3, 'Caio Reis', 'caio@example.com', NULL);
INSERT INTO trust.orders VALUES (10, 1, 'delivered', 'Ana Lima'), (20, 2, 'delivered', 'Bia Costa'),
                                (30, 3, 'awaiting_payment', 'Caio Reis');
INSERT INTO trust.invoices VALUES (100, 1, 'Ana Lima'), (200, 2, 'Bia Costa');
-- A blocker whose function also tries to change the session of whoever calls the erasure.
CREATE FUNCTION trust.awaiting(customer integer) RETURNS SETOF integer LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'trust, public', false);
  PERFORM pg_catalog.set_config('work_mem', '77kB', false);
  PERFORM pg_catalog.set_config('default_transaction_isolation', 'serializable', false);
  RETURN QUERY SELECT o.id FROM trust.orders o WHERE o.customer_id = customer AND o.status = 'awaiting_payment';
END $$;
SELECT erasure.register_subject('trust_customer', 'trust.customers');
SELECT erasure.register_table('trust_customer', 'trust.orders');
SELECT erasure.register_table('trust_customer', 'trust.invoices', 'retain', reason => 'bookkeeping law');
SELECT erasure.set_policy('trust.customers', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('trust.customers', 'email', 'placeholder', '{"template": "erased-{key}@invalid"}'),
       erasure.set_policy('trust.customers', 'phone', 'null'),
       erasure.set_policy('trust.orders', 'status', 'keep'),
       erasure.set_policy('trust.orders', 'ship_name', 'null');
SELECT erasure.register_blocker('trust_customer', 'awaiting_payment', 'SELECT a.id FROM trust.awaiting($1) AS a(id)');
RESET ROLE;

-- The operator's session keeps its settings, whatever catalog code set meanwhile.
SET ROLE trust_operator;
SET work_mem = '4MB';
SELECT blocker FROM erasure.erasure_blockers(3, 'trust_customer');
SELECT erasure.anonymize('trust_customer', 3);
SELECT erasure.anonymize('trust_customer', 1) ->> 'status' AS status;
SELECT current_setting('search_path') AS search_path, current_setting('work_mem') AS work_mem,
       current_setting('default_transaction_isolation') AS isolation;
RESET work_mem;
RESET ROLE;

-- A blocked erasure's error names the blocker and a count; the row's values stay out of it.
\set VERBOSITY verbose
SET ROLE trust_operator;
SELECT erasure.anonymize('trust_customer', 3);
RESET ROLE;
\set VERBOSITY default

-- A constraint the masked row breaks: its SQLSTATE and the constraint's name, not the row.
SET ROLE trust_owner;
SELECT erasure.set_policy('trust.customers', 'phone', 'constant', '{"value": "Xxxx"}');
RESET ROLE;
\set VERBOSITY verbose
SET ROLE trust_operator;
SELECT erasure.anonymize('trust_customer', 2);
RESET ROLE;
\set VERBOSITY default
SELECT * FROM trust.customers WHERE id = 2;

-- Retained means enforced: a trigger on a masked table that rewrites invoices makes the
-- erasure fail with 27000, changing nothing.
SET ROLE trust_owner;
SELECT erasure.set_policy('trust.customers', 'phone', 'null');
CREATE FUNCTION trust.touch_invoices() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE trust.invoices SET billed_to = NEW.name WHERE customer_id = NEW.id;
  RETURN NEW;
END $$;
CREATE TRIGGER touch_invoices AFTER UPDATE ON trust.customers FOR EACH ROW EXECUTE FUNCTION trust.touch_invoices();
RESET ROLE;
CREATE TEMP TABLE invoices_before AS SELECT i.*, i.xmin::text AS row_version FROM trust.invoices i;
SET ROLE trust_operator;
SELECT erasure.anonymize('trust_customer', 2);
RESET ROLE;
SELECT count(*) AS invoices_changed FROM trust.invoices i
  FULL JOIN invoices_before b ON b.id = i.id
 WHERE b.id IS NULL OR i.id IS NULL OR b.billed_to <> i.billed_to OR b.row_version <> i.xmin::text;
SELECT name FROM trust.customers WHERE id = 2;
SET ROLE trust_owner;
DROP TRIGGER touch_invoices ON trust.customers;

-- A retained table's foreign key that follows a masked column is refused, and check() reports
-- one added afterwards.
CREATE UNIQUE INDEX ON trust.customers (email);
ALTER TABLE trust.invoices ADD COLUMN customer_email text
  REFERENCES trust.customers (email) ON UPDATE CASCADE;
SELECT severity, tbl, problem FROM erasure.check('trust_customer') WHERE problem LIKE 'foreign key%';
SELECT erasure.register_table('trust_customer', 'trust.invoices', 'retain', via => '{customer_id}', reason => 'bookkeeping law');
ALTER TABLE trust.invoices DROP COLUMN customer_email;
-- With the trigger and the foreign key gone, customer 2 is erased and its invoice kept.
RESET ROLE;
SET ROLE trust_operator;
SELECT erasure.anonymize('trust_customer', 2) ->> 'status' AS status;
RESET ROLE;
SELECT count(*) AS invoices_changed FROM trust.invoices i JOIN invoices_before b ON b.id = i.id
 WHERE b.billed_to <> i.billed_to OR b.row_version <> i.xmin::text;
SELECT id, name, email, phone FROM trust.customers ORDER BY id;

DROP SCHEMA trust CASCADE;
DELETE FROM erasure.ledger WHERE subject = 'trust_customer';
DROP ROLE trust_owner, trust_operator;
