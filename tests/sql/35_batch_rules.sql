-- Registered batch rules: the owner registers the nightly candidate query once; an operator
-- without any right on the shop's tables reviews it (dry run), leaves a customer out and runs
-- it, and never supplies SQL. Every refusal at registration and at run time, with its SQLSTATE.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
\set SHOW_CONTEXT never
CREATE ROLE rules_owner;
CREATE ROLE rules_other;
CREATE ROLE rules_support;
GRANT erasure_admin TO rules_owner, rules_other;
GRANT erasure_operator TO rules_support;
CREATE SCHEMA rules AUTHORIZATION rules_owner;
SET ROLE rules_owner;
CREATE TABLE rules.customers (id bigint PRIMARY KEY, name text NOT NULL, last_seen timestamptz NOT NULL);
CREATE TABLE rules.appointments (id int PRIMARY KEY, customer_id bigint NOT NULL REFERENCES rules.customers,
                                 at timestamptz NOT NULL);
-- 1-4 last seen three years ago, 5 last month; 2 has an appointment next week.
INSERT INTO rules.customers SELECT g, 'Cliente ' || g, now() - interval '3 years' FROM generate_series(1, 4) g;
INSERT INTO rules.customers VALUES (5, 'Cliente 5', now() - interval '1 month');
INSERT INTO rules.appointments VALUES (1, 2, now() + interval '1 week');
SELECT erasure.register_subject('rules_customer', 'rules.customers');
SELECT erasure.register_table('rules_customer', 'rules.appointments', 'retain', reason => 'the agenda keeps them');
SELECT erasure.set_policy('rules.customers', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('rules.customers', 'last_seen', 'keep');

SELECT erasure.register_batch_rule('rules_customer', 'inactive', $$
  SELECT c.id FROM rules.customers c
   WHERE c.last_seen < now() - $1
     AND NOT EXISTS (SELECT FROM rules.appointments a WHERE a.customer_id = c.id AND a.at > now())$$,
  parameter => 'interval', comment => 'not seen for the period given, no future appointment');
SELECT erasure.register_batch_rule('rules_customer', 'everyone', 'SELECT id FROM rules.customers');
SELECT subject, name, parameter, comment FROM erasure.batch_rules WHERE subject = 'rules_customer' ORDER BY name;

-- Refused at registration, each changing nothing.
SELECT erasure.register_batch_rule('rules_customer', 'two', 'SELECT id FROM rules.customers; SELECT 1');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.register_batch_rule('rules_customer', 'writes', 'DELETE FROM rules.customers RETURNING id');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.register_batch_rule('rules_customer', 'cte',
  'WITH d AS (DELETE FROM rules.customers RETURNING id) SELECT id FROM d');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.register_batch_rule('rules_customer', 'int', 'SELECT id::int FROM rules.customers');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.register_batch_rule('rules_customer', 'wide', 'SELECT id, name FROM rules.customers');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.register_batch_rule('rules_customer', 'undeclared', 'SELECT id FROM rules.customers WHERE last_seen < now() - $1::interval');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.register_batch_rule('rules_customer', 'unused', 'SELECT id FROM rules.customers', parameter => 'interval');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.register_batch_rule('rules_customer', 'second', 'SELECT id FROM rules.customers WHERE id > $2', parameter => 'bigint');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.register_batch_rule('rules_customer', 'mistyped', 'SELECT id FROM rules.customers WHERE last_seen < $1', parameter => 'interval');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.register_batch_rule('rules_customer', 'missing', 'SELECT id FROM rules.no_such_table');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.register_batch_rule('rules_customer', '', 'SELECT id FROM rules.customers');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.register_batch_rule('no_subject', 'x', 'SELECT 1::bigint');
\echo :LAST_ERROR_SQLSTATE
-- Catalog SQL runs as the owner: a rule reading what the owner may not read is refused.
RESET ROLE;
CREATE TABLE public.rules_payroll (id bigint);
SET ROLE rules_owner;
SELECT erasure.register_batch_rule('rules_customer', 'payroll', 'SELECT id FROM public.rules_payroll');
\echo :LAST_ERROR_SQLSTATE
-- Another admin may not register or drop the owner's rules; the operator may not either.
RESET ROLE;
SET ROLE rules_other;
SELECT erasure.register_batch_rule('rules_customer', 'mine', 'SELECT id FROM rules.customers');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.drop_batch_rule('rules_customer', 'everyone');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE rules_support;
SELECT erasure.register_batch_rule('rules_customer', 'mine', 'SELECT id FROM rules.customers');
\echo :LAST_ERROR_SQLSTATE
SELECT erasure.drop_batch_rule('rules_customer', 'everyone');
\echo :LAST_ERROR_SQLSTATE
SELECT name FROM erasure.batch_rules WHERE subject = 'rules_customer' ORDER BY name;

-- The operator has no right on the shop's tables ...
SELECT count(*) FROM rules.customers;
\echo :LAST_ERROR_SQLSTATE
-- ... and reviews the rule: 1, 3 and 4 (2 has an appointment, 5 was seen last month).
CALL erasure.erase_batches('rules_customer', 'inactive', '2 years', dry_run => true);
-- The review unticks customer 3: the dry run lists the others.
CALL erasure.erase_batches('rules_customer', 'inactive', '2 years', dry_run => true, except_keys => '{3}');
-- A key to leave out that the rule does not select (a typo) is refused and nothing is erased.
CALL erasure.erase_batches('rules_customer', 'inactive', '2 years', except_keys => '{30}');
\echo :LAST_ERROR_SQLSTATE
CALL erasure.erase_batches('rules_customer', 'inactive', '2 years', except_keys => '{x}');
\echo :LAST_ERROR_SQLSTATE
-- Arguments: converted to the declared type; refused when it does not convert, when missing,
-- when the rule takes none; an unknown rule, or SQL where the rule's name goes, is refused.
CALL erasure.erase_batches('rules_customer', 'inactive', '2 yeers');
\echo :LAST_ERROR_SQLSTATE
CALL erasure.erase_batches('rules_customer', 'inactive');
\echo :LAST_ERROR_SQLSTATE
CALL erasure.erase_batches('rules_customer', 'everyone', '2 years');
\echo :LAST_ERROR_SQLSTATE
CALL erasure.erase_batches('rules_customer', 'SELECT id FROM rules.customers');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS ledger_rows FROM erasure.ledger WHERE subject = 'rules_customer';
-- The run, for real, with 3 left out.
CALL erasure.erase_batches('rules_customer', 'inactive', '2 years', except_keys => '{3}');
SELECT key, status, executed_by FROM erasure.ledger WHERE subject = 'rules_customer' ORDER BY key;
-- Again: only 3 is left, and now nobody leaves it out.
CALL erasure.erase_batches('rules_customer', 'inactive', '2 years', dry_run => true);
RESET ROLE;
SELECT id, name FROM rules.customers ORDER BY id;

-- Dropping: the owner only, idempotent; a dropped rule no longer runs.
SET ROLE rules_owner;
SELECT erasure.drop_batch_rule('rules_customer', 'everyone');
SELECT erasure.drop_batch_rule('rules_customer', 'everyone');
SELECT name FROM erasure.batch_rules WHERE subject = 'rules_customer' ORDER BY name;
RESET ROLE;
SET ROLE rules_support;
CALL erasure.erase_batches('rules_customer', 'everyone');
\echo :LAST_ERROR_SQLSTATE
-- A subject dropped takes its rules with it.
RESET ROLE;
SET ROLE rules_owner;
SELECT erasure.drop_subject('rules_customer', cascade => true);
SELECT count(*) AS rules_left FROM erasure.batch_rules WHERE subject = 'rules_customer';
RESET ROLE;
DROP SCHEMA rules CASCADE;
DROP TABLE public.rules_payroll;
DROP ROLE rules_owner, rules_other, rules_support;
