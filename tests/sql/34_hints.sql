-- Hints that erase: the set_policy() call check() proposes for a column without a policy (and
-- the DDL watch and suggest_policies() print) erases what looks personal, and keeps only what
-- does not, key columns included. Run as printed, they leave no personal value behind.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA hint;
CREATE TABLE hint.addresses (id int PRIMARY KEY, street text);
CREATE TABLE hint.customers (
  id int PRIMARY KEY, full_name text NOT NULL, email text UNIQUE, login_email text NOT NULL,
  phone text NOT NULL, mobile_phone text, cpf text NOT NULL UNIQUE, birth_date date NOT NULL,
  uf text NOT NULL, postal_code text, address_id int REFERENCES hint.addresses, loyalty_points int NOT NULL,
  created_on date NOT NULL);
INSERT INTO hint.addresses VALUES (1, 'Rua A 1'), (2, 'Rua B 2');
INSERT INTO hint.customers VALUES
  (1, 'Ana Lima', 'ana@example.com', 'ana.l@example.com', '+55 11 91234-5678', '+55 11 99999-0001', '123.456.789-09',
   '1984-07-14', 'SP', '01001-000', 1, 120, '2020-01-05'),
  (2, 'Bia Souza', 'bia@example.com', 'bia.s@example.com', '+55 21 92345-6789', NULL, '987.654.321-00',
   '1990-02-01', 'RJ', '20000-000', 2, 40, '2021-03-09');
CREATE TEMP TABLE before AS SELECT * FROM hint.customers;
SELECT erasure.register_subject('hint_customer', 'hint.customers');
CREATE TABLE hint.notes (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES hint.customers, body text);
INSERT INTO hint.notes VALUES (1, 1, 'called Ana');
SELECT erasure.register_table('hint_customer', 'hint.notes', 'delete');

-- What check() proposes, column by column.
SELECT col, hint FROM erasure.check('hint_customer') WHERE problem LIKE 'column has no masking policy%' ORDER BY col;
-- suggest_policies() prints the same calls.
SELECT count(*) AS differing FROM erasure.check('hint_customer') c
  FULL JOIN erasure.suggest_policies('hint_customer') s ON split_part(c.hint, '  --', 1) = s.statement
 WHERE c.problem LIKE 'column has no masking policy%' AND (c.hint IS NULL OR s.statement IS NULL);

-- Run as printed, then erase.
DO $$
DECLARE fix record;
BEGIN
  FOR fix IN SELECT hint FROM erasure.check('hint_customer') WHERE problem LIKE 'column has no masking policy%' LOOP
    EXECUTE fix.hint;
  END LOOP;
END $$;
SELECT count(*) AS errors_left FROM erasure.check('hint_customer') WHERE severity = 'error';
SELECT erasure.anonymize('hint_customer', 1) ->> 'status' AS status;

-- Every column whose name looks personal changed; what does not look personal is as it was.
SELECT a.attname AS col, erasure.name_looks_personal('hint.customers', a.attname) AS looks_personal,
       to_jsonb(c) -> a.attname IS DISTINCT FROM to_jsonb(b) -> a.attname AS changed
  FROM pg_attribute a, hint.customers c, before b
 WHERE a.attrelid = 'hint.customers'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND c.id = 1 AND b.id = 1
 ORDER BY a.attnum;
-- Customer 2 untouched.
SELECT to_jsonb(c) = to_jsonb(b) AS other_customer_unchanged FROM hint.customers c JOIN before b USING (id) WHERE id = 2;
