-- A subject keyed by something personal (a newsletter subscriber by e-mail): registered with
-- personal_key, nothing pg_erasure keeps about its erasure — the ledger, its export, a replay
-- document, the notification, a finished request, an error — holds the key, only a keyed
-- digest; repeats, is_erased and replay still know the subject by it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_erasure;
RESET client_min_messages;
SELECT erasure.set_hmac_key('a secret of this test');
CREATE SCHEMA nl;
CREATE TABLE nl.subscribers (email text PRIMARY KEY, name text, topics text);
CREATE TABLE nl.deliveries (id serial PRIMARY KEY, email text NOT NULL REFERENCES nl.subscribers, subject_line text);
INSERT INTO nl.subscribers VALUES ('ana@example.com', 'Ana', 'cats'), ('bia@example.com', 'Bia', 'dogs'),
                                  ('caio@example.com', 'Caio', 'fish');
INSERT INTO nl.deliveries (email, subject_line) VALUES ('ana@example.com', 'Hi'), ('bia@example.com', 'Hi');
SELECT erasure.register_subject('subscriber', 'nl.subscribers', personal_key => true);
SELECT erasure.register_table('subscriber', 'nl.deliveries', 'delete');
SELECT erasure.set_policy('nl.subscribers', 'name', 'null'), erasure.set_policy('nl.subscribers', 'topics', 'null');

SELECT erasure.anonymize('subscriber', 'ana@example.com', 'delete') ->> 'status' AS status;
SELECT erasure.anonymize('subscriber', 'ana@example.com', 'delete') ->> 'status' AS repeat,
       erasure.is_erased('subscriber', 'ana@example.com') AS is_erased;
SELECT key ~ '^hmac:[0-9a-f]{64}$' AS digest_only FROM erasure.ledger WHERE subject = 'subscriber';
SELECT key, status FROM erasure.anonymize_many('subscriber', ARRAY['bia@example.com', 'ana@example.com'], 'delete') ORDER BY key;
SELECT erasure.request('subscriber', 'caio@example.com') AS caio \gset
SELECT erasure.verify_request(:caio) AS verified;
SELECT erasure.approve_request(:caio) AS approved;
SELECT r.status FROM erasure.process_requests('delete') r JOIN erasure.request_queue q ON q.id = r.request_id
 WHERE q.subject = 'subscriber';
-- The auditor's test: no erasure.* object holds an erased e-mail. (The notification's payload is
-- built from the ledger row, digest and all.)
SELECT count(*) AS ledger_rows, count(*) FILTER (WHERE l::text ~ '(ana|bia|caio)@') AS with_an_email
  FROM erasure.ledger l WHERE subject = 'subscriber';
SELECT erasure.ledger_export()::text ~ '(ana|bia|caio)@' AS export_holds_an_email;
SELECT count(*) FILTER (WHERE q::text ~ '(ana|bia|caio)@') AS requests_with_an_email FROM erasure.request_queue q;
SELECT count(*) AS subscribers_left FROM nl.subscribers;
-- Errors name the subject by its digest too.
\set VERBOSITY terse
SELECT erasure.anonymize('subscriber', 'zoe@example.com');
\set VERBOSITY default
-- A replay of the export, after a restore that brought the subscribers back, finds each by its
-- digest and deletes it again.
CREATE TEMP TABLE export AS
SELECT jsonb_build_object('entries', jsonb_agg(e)) AS doc
  FROM jsonb_array_elements(erasure.ledger_export() -> 'entries') AS e WHERE e ->> 'subject' = 'subscriber';
DELETE FROM erasure.request_queue WHERE subject = 'subscriber';
DELETE FROM erasure.ledger WHERE subject = 'subscriber';
INSERT INTO nl.subscribers VALUES ('ana@example.com', 'Ana', 'cats'), ('bia@example.com', 'Bia', 'dogs');
SELECT status, count(*) FROM erasure.replay((SELECT doc FROM export)) GROUP BY status ORDER BY status;
SELECT count(*) AS subscribers_left FROM nl.subscribers;
-- Once erasures are recorded with digests, the subject cannot switch back to plain keys.
SELECT erasure.register_subject('subscriber', 'nl.subscribers');
-- check() says when a key looks personal and is not registered as such.
CREATE TABLE nl.members (email text PRIMARY KEY, nickname text);
SELECT erasure.register_subject('nl_member', 'nl.members');
SELECT erasure.register_table('nl_member', 'nl.deliveries', 'retain', via => '{}', filter => 'email = $1', reason => 'test');
SELECT severity, tbl, col, problem FROM erasure.check('nl_member') WHERE col = 'email';

DROP SCHEMA nl CASCADE;
DELETE FROM erasure.ledger WHERE subject = 'subscriber';
