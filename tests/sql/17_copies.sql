-- Copies the erasure's own writes make: an audit trigger copies the old row of every change
-- into a history table. Registered as check() advises, the history keeps none of the erased
-- values once the erasure has run: the copies its statement made are erased with it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA cp;
CREATE TABLE cp.customers (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL);
CREATE TABLE cp.orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES cp.customers, ship_name text);
CREATE TABLE cp.customer_history (id serial PRIMARY KEY, customer_id integer NOT NULL, old jsonb NOT NULL);
CREATE INDEX ON cp.customer_history (customer_id);
CREATE TABLE cp.order_history (id serial PRIMARY KEY, customer_id integer NOT NULL, old_ship_name text);
CREATE INDEX ON cp.order_history (customer_id);
CREATE FUNCTION cp.audit_customer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO cp.customer_history (customer_id, old) VALUES (OLD.id, to_jsonb(OLD));
  RETURN NULL;
END $$;
CREATE TRIGGER audit AFTER UPDATE OR DELETE ON cp.customers FOR EACH ROW EXECUTE FUNCTION cp.audit_customer();
CREATE FUNCTION cp.audit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO cp.order_history (customer_id, old_ship_name) VALUES (OLD.customer_id, OLD.ship_name);
  RETURN NULL;
END $$;
CREATE TRIGGER audit AFTER UPDATE ON cp.orders FOR EACH ROW EXECUTE FUNCTION cp.audit_order();
INSERT INTO cp.customers VALUES (1, 'Ana Lima', 'ana@example.com'), (2, 'Bia Costa', 'bia@example.com'),
                                (3, 'Caio Reis', 'caio@example.com');
INSERT INTO cp.orders VALUES (10, 1, 'Ana Lima'), (20, 2, 'Bia Costa'), (30, 3, 'Caio Reis');
UPDATE cp.customers SET email = 'ana.lima@example.com' WHERE id = 1;   -- an earlier change, audited
SELECT erasure.register_subject('cp_customer', 'cp.customers');
SELECT erasure.register_table('cp_customer', 'cp.orders');
-- The customer's history is deleted; the orders' history is masked.
SELECT erasure.register_table('cp_customer', 'cp.customer_history', 'delete', via => '{customer_id}');
SELECT erasure.register_table('cp_customer', 'cp.order_history', via => '{customer_id}');
SELECT erasure.set_policy('cp.customers', 'name', 'constant', '{"value": "Xxxx"}'),
       erasure.set_policy('cp.customers', 'email', 'placeholder', '{"template": "erased-{key}@invalid"}'),
       erasure.set_policy('cp.orders', 'id', 'keep'), erasure.set_policy('cp.orders', 'ship_name', 'null'),
       erasure.set_policy('cp.order_history', 'id', 'keep'), erasure.set_policy('cp.order_history', 'old_ship_name', 'null');

SELECT t ->> 'table' AS "table", t ->> 'action' AS action, t ->> 'rows' AS rows
  FROM jsonb_array_elements(erasure.anonymize('cp_customer', 1) -> 'tables') AS t ORDER BY 1;
-- The auditor's test: no table holds Ana's name or either of her e-mails.
SELECT count(*) AS rows_with_erased_values
  FROM (SELECT to_jsonb(c)::text AS r FROM cp.customers c UNION ALL SELECT to_jsonb(o)::text FROM cp.orders o
        UNION ALL SELECT to_jsonb(h)::text FROM cp.customer_history h
        UNION ALL SELECT to_jsonb(h)::text FROM cp.order_history h) s
 WHERE r ~* '(ana lima|ana@example|ana\.lima@example)';
SELECT customer_id, old ->> 'name' AS name FROM cp.customer_history ORDER BY id;
SELECT customer_id, old_ship_name FROM cp.order_history ORDER BY id;
-- A batch erases the copies of each of its subjects too; the others keep their history.
SELECT key, status FROM erasure.anonymize_many('cp_customer', ARRAY[2, 3]) ORDER BY key;
SELECT count(*) AS rows_with_erased_values
  FROM (SELECT to_jsonb(h)::text AS r FROM cp.customer_history h UNION ALL SELECT to_jsonb(h)::text FROM cp.order_history h) s
 WHERE r ~* '(bia|caio)';
-- Mode delete: the row the erasure deletes is audited too, and that copy goes as well.
INSERT INTO cp.customers VALUES (4, 'Duda Alves', 'duda@example.com');
SELECT erasure.anonymize('cp_customer', 4, 'delete') ->> 'status' AS status;
SELECT count(*) AS duda_rows FROM cp.customer_history WHERE old::text ~* 'duda';

DROP SCHEMA cp CASCADE;
DELETE FROM erasure.ledger WHERE subject = 'cp_customer';
