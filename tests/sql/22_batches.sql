-- erase_batches: seed 002's bulk clean-up. Candidates are the customers with no appointment
-- in the last year and none in the future, selected by the owner's registered rule; a dry run
-- lists them with their decisions and changes nothing; the real run commits batch by batch and
-- reports progress; a second run finds nothing left to do.
SET client_min_messages = warning;  -- whether another suite created it first does not matter
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
CREATE SCHEMA agenda;
CREATE TABLE agenda.clients (id integer PRIMARY KEY, name text NOT NULL, phone text);
CREATE TABLE agenda.appointments (id integer PRIMARY KEY, client_id integer NOT NULL REFERENCES agenda.clients,
                                  at timestamptz NOT NULL, note text);
CREATE TABLE agenda.reminders (id integer PRIMARY KEY, client_id integer NOT NULL REFERENCES agenda.clients, sent text);
-- Clients 1-7: last appointment two years ago; 8-9: recent; 10: one in the future; 11-12: none at all.
INSERT INTO agenda.clients SELECT g, 'Cliente ' || g, '+39 02 ' || g FROM generate_series(1, 12) g;
INSERT INTO agenda.appointments SELECT g, g, now() - interval '2 years', 'taglio' FROM generate_series(1, 7) g;
INSERT INTO agenda.appointments VALUES (8, 8, now() - interval '1 month', 'colore'), (9, 9, now() - interval '2 months', NULL),
                                       (10, 10, now() + interval '1 week', 'piega');
INSERT INTO agenda.reminders SELECT g, g, 'sms' FROM generate_series(1, 12) g;

SELECT erasure.register_subject('agenda_client', 'agenda.clients');
SELECT erasure.register_table('agenda_client', 'agenda.appointments');
SELECT erasure.register_table('agenda_client', 'agenda.reminders', 'delete');
SELECT erasure.set_policy('agenda.clients', 'name', 'constant', '{"value": "Cliente sconosciuto"}');
SELECT erasure.set_policy('agenda.clients', 'phone', 'null');
SELECT erasure.set_policy('agenda.appointments', 'note', 'null');
SELECT erasure.set_policy('agenda.appointments', 'at', 'keep');
SELECT erasure.set_policy('agenda.appointments', 'id', 'keep');

-- The nightly rule, registered by the owner: clients with no appointment since $1 ago.
SELECT erasure.register_batch_rule('agenda_client', 'inactive', $$
  SELECT c.id FROM agenda.clients c
   WHERE NOT EXISTS (SELECT FROM agenda.appointments a
                      WHERE a.client_id = c.id AND a.at > now() - $1)$$,
  parameter => 'interval', comment => 'no appointment in the period given');

-- The review step: candidates and what would happen to each; nothing changes.
CALL erasure.erase_batches('agenda_client', 'inactive', '1 year', batch_size => 4, dry_run => true);
SELECT count(*) AS ledger_rows FROM erasure.ledger WHERE subject = 'agenda_client';

-- The run: 9 candidates (1-7 anonymized, keeping their past appointments; 11-12 deleted, having
-- nothing to keep) in batches of 4.
CALL erasure.erase_batches('agenda_client', 'inactive', '1 year', batch_size => 4);
SELECT id, name, phone FROM agenda.clients ORDER BY id;
SELECT client_id, note FROM agenda.appointments ORDER BY id;
SELECT string_agg(client_id::text, ',' ORDER BY client_id) AS reminders_left FROM agenda.reminders;
SELECT status, count(*) FROM erasure.ledger WHERE subject = 'agenda_client' GROUP BY status ORDER BY status;

-- Running it again continues where it stopped: here nothing is left.
CALL erasure.erase_batches('agenda_client', 'inactive', '1 year');

-- Bad input changes nothing.
CALL erasure.erase_batches('agenda_client', 'inactive', '1 year', batch_size => 0);
BEGIN;
CALL erasure.erase_batches('agenda_client', 'inactive', '1 day', batch_size => 1);
ROLLBACK;
SELECT name FROM agenda.clients WHERE id = 8;
