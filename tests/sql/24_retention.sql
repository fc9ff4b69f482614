-- Retention that ends: invoices are kept unchanged for 5 years from their issue date, then
-- release_expired() masks those of anonymized customers with the invoice table's own policies.
-- Rows still inside their period, and rows of customers not erased, stay byte-identical.
SET client_min_messages = warning;  -- whether another suite created it first does not matter
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA keep;
CREATE TABLE keep.buyers (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE keep.invoices (id integer PRIMARY KEY, buyer_id integer NOT NULL REFERENCES keep.buyers,
                            issued_on date NOT NULL, billed_name text NOT NULL, total numeric NOT NULL);
INSERT INTO keep.buyers VALUES (1, 'Ana Lima'), (2, 'Beto Reis');
INSERT INTO keep.invoices VALUES
  (10, 1, current_date - interval '6 years', 'Ana Lima', 100),   -- period over
  (11, 1, current_date - interval '1 year', 'Ana Lima', 200),    -- inside its period
  (20, 2, current_date - interval '7 years', 'Beto Reis', 300);  -- over, but Beto is not erased
SELECT erasure.register_subject('buyer', 'keep.buyers');
SELECT erasure.register_table('buyer', 'keep.invoices', 'retain', reason => 'bookkeeping law: 5 years',
                              retain_for => '5 years', retain_from => 'issued_on');
SELECT erasure.set_policy('keep.buyers', 'name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('keep.invoices', 'billed_name', 'constant', '{"value": "Xxxx"}');
-- Invoice lines have no date of their own: they expire with their invoice.
CREATE TABLE keep.invoice_lines (id integer PRIMARY KEY, invoice_id integer NOT NULL REFERENCES keep.invoices,
                                 item text NOT NULL, gift_note text);
INSERT INTO keep.invoice_lines VALUES (100, 10, 'book', 'for Ana'), (110, 11, 'pen', 'for Ana'), (200, 20, 'ink', 'for Beto');
SELECT erasure.register_table('buyer', 'keep.invoice_lines', 'retain', parent => 'keep.invoices',
                              reason => 'bookkeeping law: 5 years', retain_for => '5 years',
                              retain_from => 'parent.issued_on');
SELECT erasure.set_policy('keep.invoice_lines', 'gift_note', 'null');
-- check() names each column of a table with a retention period that no policy decides on: the
-- release would leave it as it is.
SELECT severity, tbl, col, problem FROM erasure.check('buyer') ORDER BY tbl::text, col;
SELECT erasure.set_policy('keep.invoices', 'issued_on', 'keep'), erasure.set_policy('keep.invoices', 'total', 'keep'),
       erasure.set_policy('keep.invoice_lines', 'id', 'keep'), erasure.set_policy('keep.invoice_lines', 'item', 'keep');
SELECT count(*) AS check_findings FROM erasure.check('buyer') WHERE severity = 'error';

-- Retention needs retain, retain_for and retain_from together, on a date column.
SELECT erasure.register_table('buyer', 'keep.invoices', 'retain', retain_for => '5 years');
SELECT erasure.register_table('buyer', 'keep.invoices', 'mask', retain_for => '5 years', retain_from => 'issued_on');
SELECT erasure.register_table('buyer', 'keep.invoices', 'retain', retain_for => '5 years', retain_from => 'total');
SELECT retain_for, retain_from FROM erasure.tables WHERE tbl = 'keep.invoices'::regclass;
-- A parent's column is named parent.column, and must be a date too.
SELECT erasure.register_table('buyer', 'keep.invoice_lines', 'retain', parent => 'keep.invoices',
                              retain_for => '5 years', retain_from => 'parent.issued');
SELECT erasure.register_table('buyer', 'keep.invoice_lines', 'retain', parent => 'keep.invoices',
                              retain_for => '5 years', retain_from => 'parent.total');
SELECT retain_from FROM erasure.tables WHERE tbl = 'keep.invoice_lines'::regclass;

CREATE TEMP TABLE before AS SELECT id, xmin::text AS x, to_jsonb(i) AS r FROM keep.invoices i;
-- Nobody erased yet: nothing to release.
SELECT * FROM erasure.release_expired('buyer');
-- Anonymizing keeps every invoice unchanged...
SELECT erasure.anonymize('buyer', 1) -> 'tables' -> 1 AS invoices;
SELECT count(*) AS invoices_changed FROM keep.invoices i JOIN before b USING (id)
 WHERE i.xmin::text <> b.x OR to_jsonb(i) <> b.r;
-- ... and the release masks only Ana's invoice whose period is over.
SELECT * FROM erasure.release_expired();
SELECT id, billed_name, total FROM keep.invoices ORDER BY id;
SELECT id, invoice_id, item, gift_note FROM keep.invoice_lines ORDER BY id;
SELECT id, i.xmin::text = b.x AS untouched FROM keep.invoices i JOIN before b USING (id) ORDER BY id;
SELECT key, status, mode, tables -> 0 ->> 'rows' AS rows FROM erasure.ledger WHERE subject = 'buyer' ORDER BY request_id;
-- Running it again writes nothing: the released row keeps its xmin.
CREATE TEMP TABLE released AS SELECT id, xmin::text AS x FROM keep.invoices WHERE id = 10;
SELECT * FROM erasure.release_expired('buyer');
SELECT i.xmin::text = r.x AS not_rewritten FROM keep.invoices i JOIN released r USING (id);
-- Time passes: invoice 11's period ends too (its date is moved back to simulate the years).
UPDATE keep.invoices SET issued_on = current_date - interval '5 years 1 day' WHERE id = 11;
SELECT * FROM erasure.release_expired('buyer');
SELECT id, billed_name FROM keep.invoices ORDER BY id;
SELECT id, gift_note FROM keep.invoice_lines ORDER BY id;
SELECT count(*) AS release_entries FROM erasure.ledger WHERE subject = 'buyer' AND status = 'released';
-- Renaming the date column, or the parent table, keeps both retentions working.
ALTER TABLE keep.invoices RENAME COLUMN issued_on TO issued_date;
ALTER TABLE keep.invoices RENAME TO bills;
SELECT tbl, retain_from FROM erasure.tables WHERE subject = 'buyer' ORDER BY tbl::text;
SELECT * FROM erasure.release_expired('buyer');
