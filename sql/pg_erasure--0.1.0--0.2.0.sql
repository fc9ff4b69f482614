-- pg_erasure 0.1.0 → 0.2.0, run by ALTER EXTENSION pg_erasure UPDATE TO '0.2.0'.
\echo Use "ALTER EXTENSION pg_erasure UPDATE TO '0.2.0'" to load this file. \quit
--
-- A released upgrade script never changes: databases already upgraded ran it as it was. Once
-- 0.2.0 is released, a change to the SQL surface goes into pg_erasure--0.2.0--<next>.sql.
-- Until then, a change to sql/*.sql goes here too, in the section of its object; scripts/upgrade.sh
-- compares the upgraded schema with a fresh install's and names every line that differs.
--
-- It keeps every catalog row, ledger row and request, and ends in the schema a fresh 0.2.0
-- install has. By object:
--   1. the hmac key: from 0.1.0's setting erasure.hmac_key into the table erasure.hmac_key
--   2. objects 0.1.0 had and 0.2.0 has not, or has with another signature: dropped
--   3. the role erasure_executor: its privileges in this database revoked, the role kept
--   4. catalog tables: new columns, new tables, changed indexes and checks, pg_extension_config_dump;
--      erasure.request_queue rebuilt with the request lifecycle, 0.1.0's requests moved into it
--   5. functions: every function of 0.2.0, as sql/catalog.sql, sql/api.sql and sql/check.sql
--      define it (CREATE OR REPLACE keeps the grants others made on an unchanged signature)
--   6. the view erasure.requests
--   7. grants: what 0.1.0 granted that 0.2.0 does not, revoked; then sql/security.sql
-- The ledger's rows stay as 0.1.0 wrote them: 0.2.0 reads them as they are (a release of
-- retained rows is matched by table name when it has no oid), and erasure.seal_ledger() links
-- them into the hash chain on its first call.

-- 1. The hmac key ------------------------------------------------------------------------------
-- 0.1.0 read the secret of the hmac strategy from the setting erasure.hmac_key; 0.2.0 reads the
-- table erasure.hmac_key. The key moves over so that hmac-masked values stay the same digests.
-- This runs before anything loads the 0.2.0 library, which reserves the prefix "erasure" and
-- removes a placeholder erasure.hmac_key from the session; so the setting is looked up where a
-- superuser sets it too: ALTER DATABASE … SET, then postgresql.conf and ALTER SYSTEM.

CREATE TABLE erasure.hmac_key (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    key       text NOT NULL,
    set_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE erasure.hmac_key IS
    'The secret key of the hmac masking strategy (one row); readable by the extension''s owner only.';

DO $hmac_key$
DECLARE
    key text := NULLIF(pg_catalog.current_setting('erasure.hmac_key', true), '');
BEGIN
    IF key IS NULL THEN
        SELECT pg_catalog.substr(s.setting, pg_catalog.length('erasure.hmac_key=') + 1) INTO key
          FROM pg_catalog.pg_db_role_setting d, pg_catalog.unnest(d.setconfig) AS s(setting)
         WHERE d.setrole = 0 AND d.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
           AND s.setting LIKE 'erasure.hmac\_key=%'
         ORDER BY d.setdatabase DESC LIMIT 1;
    END IF;
    IF key IS NULL THEN
        SELECT f.setting INTO key FROM pg_catalog.pg_file_settings f
         WHERE f.name = 'erasure.hmac_key' AND f.error IS NULL
         ORDER BY f.seqno DESC LIMIT 1;
    END IF;
    IF NULLIF(key, '') IS NOT NULL THEN
        INSERT INTO erasure.hmac_key (key) VALUES (key);
        RAISE WARNING 'pg_erasure: the hmac key moved from the setting erasure.hmac_key into the table erasure.hmac_key'
            USING HINT = 'Remove the setting (ALTER DATABASE … RESET erasure.hmac_key, postgresql.conf, ALTER SYSTEM RESET): '
                         'pg_erasure 0.2.0 no longer reads it, and an unknown setting is readable by anyone.';
    END IF;
END
$hmac_key$;

-- 2. Dropped: what 0.2.0 has not, or has with another signature (created again in section 5) --
-- The view's columns change in the middle, which CREATE OR REPLACE VIEW cannot do.
DROP VIEW erasure.requests;
-- New parameters: register_subject(personal_key), register_table(referenced_by),
-- pending_vacuum(subject); hmac_sha256 takes the key; erase_batches runs a registered rule.
DROP FUNCTION erasure.register_subject(text, regclass, name, name[]);
DROP FUNCTION erasure.register_table(text, regclass, text, name[], regclass, text, text, interval, name);
DROP FUNCTION erasure.pending_vacuum();
DROP FUNCTION erasure.hmac_sha256(text);
DROP PROCEDURE erasure.erase_batches(text, text, integer, text, boolean);
-- Another result: residual_scan's rows say whether an acknowledgement covers them.
DROP FUNCTION erasure.residual_scan(anyelement, text);
DROP FUNCTION erasure.residual_scan(text, text);

-- 3. The role erasure_executor -----------------------------------------------------------------
-- 0.1.0 ran erasures as erasure_executor and granted it SELECT, UPDATE, DELETE on every
-- registered table (and USAGE on its schema, SELECT on what blockers and filters read); 0.2.0
-- runs each erasure as its subject's owner and has no use for the role. What the role holds in
-- this database is revoked: on relations (columns included), schemas and routines, as their
-- owners granted it (0.1.0 granted as the extension's owner, a superuser, which PostgreSQL
-- records as the object's owner's grant, and so did a DBA following erasure.check()'s hint).
-- The role itself stays, as DROP EXTENSION leaves roles too: roles belong to the cluster, this
-- script reaches only this database, and DROP ROLE fails while another database still grants
-- it something. The warning says whether one does (pg_shdepend sees every database's grants).
DO $executor$
DECLARE
    object record;
    elsewhere bigint;
BEGIN
    IF pg_catalog.to_regrole('erasure_executor') IS NULL THEN
        RETURN;
    END IF;
    FOR object IN
        SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, c.oid::pg_catalog.regclass::pg_catalog.text AS name
          FROM pg_catalog.pg_class c
         WHERE EXISTS (SELECT FROM pg_catalog.aclexplode(c.relacl) a WHERE a.grantee = 'erasure_executor'::pg_catalog.regrole)
            OR EXISTS (SELECT FROM pg_catalog.pg_attribute t, pg_catalog.aclexplode(t.attacl) a
                        WHERE t.attrelid = c.oid AND a.grantee = 'erasure_executor'::pg_catalog.regrole)
        UNION ALL
        SELECT 'SCHEMA', pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_namespace n
         WHERE EXISTS (SELECT FROM pg_catalog.aclexplode(n.nspacl) a WHERE a.grantee = 'erasure_executor'::pg_catalog.regrole)
        UNION ALL
        SELECT 'ROUTINE', p.oid::pg_catalog.regprocedure::pg_catalog.text FROM pg_catalog.pg_proc p
         WHERE EXISTS (SELECT FROM pg_catalog.aclexplode(p.proacl) a WHERE a.grantee = 'erasure_executor'::pg_catalog.regrole)
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON %s %s FROM erasure_executor CASCADE', object.kind, object.name);
    END LOOP;
    SELECT pg_catalog.count(DISTINCT d.dbid) INTO elsewhere FROM pg_catalog.pg_shdepend d
     WHERE d.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass
       AND d.refobjid = 'erasure_executor'::pg_catalog.regrole
       AND d.dbid NOT IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()));
    IF elsewhere > 0 THEN
        RAISE WARNING 'pg_erasure 0.2.0 no longer uses the role erasure_executor: its privileges in database "%" were revoked',
                     pg_catalog.current_database()
            USING HINT = pg_catalog.format('It still holds privileges in %s other database(s): update pg_erasure there too, then DROP ROLE erasure_executor.', elsewhere);
    ELSE
        RAISE WARNING 'pg_erasure 0.2.0 no longer uses the role erasure_executor: its privileges in database "%" were revoked',
                     pg_catalog.current_database()
            USING HINT = 'No database grants it anything now: DROP ROLE erasure_executor;';
    END IF;
END
$executor$;

-- 4. Catalog tables --------------------------------------------------------------------------

-- erasure.subjects: personal_key (0.1.0's subjects recorded their keys as they are: false).
ALTER TABLE erasure.subjects ADD COLUMN personal_key boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN erasure.subjects.personal_key IS
    'The key is itself personal (an e-mail address): the ledger, its export, replay documents and notifications hold a keyed digest of it (hmac:…) instead.';

-- erasure.tables: referenced (0.1.0 had no referenced_by: false).
ALTER TABLE erasure.tables ADD COLUMN referenced boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN erasure.tables.referenced IS
    'The parent''s columns (parent_columns) point to this table''s (via): rows the subject refers to (customer.address_id → address), erased only while no other row refers to them.';

-- erasure.refreshed: new.
CREATE TABLE erasure.refreshed (
    matview      regclass PRIMARY KEY,
    refreshed_at timestamptz NOT NULL
);
COMMENT ON TABLE erasure.refreshed IS
    'When erasure.cleanup() last refreshed each materialized view over rows erasures changed.';

-- erasure.ledger: the unique index on a digest of the key, so a key of any length fits it.
DROP INDEX erasure.ledger_subject_key;
CREATE UNIQUE INDEX ledger_subject_key ON erasure.ledger (subject, pg_catalog.md5(key)) WHERE status <> 'released';

-- erasure.ledger_seals: new, empty (erasure.seal_ledger() links the existing rows on its first call).
CREATE TABLE erasure.ledger_seals (
    seal          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    bigint NOT NULL UNIQUE,
    -- A chain does not fork: two seals never follow the same one.
    previous_hash text NOT NULL UNIQUE,
    hash          text NOT NULL
);
COMMENT ON TABLE erasure.ledger_seals IS
    'The ledger''s hash chain: per ledger row, in the order erasure.seal_ledger() sealed them, the previous seal''s hash (64 zeros for the first) and the sha256 of the row''s content and that hash (erasure.ledger_hash).';
SELECT pg_catalog.pg_extension_config_dump('erasure.ledger_seals', '');
SELECT pg_catalog.pg_extension_config_dump('erasure.ledger_seals_seal_seq', '');

-- erasure.column_policies: the strategy restricted_at (the marker of a restricted subject).
ALTER TABLE erasure.column_policies DROP CONSTRAINT column_policies_strategy_check,
    ADD CONSTRAINT column_policies_strategy_check
        CHECK (strategy IN ('keep', 'null', 'blank', 'constant', 'year_only',
                            'placeholder', 'hmac', 'jsonb_remove',
                            'expression', 'now', 'restricted_at'));

-- erasure.request_queue: rebuilt, since 0.2.0's lifecycle columns sit between 0.1.0's (ALTER
-- TABLE … ADD COLUMN appends). 0.1.0's rows and the position of its id sequence are kept
-- aside, the table and its sequence leave the extension (which takes them out of
-- pg_extension_config_dump) and are dropped, and the table is created as sql/catalog.sql
-- creates it. 0.1.0's grants on it go with it (section 7 makes 0.2.0's). The rows move in
-- with the same ids:
--   - executed by 0.1.0 (ledger_request_id set): state executed, ended at the ledger row's
--     executed_at, by its executed_by (the role that ran the erasure);
--   - open under 0.1.0, which its next process_requests() would have erased: state approved,
--     at the upgrade (now()) by session_user, the role running ALTER EXTENSION; with no
--     cooling-off (wait_until = approved_at: 0.1.0 had none, and process_requests() takes
--     them at once) and no identity verification recorded (verified_at, verified_by NULL).
--     0.1.0 had no strategy restricted_at, so no column marks their subjects restricted;
--     is_restricted() says they are;
--   - 0.1.0 ended a request no other way (one whose subject's row was gone stayed open, and
--     0.2.0's process_requests() closes it as not_found): none becomes rejected, cancelled
--     or not_found here.
-- received_by is session_user for every row: 0.1.0 did not record who received a request.
-- 0.1.0 did not count attempts; a request it checked (checked_at) was tried at least once.
CREATE TABLE erasure.request_queue_0_1_0 AS SELECT * FROM erasure.request_queue;
CREATE TABLE erasure.request_queue_0_1_0_position AS SELECT s.last_value, s.is_called FROM erasure.request_queue_id_seq s;
ALTER EXTENSION pg_erasure DROP TABLE erasure.request_queue;
ALTER EXTENSION pg_erasure DROP SEQUENCE erasure.request_queue_id_seq;
DROP TABLE erasure.request_queue;

-- Requests as customers make them, through their lifecycle: received (erasure.request), its
-- requester's identity verified (verify_request), approved (approve_request; it then waits
-- until wait_until, the cooling-off window, and can still be cancelled), executed by
-- erasure.process_requests() (ledger_request_id), or ended otherwise: rejected on an art.
-- 17(3) ground, cancelled, or not_found when the subject's row was gone by then. Each step
-- records who (session_user) and when; the deadline can be extended once, with a reason. An
-- approved request stays approved while something blocks it: blockers and held_until hold what
-- the last run found in the way (blocker names only, no details), attempts counts the runs that
-- tried it, checked_at is the last one, and last_sqlstate/last_error what made the last one
-- fail (the error's message, which pg_erasure's own errors keep free of personal values).
-- Written only by the request functions (SECURITY DEFINER, sql/api.sql).
CREATE TABLE erasure.request_queue (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject           text NOT NULL,
    key               text NOT NULL,
    reference         text,
    state             text NOT NULL DEFAULT 'received'
                      CHECK (state IN ('received', 'verified', 'approved', 'executed', 'rejected', 'cancelled', 'not_found')),
    -- The states a request has not ended in: the one definition of an open request.
    open              boolean NOT NULL GENERATED ALWAYS AS (state IN ('received', 'verified', 'approved')) STORED,
    received_at       timestamptz NOT NULL,
    received_by       name NOT NULL DEFAULT session_user,
    due_at            timestamptz NOT NULL,
    verified_at       timestamptz,
    verified_by       name,
    approved_at       timestamptz,
    approved_by       name,
    wait_until        timestamptz,
    extended_at       timestamptz,
    extended_by       name,
    extension_reason  text,
    ended_at          timestamptz,
    ended_by          name,
    ground            text CHECK (ground IN ('freedom_of_expression', 'legal_obligation', 'public_health',
                                             'archiving', 'legal_claims')),
    checked_at        timestamptz,
    blockers          text[],
    held_until        timestamptz,
    ledger_request_id bigint REFERENCES erasure.ledger,
    attempts          integer NOT NULL DEFAULT 0,
    last_sqlstate     text,
    last_error        text,
    CHECK ((state = 'rejected') = (ground IS NOT NULL)),
    CHECK ((state = 'executed') = (ledger_request_id IS NOT NULL))
);
-- One open request per subject: asking again returns the open one.
CREATE UNIQUE INDEX request_queue_open ON erasure.request_queue (subject, pg_catalog.md5(key))
    WHERE open;
COMMENT ON TABLE erasure.request_queue IS
    'Erasure requests and their lifecycle (received, verified, approved, executed; or rejected, cancelled, not_found), who moved each and when; written only by the request functions; read them through the view erasure.requests.';
COMMENT ON COLUMN erasure.request_queue.wait_until IS
    'The end of the cooling-off window (approved_at + erasure.cooling_off): erasure.process_requests() erases the request only after it.';
COMMENT ON COLUMN erasure.request_queue.ground IS
    'Why a rejected request was refused, a ground of GDPR art. 17(3): freedom_of_expression (a), legal_obligation (b), public_health (c), archiving (d: public interest, research, statistics) or legal_claims (e).';
COMMENT ON COLUMN erasure.request_queue.extension_reason IS
    'Why the deadline was extended (once, GDPR art. 12(3)); keep personal data out of it.';

SELECT pg_catalog.pg_extension_config_dump('erasure.request_queue', '');
SELECT pg_catalog.pg_extension_config_dump('erasure.request_queue_id_seq', '');

INSERT INTO erasure.request_queue
       (id, subject, key, reference, state, received_at, received_by, due_at, approved_at, approved_by,
        wait_until, ended_at, ended_by, checked_at, blockers, held_until, ledger_request_id, attempts)
OVERRIDING SYSTEM VALUE
SELECT o.id, o.subject, o.key, o.reference,
       CASE WHEN o.ledger_request_id IS NOT NULL THEN 'executed' ELSE 'approved' END,
       o.received_at, session_user, o.due_at,
       CASE WHEN o.ledger_request_id IS NULL THEN pg_catalog.now() END,
       CASE WHEN o.ledger_request_id IS NULL THEN session_user END,
       CASE WHEN o.ledger_request_id IS NULL THEN pg_catalog.now() END,
       l.executed_at, l.executed_by,
       o.checked_at, o.blockers, o.held_until, o.ledger_request_id,
       CASE WHEN o.checked_at IS NOT NULL THEN 1 ELSE 0 END
  FROM erasure.request_queue_0_1_0 o
  LEFT JOIN erasure.ledger l ON l.request_id = o.ledger_request_id
 ORDER BY o.id;
SELECT pg_catalog.setval('erasure.request_queue_id_seq', p.last_value, p.is_called) FROM erasure.request_queue_0_1_0_position p;
DROP TABLE erasure.request_queue_0_1_0, erasure.request_queue_0_1_0_position;

-- erasure.batch_rules: new (0.1.0's erase_batches took the candidate query as an argument and kept nothing).
CREATE TABLE erasure.batch_rules (
    subject   text NOT NULL REFERENCES erasure.subjects ON DELETE CASCADE,
    name      text NOT NULL CHECK (name <> ''),
    query     text NOT NULL,
    parameter regtype,
    comment   text,
    PRIMARY KEY (subject, name)
);
COMMENT ON TABLE erasure.batch_rules IS
    'Named candidate queries for erasure.erase_batches(), registered by the subject''s owner and run with its rights: one SELECT returning subject keys, taking $1 of type parameter when it is not NULL.';
COMMENT ON COLUMN erasure.batch_rules.parameter IS
    'The type of the rule''s $1 (e.g. interval), to which the operator''s argument is converted; NULL when the rule takes no parameter.';
SELECT pg_catalog.pg_extension_config_dump('erasure.batch_rules', '');

-- erasure.acknowledgements: new.
CREATE TABLE erasure.acknowledgements (
    subject         text NOT NULL REFERENCES erasure.subjects ON DELETE CASCADE,
    finding         text NOT NULL CHECK (finding IN ('trigger', 'reference', 'residual')),
    tbl             regclass NOT NULL,
    object          name NOT NULL,
    fingerprint     text NOT NULL,
    reason          text NOT NULL CHECK (reason <> ''),
    acknowledged_by name NOT NULL,
    acknowledged_at timestamptz NOT NULL,
    PRIMARY KEY (subject, finding, tbl, object)
);
COMMENT ON TABLE erasure.acknowledgements IS
    'Findings of erasure.check() and kinds of residual of the residual scan that the subject''s owner reviewed and accepted, with who, when and why; an acknowledgement lapses when its object changes (fingerprint).';
COMMENT ON COLUMN erasure.acknowledgements.object IS
    'What was reviewed, on tbl: the trigger (finding trigger), the foreign key (finding reference) or the column (finding residual).';
COMMENT ON COLUMN erasure.acknowledgements.fingerprint IS
    'erasure.fingerprint(finding, tbl, object) when acknowledged: the trigger''s definition and function source, the foreign key''s definition, the column''s type.';
SELECT pg_catalog.pg_extension_config_dump('erasure.acknowledgements', '');

-- 5. Functions -------------------------------------------------------------------------------
-- As 0.2.0's sql/catalog.sql, sql/api.sql and sql/check.sql define them, in that order.

-- 5.1 The ledger's hash chain (sql/catalog.sql)
-- The chain's one definition: the hashed content is the row's columns in a fixed order as jsonb
-- text, the time as seconds since 1970 (no time zone or DateStyle changes it), followed by the
-- previous seal's hash. An auditor can recompute it from an export with any sha256 tool.
CREATE FUNCTION erasure.ledger_hash(l erasure.ledger, previous_hash text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN encode(sha256(convert_to(
               jsonb_build_array(l.request_id, l.subject, l.key, l.status, l.mode, l.requested_by,
                                 l.executed_by, extract(epoch FROM l.executed_at), l.tables, l.reference)::text
               || previous_hash, 'UTF8')), 'hex');
END
$$;
COMMENT ON FUNCTION erasure.ledger_hash(erasure.ledger, text) IS
    'The hash of a ledger row following previous_hash: sha256 of jsonb_build_array(request_id, subject, key, status, mode, requested_by, executed_by, extract(epoch FROM executed_at), tables, reference)::text || previous_hash, in hex.';

-- Seals the committed ledger rows not sealed yet, under a transaction-level lock that only
-- sealers wait for; each statement of a READ COMMITTED transaction sees what the sealer before
-- committed. A transaction with a snapshot of its own (REPEATABLE READ) could miss a seal and
-- fork the chain, and a read-only one cannot write: both leave the sealing to the next call.
-- SECURITY DEFINER: the extension's owner writes the seals, whoever calls.
CREATE FUNCTION erasure.seal_ledger() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    head text;
    entry erasure.ledger;
    sealed bigint := 0;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' OR current_setting('transaction_read_only') = 'on' THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('pg_erasure ledger seals'));
    head := coalesce((SELECT s.hash FROM erasure.ledger_seals s ORDER BY s.seal DESC LIMIT 1), repeat('0', 64));
    FOR entry IN
        SELECT l.* FROM erasure.ledger l
         WHERE NOT EXISTS (SELECT FROM erasure.ledger_seals s WHERE s.request_id = l.request_id)
         ORDER BY l.request_id
    LOOP
        INSERT INTO erasure.ledger_seals (request_id, previous_hash, hash)
        VALUES (entry.request_id, head, erasure.ledger_hash(entry, head))
        RETURNING hash INTO head;
        sealed := sealed + 1;
    END LOOP;
    RETURN sealed;
END
$$;
COMMENT ON FUNCTION erasure.seal_ledger() IS
    'Links the committed ledger rows not in the hash chain yet, in request_id order, and returns how many; erasure.ledger_anchor(), verify_ledger(), certificate(), ledger_export() and process_requests() call it. Does nothing in a REPEATABLE READ, SERIALIZABLE or read-only transaction.';

-- 5.2 The SQL API (sql/api.sql) -----------------------------------------------------------
-- pg_erasure SQL API. The functions are written in Rust (src/); this file declares them by hand
-- so that their SQL types are exact (regclass, name, name[]) and each one pins search_path.
-- Catalog SQL (filters, expressions, blocker queries) runs under this search_path too, so it
-- must schema-qualify the tables it names.

-- Registration: what migrations call. Each call is idempotent (running a migration twice
-- changes nothing) and validates its input against the live schema before writing anything.

CREATE OR REPLACE FUNCTION erasure.register_subject(
    subject text,
    tbl regclass,
    key_column name DEFAULT NULL,
    summary_columns name[] DEFAULT '{}',
    personal_key boolean DEFAULT false
) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'register_subject_wrapper';
COMMENT ON FUNCTION erasure.register_subject(text, regclass, name, name[], boolean) IS
    'Registers a data subject (e.g. customer) stored in tbl, identified by key_column (default: the single-column primary key); with personal_key, what pg_erasure keeps about erasures holds a keyed digest of the key, never the key.';

CREATE OR REPLACE FUNCTION erasure.register_table(
    subject text,
    tbl regclass,
    action text DEFAULT 'mask',
    via name[] DEFAULT NULL,
    parent regclass DEFAULT NULL,
    filter text DEFAULT NULL,
    reason text DEFAULT NULL,
    retain_for interval DEFAULT NULL,
    retain_from name DEFAULT NULL,
    referenced_by name[] DEFAULT NULL
) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'register_table_wrapper';
COMMENT ON FUNCTION erasure.register_table(text, regclass, text, name[], regclass, text, text, interval, name, name[]) IS
    'Registers a table holding a subject''s rows, reached from parent (default: the subject table) through the via foreign key columns and/or filter, or pointed to by the parent''s referenced_by columns; action mask, delete or retain (for retain_for counted from the date column retain_from, if given).';

CREATE OR REPLACE FUNCTION erasure.set_policy(
    tbl regclass,
    col name,
    strategy text,
    params jsonb DEFAULT '{}'
) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'set_policy_wrapper';
COMMENT ON FUNCTION erasure.set_policy(regclass, name, text, jsonb) IS
    'Sets how a column of a registered table is masked: keep, null, blank, constant, year_only, placeholder, hmac, jsonb_remove, expression, now or restricted_at (NULL; while an erasure request waits, when its restriction began).';

CREATE OR REPLACE FUNCTION erasure.drop_policy(tbl regclass, col name) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'drop_policy_wrapper';
COMMENT ON FUNCTION erasure.drop_policy(regclass, name) IS
    'Removes the masking policy of a column; the column is then reported as unreviewed.';

CREATE OR REPLACE FUNCTION erasure.drop_table(subject text, tbl regclass, cascade boolean DEFAULT false) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'drop_table_wrapper';
COMMENT ON FUNCTION erasure.drop_table(text, regclass, boolean) IS
    'Removes a table from a subject; nothing when it is not registered. Refused (2BP01) while registered tables are found through it or it has masking policies no other subject uses, unless cascade, which drops those too. For the subject''s owner, who must own the table as well.';

CREATE OR REPLACE FUNCTION erasure.drop_blocker(subject text, name text) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'drop_blocker_wrapper';
COMMENT ON FUNCTION erasure.drop_blocker(text, text) IS
    'Removes a blocker of a subject; nothing when there is none by that name. For the subject''s owner.';

CREATE OR REPLACE FUNCTION erasure.drop_subject(subject text, cascade boolean DEFAULT false) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'drop_subject_wrapper';
COMMENT ON FUNCTION erasure.drop_subject(text, boolean) IS
    'Removes a subject; nothing when it is not registered. Refused (2BP01) while it has registered tables or blockers unless cascade, which drops them and the masking policies no other subject uses; refused (55000) while erasure requests of it are open. The ledger and the requests stay. For the owner of the subject''s table.';

CREATE OR REPLACE FUNCTION erasure.register_blocker(
    subject text,
    name text,
    query text,
    message text DEFAULT NULL
) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'register_blocker_wrapper';
COMMENT ON FUNCTION erasure.register_blocker(text, text, text, text) IS
    'Registers a rule that forbids erasure: every row query returns for the subject key $1 is one blocking item.';

-- Running an erasure: what DBAs and applications call. The id is accepted as any type (an
-- integer, bigint, uuid or text value) and converted to the subject's key type; the text
-- overloads let untyped literals such as '3f2c…' or 'C-001' resolve.

CREATE OR REPLACE FUNCTION erasure.erasure_blockers(id anyelement, subject text DEFAULT 'customer')
RETURNS TABLE(blocker text, message text, details jsonb)
LANGUAGE c VOLATILE ROWS 10 SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'erasure_blockers_wrapper';
COMMENT ON FUNCTION erasure.erasure_blockers(anyelement, text) IS
    'Lists why a subject cannot be erased yet: one row per blocking item; no rows means it can be erased.';

CREATE OR REPLACE FUNCTION erasure.erasure_blockers(id text, subject text DEFAULT 'customer')
RETURNS TABLE(blocker text, message text, details jsonb)
LANGUAGE c VOLATILE ROWS 10 SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'erasure_blockers_wrapper';
COMMENT ON FUNCTION erasure.erasure_blockers(text, text) IS
    'Lists why a subject cannot be erased yet (key given as text).';

CREATE OR REPLACE FUNCTION erasure.anonymize(
    subject text,
    id anyelement,
    mode text DEFAULT 'anonymize',
    reference text DEFAULT NULL
) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'anonymize_wrapper';
COMMENT ON FUNCTION erasure.anonymize(text, anyelement, text, text) IS
    'Erases one subject in one transaction: locks its rows, refuses while blockers exist, then anonymizes (mask, delete the delete rows, keep retained ones), deletes everything (mode delete) or chooses (mode auto); records it in erasure.ledger with reference; returns a jsonb report. Erasing an erased subject changes nothing.';

CREATE OR REPLACE FUNCTION erasure.anonymize(
    subject text,
    id text,
    mode text DEFAULT 'anonymize',
    reference text DEFAULT NULL
) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'anonymize_wrapper';
COMMENT ON FUNCTION erasure.anonymize(text, text, text, text) IS
    'Erases one subject (key given as text); see erasure.anonymize(text, anyelement, text, text).';

CREATE OR REPLACE FUNCTION erasure.anonymize_customer(id anyelement) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'anonymize_customer_wrapper';
COMMENT ON FUNCTION erasure.anonymize_customer(anyelement) IS
    'erasure.anonymize(''customer'', id).';

CREATE OR REPLACE FUNCTION erasure.anonymize_customer(id text) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'anonymize_customer_wrapper';
COMMENT ON FUNCTION erasure.anonymize_customer(text) IS
    'erasure.anonymize(''customer'', id), key given as text.';

CREATE OR REPLACE FUNCTION erasure.delete_customer(id anyelement) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'delete_customer_wrapper';
COMMENT ON FUNCTION erasure.delete_customer(anyelement) IS
    'erasure.anonymize(''customer'', id, ''delete''): deletes the customer and every registered row; refused while retained rows exist.';

CREATE OR REPLACE FUNCTION erasure.delete_customer(id text) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'delete_customer_wrapper';
COMMENT ON FUNCTION erasure.delete_customer(text) IS
    'erasure.anonymize(''customer'', id, ''delete''), key given as text.';

CREATE OR REPLACE FUNCTION erasure.anonymize_many(subject text, ids anyarray, mode text DEFAULT 'anonymize')
RETURNS TABLE(key text, status text, report jsonb)
LANGUAGE c VOLATILE ROWS 1000 SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'anonymize_many_wrapper';
COMMENT ON FUNCTION erasure.anonymize_many(text, anyarray, text) IS
    'Erases many subjects in one transaction, one statement per table for the whole batch; subjects that cannot go are skipped with their reason (blocked, already_erased, not_found, refused). One line per distinct key.';

CREATE OR REPLACE FUNCTION erasure.anonymize_customers(ids anyarray)
RETURNS TABLE(key text, status text, report jsonb)
LANGUAGE sql VOLATILE ROWS 1000 SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM erasure.anonymize_many('customer', ids) $$;
COMMENT ON FUNCTION erasure.anonymize_customers(anyarray) IS
    'erasure.anonymize_many(''customer'', ids).';

CREATE OR REPLACE FUNCTION erasure.erasure_preview(id anyelement, subject text DEFAULT 'customer') RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'erasure_preview_wrapper';
COMMENT ON FUNCTION erasure.erasure_preview(anyelement, text) IS
    'What the confirmation screen shows, changing nothing and taking no write locks: summary, decision (anonymize, delete, blocked, already_erased), blockers, rows per table, unreviewed columns.';

CREATE OR REPLACE FUNCTION erasure.erasure_preview(id text, subject text DEFAULT 'customer') RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'erasure_preview_wrapper';
COMMENT ON FUNCTION erasure.erasure_preview(text, text) IS
    'erasure.erasure_preview(anyelement, text), key given as text.';

CREATE OR REPLACE FUNCTION erasure.ledger_key(subject text, key text) RETURNS text
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ledger_key_wrapper';
COMMENT ON FUNCTION erasure.ledger_key(text, text) IS
    'The key as the ledger records it: the key itself, or for a subject registered with personal_key its keyed digest (hmac:…).';

CREATE OR REPLACE FUNCTION erasure.canonical_key(subject text, id text) RETURNS text
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'canonical_key_wrapper';
COMMENT ON FUNCTION erasure.canonical_key(text, text) IS
    'The subject''s key as its row stores it (7 for a numeric key given as 7.0): the text the ledger and the requests record; 22P02 when the key type does not accept id, P0002 when no row has it.';

CREATE OR REPLACE FUNCTION erasure.is_erased(subject text, id anyelement) RETURNS boolean
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'is_erased_wrapper';
COMMENT ON FUNCTION erasure.is_erased(text, anyelement) IS
    'Whether the ledger records an erasure of the subject (for applications that hide erased customers).';

CREATE OR REPLACE FUNCTION erasure.is_erased(subject text, id text) RETURNS boolean
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'is_erased_wrapper';
COMMENT ON FUNCTION erasure.is_erased(text, text) IS
    'erasure.is_erased(text, anyelement), key given as text.';

-- Verification after the fact (src/execute/verify.rs), run as the subject's owner like the
-- erasure; findings name the table, column and strategy and count rows, never a value.
CREATE OR REPLACE FUNCTION erasure.verify(subject text, id anyelement)
RETURNS TABLE(tbl regclass, col text, strategy text, problem text, rows bigint)
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'verify_wrapper';
COMMENT ON FUNCTION erasure.verify(text, anyelement) IS
    'Checks that an erased subject is still as its ledger row says: each masked column holds what its policy writes (the value itself, or its shape for hmac, {uuid} placeholders and now; expression and keep are not checked), no rows remain in tables it deleted, retained rows are all there. One line per problem (table, column, strategy, rows), none when all is well; never a value. P0002 when the ledger records no erasure of the subject.';

CREATE OR REPLACE FUNCTION erasure.verify(subject text, id text)
RETURNS TABLE(tbl regclass, col text, strategy text, problem text, rows bigint)
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'verify_wrapper';
COMMENT ON FUNCTION erasure.verify(text, text) IS
    'erasure.verify(text, anyelement), key given as text.';

CREATE OR REPLACE FUNCTION erasure.ledger_since(request_id bigint) RETURNS SETOF erasure.ledger
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM erasure.ledger l WHERE l.request_id > ledger_since.request_id ORDER BY l.request_id $$;
COMMENT ON FUNCTION erasure.ledger_since(bigint) IS
    'The ledger entries after request_id, in order: how a downstream connector catches up after being down.';

-- After a backup restore. The export holds what the ledger holds: subjects, keys, statuses and
-- per-table row counts, nothing personal; keep it outside the database, beside the backups.
CREATE OR REPLACE FUNCTION erasure.ledger_export(since bigint DEFAULT 0) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Sealed first, so that every entry carries its link in the hash chain.
    PERFORM erasure.seal_ledger();
    RETURN (SELECT jsonb_build_object(
                       'format', 'pg_erasure ledger export',
                       'version', 1,
                       'exported_at', now(),
                       'entries', coalesce(jsonb_agg(to_jsonb(l)
                                                     || jsonb_build_object('previous_hash', s.previous_hash, 'hash', s.hash)
                                                     ORDER BY l.request_id), '[]'))
              FROM erasure.ledger l LEFT JOIN erasure.ledger_seals s ON s.request_id = l.request_id
             WHERE l.request_id > ledger_export.since);
END
$$;
COMMENT ON FUNCTION erasure.ledger_export(bigint) IS
    'The ledger entries after request since, each with its link in the hash chain (previous_hash, hash; sealed first), as one jsonb document to keep outside the database; erasure.replay() re-applies it to a database restored from an older backup.';

-- The hash chain, for an auditor: where it breaks, and the hash to keep outside the database
-- (a later verify_ledger(anchor) then also notices seals removed from the end). Both seal what
-- is not sealed yet first.
CREATE OR REPLACE FUNCTION erasure.verify_ledger(anchor text DEFAULT NULL)
RETURNS TABLE(request_id bigint, problem text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM erasure.seal_ledger();
    RETURN QUERY
    SELECT c.request_id, c.problem
      FROM (SELECT s.request_id,
                   CASE WHEN l.request_id IS NULL
                        THEN 'removed: the ledger row of this seal is gone'
                        WHEN erasure.ledger_hash(l, s.previous_hash) IS DISTINCT FROM s.hash
                        THEN 'changed: its content does not match its hash'
                        WHEN s.previous_hash IS DISTINCT FROM coalesce(lag(s.hash) OVER (ORDER BY s.seal), repeat('0', 64))
                        THEN 'does not follow the seal before it: a seal was removed, inserted or changed there'
                   END AS problem
              FROM erasure.ledger_seals s LEFT JOIN erasure.ledger l ON l.request_id = s.request_id) AS c
     WHERE c.problem IS NOT NULL
    UNION ALL
    SELECT NULL, 'the anchor is not in the chain: seals after it were removed, or it is from another database'
     WHERE verify_ledger.anchor IS NOT NULL
       AND NOT EXISTS (SELECT FROM erasure.ledger_seals s WHERE s.hash = verify_ledger.anchor)
     ORDER BY 1;
END
$$;
COMMENT ON FUNCTION erasure.verify_ledger(text) IS
    'Seals what is not sealed yet, then checks the ledger''s hash chain: one line per sealed row that was changed or removed, or whose seal does not follow the one before it, and one (request_id NULL) when anchor, a hash from erasure.ledger_anchor(), is no longer in the chain; no lines when it is intact.';

CREATE OR REPLACE FUNCTION erasure.ledger_anchor() RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM erasure.seal_ledger();
    RETURN (SELECT s.hash FROM erasure.ledger_seals s ORDER BY s.seal DESC LIMIT 1);
END
$$;
COMMENT ON FUNCTION erasure.ledger_anchor() IS
    'Seals what is not sealed yet and returns the hash of the latest seal (NULL while the ledger is empty): it covers every ledger row sealed before it. Store it outside the database; erasure.verify_ledger(anchor) checks it later.';

CREATE OR REPLACE FUNCTION erasure.replay(ledger jsonb)
RETURNS TABLE(request_id bigint, subject text, key text, status text)
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'replay_wrapper';
COMMENT ON FUNCTION erasure.replay(jsonb) IS
    'Re-applies, in request order and without checking blockers, every erasure of an erasure.ledger_export() document that this database''s ledger lacks (after restoring an older backup); one line per entry: anonymized, deleted, present, not_found or released. Running it again changes nothing.';

-- The hmac strategy. Generated statements pass the key (erasure.set_hmac_key) as a parameter,
-- so the function is IMMUTABLE: a pure function of its arguments, which Citus pushes down.
CREATE OR REPLACE FUNCTION erasure.hmac_sha256(value text, key text) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hmac_sha256_wrapper';
COMMENT ON FUNCTION erasure.hmac_sha256(text, text) IS
    'Hex HMAC-SHA-256 of value under key (the hmac strategy calls it with the key set by erasure.set_hmac_key).';

CREATE OR REPLACE FUNCTION erasure.set_hmac_key(key text) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'set_hmac_key_wrapper';
COMMENT ON FUNCTION erasure.set_hmac_key(text) IS
    'Sets the secret key of the hmac strategy (superusers only; at least 16 characters). It is kept in erasure.hmac_key, which only the extension''s owner can read.';

CREATE OR REPLACE FUNCTION erasure.release_expired(subject text DEFAULT NULL)
RETURNS TABLE("table" text, rows bigint)
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'release_expired_wrapper';
COMMENT ON FUNCTION erasure.release_expired(text) IS
    'Masks, with each table''s own column policies, the retained rows of anonymized subjects whose retention period (retain_for after retain_from) has ended, records each release in the ledger, and returns the rows masked per table. Rows inside their period are not touched.';

-- Requests and their lifecycle (the view erasure.requests shows each one's state).

-- The queue is written only by the functions below, as the extension's owner (SECURITY
-- DEFINER): no role may write it directly, so nobody can forge a request's state. They run
-- fixed statements only; everything tied to a subject (the preview, the erasure) switches to
-- the subject's owner inside the C functions they call.
CREATE OR REPLACE FUNCTION erasure.request(subject text, id text, reference text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    -- Validates the subject and the key (22P02 for one its type does not accept, P0002 for one
    -- no row has) and gives the key as its row stores it.
    canonical text := erasure.canonical_key(request.subject, request.id);
    queued bigint;
BEGIN
    SELECT q.id INTO queued FROM erasure.request_queue q
     WHERE q.subject = request.subject AND pg_catalog.md5(q.key) = pg_catalog.md5(canonical)
       AND q.key = canonical AND q.open;
    IF NOT FOUND THEN
        INSERT INTO erasure.request_queue AS q (subject, key, reference, received_at, due_at)
        VALUES (request.subject, canonical, request.reference, pg_catalog.now(),
                pg_catalog.now() + pg_catalog.make_interval(
                    days => pg_catalog.current_setting('erasure.response_days')::integer))
        RETURNING q.id INTO queued;
    END IF;
    RETURN queued;
END
$function$;
COMMENT ON FUNCTION erasure.request(text, text, text) IS
    'Records a subject''s erasure request (state received, due after erasure.response_days days) and returns its id; asking again while it is open returns the same id. It is erased once verified, approved and past its cooling-off window.';

CREATE OR REPLACE FUNCTION erasure.request(subject text, id anyelement, reference text DEFAULT NULL) RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.request(subject, CAST(id AS text), reference) $$;
COMMENT ON FUNCTION erasure.request(text, anyelement, text) IS
    'erasure.request(text, text, text) for a key of any type.';

CREATE OR REPLACE FUNCTION erasure.setting_period(name text) RETURNS interval
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'setting_period_wrapper';
COMMENT ON FUNCTION erasure.setting_period(text) IS
    'The period a setting of time gives, as an interval: cooling_off (erasure.cooling_off) or keep_requests (erasure.keep_requests).';

CREATE OR REPLACE FUNCTION erasure.mark_restriction(subject text, id text, restricted boolean) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mark_restriction_wrapper';
COMMENT ON FUNCTION erasure.mark_restriction(text, text, boolean) IS
    'Sets the subject''s columns with policy restricted_at to now() (restricted) or NULL (lifted), as the subject''s owner; nothing when it has none. Called by the request functions only.';

-- The lifecycle's one definition: which transition leaves which state, what it needs and what
-- it records (who: session_user; when: now()). A refused transition raises and changes
-- nothing. Called only by the five functions after it, each granted to the role it belongs to
-- (sql/security.sql); granted to nobody itself.
CREATE OR REPLACE FUNCTION erasure.move_request(request_id bigint, transition text, reason text DEFAULT NULL,
                                     extra interval DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    q erasure.request_queue;
    open_states CONSTANT text[] := '{received,verified,approved}';
    allowed CONSTANT text[] := CASE transition WHEN 'verify' THEN '{received}' WHEN 'approve' THEN '{verified}' ELSE open_states END;
    grounds CONSTANT text[] := '{freedom_of_expression,legal_obligation,public_health,archiving,legal_claims}';
BEGIN
    SELECT * INTO q FROM erasure.request_queue x WHERE x.id = move_request.request_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'erasure request % does not exist', request_id
            USING ERRCODE = 'no_data_found', HINT = 'SELECT * FROM erasure.requests lists the requests.';
    END IF;
    IF q.state <> ALL (allowed) THEN
        RAISE EXCEPTION 'cannot % erasure request %: it is %', transition, request_id, q.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('To %s, a request must be %s.', transition,
                                  regexp_replace(array_to_string(allowed, ', '), ', ([^,]*)$', ' or \1'));
    END IF;
    IF transition = 'reject' AND (reason IS NULL OR reason <> ALL (grounds)) THEN
        RAISE EXCEPTION 'cannot reject erasure request % without a ground of GDPR art. 17(3)', request_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give one of ' || array_to_string(grounds, ', ') || '.';
    END IF;
    IF transition = 'extend' THEN
        IF q.extended_at IS NOT NULL THEN
            RAISE EXCEPTION 'erasure request % was extended already', request_id
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'GDPR art. 12(3) allows one extension of the deadline, by up to two further months.';
        END IF;
        IF coalesce(btrim(reason), '') = '' THEN
            RAISE EXCEPTION 'cannot extend erasure request % without a reason', request_id
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Say why, e.g. the complexity or number of requests (GDPR art. 12(3)); the requester must be told.';
        END IF;
        IF extra IS NULL OR extra <= interval '0' OR extra > interval '2 months' THEN
            RAISE EXCEPTION 'cannot extend erasure request % by %', request_id, coalesce(extra::text, 'NULL')
                USING ERRCODE = 'invalid_parameter_value', HINT = 'An extension is more than nothing and at most 2 months.';
        END IF;
    END IF;
    UPDATE erasure.request_queue x SET
        state = CASE transition WHEN 'verify' THEN 'verified' WHEN 'approve' THEN 'approved' WHEN 'cancel' THEN 'cancelled'
                                WHEN 'reject' THEN 'rejected' ELSE x.state END,
        verified_at = CASE transition WHEN 'verify' THEN now() ELSE x.verified_at END,
        verified_by = CASE transition WHEN 'verify' THEN session_user ELSE x.verified_by END,
        approved_at = CASE transition WHEN 'approve' THEN now() ELSE x.approved_at END,
        approved_by = CASE transition WHEN 'approve' THEN session_user ELSE x.approved_by END,
        wait_until = CASE transition WHEN 'approve' THEN now() + erasure.setting_period('cooling_off') ELSE x.wait_until END,
        ended_at = CASE WHEN transition IN ('cancel', 'reject') THEN now() ELSE x.ended_at END,
        ended_by = CASE WHEN transition IN ('cancel', 'reject') THEN session_user ELSE x.ended_by END,
        ground = CASE transition WHEN 'reject' THEN reason ELSE x.ground END,
        extended_at = CASE transition WHEN 'extend' THEN now() ELSE x.extended_at END,
        extended_by = CASE transition WHEN 'extend' THEN session_user ELSE x.extended_by END,
        extension_reason = CASE transition WHEN 'extend' THEN reason ELSE x.extension_reason END,
        due_at = CASE transition WHEN 'extend' THEN x.due_at + extra ELSE x.due_at END
     WHERE x.id = move_request.request_id;
    -- GDPR art. 18: approved, the subject is restricted until the request ends (an erasure
    -- lifts the marker itself: restricted_at is masked to NULL).
    IF transition = 'approve' OR transition IN ('cancel', 'reject') AND q.state = 'approved' THEN
        PERFORM erasure.mark_restriction(q.subject, q.key, transition = 'approve');
    END IF;
    RETURN (SELECT r.state FROM erasure.requests r WHERE r.id = move_request.request_id);
END
$function$;
COMMENT ON FUNCTION erasure.move_request(bigint, text, text, interval) IS
    'The request lifecycle: applies transition verify, approve, cancel, reject or extend to a request and returns its new state (as erasure.requests shows it); P0002 for an unknown request, 55000 for a transition its state does not allow or a second extension, 22023 for a missing or unknown ground or reason. Called by the request functions only.';

CREATE OR REPLACE FUNCTION erasure.verify_request(request_id bigint) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.move_request(request_id, 'verify') $$;
COMMENT ON FUNCTION erasure.verify_request(bigint) IS
    'Records that the requester''s identity was confirmed: received → verified. For erasure_operator.';

CREATE OR REPLACE FUNCTION erasure.approve_request(request_id bigint) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.move_request(request_id, 'approve') $$;
COMMENT ON FUNCTION erasure.approve_request(bigint) IS
    'Approves a verified request: it waits for erasure.cooling_off (state waiting, still cancellable), then erasure.process_requests() erases it. For erasure_admin.';

CREATE OR REPLACE FUNCTION erasure.cancel_request(request_id bigint) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.move_request(request_id, 'cancel') $$;
COMMENT ON FUNCTION erasure.cancel_request(bigint) IS
    'Cancels a request not executed yet (the requester withdrew it, e.g. during the cooling-off window). For erasure_operator.';

CREATE OR REPLACE FUNCTION erasure.reject_request(request_id bigint, ground text) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.move_request(request_id, 'reject', ground) $$;
COMMENT ON FUNCTION erasure.reject_request(bigint, text) IS
    'Refuses a request not executed yet on a ground of GDPR art. 17(3): freedom_of_expression, legal_obligation, public_health, archiving or legal_claims. For erasure_admin.';

CREATE OR REPLACE FUNCTION erasure.extend_request(request_id bigint, reason text, extra interval DEFAULT '2 months') RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.move_request(request_id, 'extend', reason, extra) $$;
COMMENT ON FUNCTION erasure.extend_request(bigint, text, interval) IS
    'Extends the deadline of a request not executed yet by extra (at most 2 months), once, with a reason (GDPR art. 12(3)). For erasure_admin.';

CREATE OR REPLACE FUNCTION erasure.process_requests(mode text DEFAULT 'auto')
RETURNS TABLE(request_id bigint, status text, detail jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    queued record;
    preview jsonb;
    report jsonb;
    held timestamptz;
BEGIN
    FOR queued IN
        SELECT q.id, q.subject, q.key, q.reference FROM erasure.request_queue q
         WHERE q.state = 'approved' AND q.wait_until <= pg_catalog.now() ORDER BY q.id FOR UPDATE SKIP LOCKED
    LOOP
        request_id := queued.id;
        -- Each request in a block of its own, preview included: one that fails (its subject's
        -- row deleted, a blocker failing for this customer, a lock timeout) is recorded on the
        -- request, and the others go on.
        BEGIN
            preview := erasure.erasure_preview(queued.key, queued.subject);
            IF preview ->> 'decision' = 'blocked' THEN
                -- A hold says until when (a column "until" in the blocker's rows); the request
                -- can go through once the last hold has passed, and when is unknown if any
                -- blocker does not say.
                SELECT CASE WHEN pg_catalog.bool_and(b -> 'details' ? 'until')
                            THEN pg_catalog.max(CAST(b -> 'details' ->> 'until' AS timestamptz)) END
                  INTO held
                  FROM pg_catalog.jsonb_array_elements(preview -> 'blockers') AS b;
                UPDATE erasure.request_queue q
                   SET checked_at = pg_catalog.now(), attempts = q.attempts + 1, held_until = held,
                       last_sqlstate = NULL, last_error = NULL,
                       blockers = ARRAY(SELECT DISTINCT b ->> 'blocker'
                                          FROM pg_catalog.jsonb_array_elements(preview -> 'blockers') AS b ORDER BY 1)
                 WHERE q.id = queued.id;
                status := 'blocked';
                detail := pg_catalog.jsonb_build_object('blockers', preview -> 'blockers', 'held_until', held);
            ELSE
                report := erasure.anonymize(queued.subject, queued.key, mode, queued.reference);
                -- Executed: the request keeps the key as the ledger does (a digest of a personal key).
                UPDATE erasure.request_queue q
                   SET state = 'executed', ended_at = pg_catalog.now(), ended_by = session_user,
                       checked_at = pg_catalog.now(), attempts = q.attempts + 1, blockers = NULL,
                       held_until = NULL, last_sqlstate = NULL, last_error = NULL,
                       ledger_request_id = CAST(report ->> 'request_id' AS bigint),
                       key = erasure.ledger_key(queued.subject, queued.key)
                 WHERE q.id = queued.id;
                status := 'executed';
                detail := report;
            END IF;
        EXCEPTION
            WHEN no_data_found THEN
                -- The subject's row is gone (the application deleted it): nothing is left to
                -- erase, and the request ends saying so.
                UPDATE erasure.request_queue q
                   SET state = 'not_found', ended_at = pg_catalog.now(), ended_by = session_user,
                       checked_at = pg_catalog.now(), attempts = q.attempts + 1,
                       blockers = NULL, held_until = NULL, last_sqlstate = NULL, last_error = NULL,
                       key = erasure.ledger_key(queued.subject, queued.key)
                 WHERE q.id = queued.id;
                status := 'not_found';
                detail := pg_catalog.jsonb_build_object('sqlstate', SQLSTATE, 'message', SQLERRM);
            WHEN OTHERS THEN
                UPDATE erasure.request_queue q
                   SET checked_at = pg_catalog.now(), attempts = q.attempts + 1,
                       last_sqlstate = SQLSTATE, last_error = SQLERRM
                 WHERE q.id = queued.id;
                status := 'error';
                detail := pg_catalog.jsonb_build_object('sqlstate', SQLSTATE, 'message', SQLERRM);
        END;
        RETURN NEXT;
    END LOOP;
    -- The nightly run seals what the day's erasures added to the ledger.
    PERFORM erasure.seal_ledger();
END
$function$;
COMMENT ON FUNCTION erasure.process_requests(text) IS
    'Erases every approved request whose cooling-off window has ended and that nothing blocks (mode auto by default); leaves the others approved with their blockers and the date their holds end; records a failure on its request (attempts, last_sqlstate, last_error) and goes on; closes as not_found a request whose subject row is gone. Requests not approved yet are not touched. Run it nightly, e.g. with pg_cron.';

-- Request records do not live forever: once a request has ended longer than
-- erasure.keep_requests ago, its row goes; an executed one's proof stays in the ledger.
CREATE OR REPLACE FUNCTION erasure.purge_requests() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    purged bigint;
BEGIN
    DELETE FROM erasure.request_queue q
     WHERE NOT q.open
       AND q.ended_at < pg_catalog.now() - erasure.setting_period('keep_requests');
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END
$function$;
COMMENT ON FUNCTION erasure.purge_requests() IS
    'Removes the requests that ended (executed, rejected, cancelled, not_found) longer than erasure.keep_requests ago and returns how many; the ledger keeps the proof of each erasure. Run it with process_requests().';

-- GDPR art. 18: while its request is approved and not executed yet (waiting, blocked, failing),
-- the subject's data is restricted: the application shows it, uses it for nothing else.
CREATE OR REPLACE FUNCTION erasure.is_restricted(subject text, id text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    RETURN EXISTS (SELECT FROM erasure.requests r
                    WHERE r.subject = is_restricted.subject AND r.restricted
                      AND r.key = erasure.canonical_key(is_restricted.subject, is_restricted.id));
EXCEPTION WHEN no_data_found THEN
    -- No row has the key (any more): nothing of it is left to restrict.
    RETURN false;
END
$function$;
COMMENT ON FUNCTION erasure.is_restricted(text, text) IS
    'Whether the subject''s data is restricted (GDPR art. 18): an erasure request of it is approved and not executed yet (waiting, blocked or failing); lifted when it is executed or ends otherwise. False for a key no row has (any more).';

CREATE OR REPLACE FUNCTION erasure.is_restricted(subject text, id anyelement) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.is_restricted(subject, CAST(id AS text)) $$;
COMMENT ON FUNCTION erasure.is_restricted(text, anyelement) IS
    'erasure.is_restricted(text, text) for a key of any type.';

-- Batch rules: the owner registers named candidate queries; an operator runs them by name
-- through erase_batches, with the owner's rights, and never supplies SQL (src/catalog/batch_rules.rs).
CREATE OR REPLACE FUNCTION erasure.register_batch_rule(
    subject text,
    name text,
    query text,
    parameter regtype DEFAULT NULL,
    comment text DEFAULT NULL
) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'register_batch_rule_wrapper';
COMMENT ON FUNCTION erasure.register_batch_rule(text, text, text, regtype, text) IS
    'Registers a named candidate query for erasure.erase_batches(): one SELECT returning one column of the subject key''s type, taking $1 of type parameter when one is declared; run with the rights of the subject''s owner.';

CREATE OR REPLACE FUNCTION erasure.drop_batch_rule(subject text, name text) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'drop_batch_rule_wrapper';
COMMENT ON FUNCTION erasure.drop_batch_rule(text, text) IS
    'Drops a batch rule of the subject; dropping one that is not registered does nothing.';

CREATE OR REPLACE FUNCTION erasure.batch_candidates(subject text, rule text, argument text DEFAULT NULL,
                                         except_keys text[] DEFAULT '{}')
RETURNS SETOF text
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'batch_candidates_wrapper';
COMMENT ON FUNCTION erasure.batch_candidates(text, text, text, text[]) IS
    'The keys the batch rule selects now (argument converted to the rule''s parameter type), in key order, without except_keys, each of which must be one of them; run with the rights of the subject''s owner. What erasure.erase_batches() erases.';

-- Long runs. A procedure that COMMITs may not carry a SET clause, so this one pins search_path
-- itself, again after every COMMIT (a transaction-local setting ends with the transaction).
-- It runs with the caller's rights; the rule's query runs with the subject owner's, inside
-- erasure.batch_candidates().
CREATE OR REPLACE PROCEDURE erasure.erase_batches(
    subject text,
    rule text,
    argument text DEFAULT NULL,
    batch_size integer DEFAULT 1000,
    mode text DEFAULT 'auto',
    dry_run boolean DEFAULT false,
    except_keys text[] DEFAULT '{}'
)
LANGUAGE plpgsql
AS $procedure$
DECLARE
    total bigint;
    batches bigint;
    keys text[];
    erased bigint;
    blocked bigint;
    already bigint;
    skipped bigint;
    candidate record;
BEGIN
    -- First of all: nothing below may resolve a name through the caller's search_path.
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    IF batch_size IS NULL OR batch_size OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Inside a transaction block no batch could be committed: fail now, before any work.
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    -- The candidates not erased yet, numbered in key order: a run interrupted part-way is
    -- continued by running it again, since what it erased is in the ledger. The rule runs
    -- alone and the ledger is consulted afterwards: on a sharded (Citus) cluster a query over
    -- distributed tables cannot be joined to the local ledger.
    IF pg_catalog.to_regclass('pg_temp.erasure_candidates') IS NOT NULL THEN
        DROP TABLE pg_temp.erasure_candidates;
    END IF;
    CREATE TEMP TABLE erasure_candidates AS
    SELECT pg_catalog.row_number() OVER (ORDER BY c.n) AS n, c.key
      FROM erasure.batch_candidates(subject, rule, argument, except_keys) WITH ORDINALITY AS c(key, n)
     WHERE NOT EXISTS (SELECT FROM erasure.ledger l
                        WHERE l.subject = erase_batches.subject AND l.key = c.key);
    SELECT pg_catalog.count(*) INTO total FROM pg_temp.erasure_candidates;
    batches := (total + batch_size - 1) / batch_size;
    RAISE NOTICE 'candidates: % (% left out), batches: % of at most %',
        total, pg_catalog.cardinality(except_keys), batches, batch_size;
    FOR batch IN 1 .. batches LOOP
        SELECT pg_catalog.array_agg(c.key ORDER BY c.n) INTO keys
          FROM pg_temp.erasure_candidates c
         WHERE c.n > (batch - 1) * batch_size AND c.n <= batch * batch_size;
        IF dry_run THEN
            FOR candidate IN
                SELECT k AS key, erasure.erasure_preview(k, subject) ->> 'decision' AS decision
                  FROM pg_catalog.unnest(keys) AS k
            LOOP
                RAISE NOTICE 'candidate %: %', candidate.key, candidate.decision;
            END LOOP;
        ELSE
            SELECT pg_catalog.count(*) FILTER (WHERE r.status IN ('anonymized', 'deleted')),
                   pg_catalog.count(*) FILTER (WHERE r.status = 'blocked'),
                   pg_catalog.count(*) FILTER (WHERE r.status = 'already_erased'),
                   pg_catalog.count(*) FILTER (WHERE r.status IN ('not_found', 'refused'))
              INTO erased, blocked, already, skipped
              FROM erasure.anonymize_many(subject, keys, mode) AS r;
            RAISE NOTICE 'batch %/%: % erased, % blocked, % already erased, % skipped',
                batch, batches, erased, blocked, already, skipped;
            COMMIT;
            PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
        END IF;
    END LOOP;
    IF NOT dry_run THEN
        -- Statistics and materialized views that may show the erased values; VACUUM cannot run
        -- here, inside a transaction.
        PERFORM erasure.cleanup(subject);
        RAISE NOTICE 'statistics analyzed and materialized views refreshed; VACUUM what erasure.pending_vacuum() lists';
    END IF;
    -- The keys are the caller's session's to forget (and a temporary table left behind keeps
    -- its role from being dropped).
    DROP TABLE pg_temp.erasure_candidates;
END
$procedure$;
COMMENT ON PROCEDURE erasure.erase_batches(text, text, text, integer, text, boolean, text[]) IS
    'Erases the subjects the registered batch rule selects (erasure.register_batch_rule; argument is its $1), but except_keys, in batches committed one by one (CALL it outside a transaction block); a NOTICE per batch; run it again to continue after an interruption; at the end runs erasure.cleanup(). With dry_run, lists each candidate''s decision and changes nothing.';

-- 5.3 The safety net (sql/check.sql); its event triggers are 0.1.0's, unchanged ---------------
-- The safety net: what the catalog does not cover, or covers wrongly, before an erasure leaves
-- personal data behind. Plain SQL over PostgreSQL's catalogs and pg_erasure's.

-- Column names that usually hold personal data, in English, Portuguese, French, Italian and
-- Swedish (word parts, matched case-insensitively).
CREATE OR REPLACE FUNCTION erasure.personal_name_pattern() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT '(e_?mail|phone|fone|telefon|mobile|cell|celular|cpf|cnpj|ssn|personnummer|iban|ip_?addr|(^|_)ip($|_)|'
             || 'name|nome|nom($|_)|namn|cognome|prenom|address|endereco|adresse|indirizzo|adress|street|rua($|_)|'
             || 'birth|nascimento|naissance|nascita|fodelse|fødelse|födelse)' $$;
COMMENT ON FUNCTION erasure.personal_name_pattern() IS
    'The regular expression erasure.check() matches column names against to flag columns that look personal.';

-- Of the subjects, those the current user acts for: it owns (or is a member of the owner of)
-- their subject table, or is a superuser.
CREATE OR REPLACE FUNCTION erasure.registered_tables(subject text DEFAULT NULL)
RETURNS TABLE(subject text, tbl regclass, action text, reason text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    WITH mine AS (
        SELECT s.subject, s.tbl FROM erasure.subjects s JOIN pg_class c ON c.oid = s.tbl
         WHERE ($1 IS NULL OR s.subject = $1) AND pg_has_role(c.relowner, 'USAGE'))
    SELECT m.subject, m.tbl, 'mask', NULL FROM mine m
    UNION ALL
    SELECT t.subject, t.tbl, t.action, t.reason FROM erasure.tables t JOIN mine m ON m.subject = t.subject
$$;
COMMENT ON FUNCTION erasure.registered_tables(text) IS
    'The tables registered for a subject (every subject when NULL) whose subject table the current user owns, its own table included (as mask).';

-- Whether a registered table's column policies are applied to its rows: at the erasure
-- (action mask) or when its retention period ends (action retain with retain_for).
CREATE OR REPLACE FUNCTION erasure.is_masked(subject text, tbl regclass, action text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT action = 'mask'
        OR action = 'retain' AND EXISTS (SELECT FROM erasure.tables t
                                          WHERE t.subject = $1 AND t.tbl = $2 AND t.retain_for IS NOT NULL)
$$;
COMMENT ON FUNCTION erasure.is_masked(text, regclass, text) IS
    'Whether the column policies of a registered table are applied to its rows: at the erasure (mask) or at the end of its retention period (retain with retain_for). For erasure.check().';

-- Where a registered table's rows are: the table itself, or for a partitioned table each of
-- its partitions that holds rows (partitions of partitions included).
CREATE OR REPLACE FUNCTION erasure.leaves(tbl regclass) RETURNS TABLE(leaf regclass)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT $1 WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = $1 AND c.relkind = 'p')
    UNION ALL
    SELECT p.relid FROM pg_partition_tree($1) p WHERE p.isleaf
$$;
COMMENT ON FUNCTION erasure.leaves(regclass) IS
    'The tables holding a registered table''s rows: itself, or each leaf partition of a partitioned table. For erasure.check().';

-- The privileges a subject's owner needs on a registered table for its action, the first one
-- it lacks (NULL when it has them all): erasures run with exactly that owner's rights.
-- Registration refuses a table for which this is not NULL, and check() reports it.
CREATE OR REPLACE FUNCTION erasure.missing_privilege(owner oid, tbl regclass, action text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.privilege
      FROM unnest(CASE WHEN action = 'retain' THEN ARRAY['SELECT'] ELSE ARRAY['SELECT', 'UPDATE', 'DELETE'] END)
           WITH ORDINALITY AS p(privilege, n)
     WHERE NOT has_table_privilege(owner, tbl, p.privilege)
     ORDER BY p.n LIMIT 1
$$;
COMMENT ON FUNCTION erasure.missing_privilege(oid, regclass, text) IS
    'The first privilege the role owner lacks on tbl to erase its rows under action mask, delete (SELECT, UPDATE, DELETE) or retain (SELECT); NULL when none is missing.';

CREATE OR REPLACE FUNCTION erasure.check_policy(tbl regclass, col name) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'check_policy_wrapper';
COMMENT ON FUNCTION erasure.check_policy(regclass, name) IS
    'Raises the error that setting the column''s masking policy again would raise now (the column retyped, dropped, made NOT NULL, given a unique index since): the rule erasure.set_policy() applies, for erasure.check().';

CREATE OR REPLACE FUNCTION erasure.strategy_fits(tbl regclass, col name, strategy text, params jsonb DEFAULT '{}')
RETURNS boolean
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'strategy_fits_wrapper';
COMMENT ON FUNCTION erasure.strategy_fits(regclass, name, text, jsonb) IS
    'Whether the masking strategy (with params) fits the column''s type, by the rule erasure.set_policy() applies: year_only and now need a date or timestamp, blank, hmac and placeholder text, jsonb_remove jsonb, null a nullable column. For erasure.suggest_policies().';

CREATE OR REPLACE FUNCTION erasure.sharding_problems(subject text)
RETURNS TABLE(tbl regclass, problem text, hint text)
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sharding_problems_wrapper';
COMMENT ON FUNCTION erasure.sharding_problems(text) IS
    'On a Citus cluster, the registered tables of the subject whose rows Citus cannot route with the subject''s (not distributed by the column holding the subject key, not colocated, local or reference tables), with the fix; no rows elsewhere. For erasure.check().';

CREATE OR REPLACE FUNCTION erasure.values_look_personal(tbl regclass, col name) RETURNS boolean
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'values_look_personal_wrapper';
COMMENT ON FUNCTION erasure.values_look_personal(regclass, name) IS
    'Whether some of the first 100 values of the column look like e-mail addresses, CPF/CNPJ, phone numbers, IBANs or IP addresses; read as the table''s owner, restricted; NULL when the current user may not read the column.';

-- Whether a column's name looks personal: it matches personal_name_pattern() and is not a
-- numeric or uuid column of a primary or foreign key (address_id links rows, it names no one).
CREATE OR REPLACE FUNCTION erasure.name_looks_personal(tbl regclass, col name) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT col ~* erasure.personal_name_pattern()
         AND NOT EXISTS (SELECT FROM pg_attribute a
                           JOIN pg_type t ON t.oid = a.atttypid
                           JOIN pg_constraint k ON k.conrelid = a.attrelid AND k.contype IN ('p', 'f')
                                               AND a.attnum = ANY (k.conkey)
                          WHERE a.attrelid = tbl AND a.attname = col
                            AND (t.typcategory = 'N' OR a.atttypid = 'uuid'::regtype))
$$;
COMMENT ON FUNCTION erasure.name_looks_personal(regclass, name) IS
    'Whether the column''s name looks personal (erasure.personal_name_pattern()), numeric and uuid key columns excepted: what check() and suggested_policy() ask of a name.';

-- The policy to propose for a column nobody decided on: the one call that check()'s hint,
-- the DDL watch and suggest_policies() all print. It erases what looks personal (by name);
-- keep only for what does not, and for the numeric and uuid keys that link rows.
CREATE OR REPLACE FUNCTION erasure.suggested_policy(tbl regclass, col name) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT format('SELECT erasure.set_policy(%L, %L, %L%s);', tbl::text, col, pick.strategy,
                CASE pick.strategy
                    WHEN 'placeholder' THEN ', ''{"template": "erased-{key}@invalid.example"}'''
                    WHEN 'constant' THEN ', ''{"value": "Xxxx"}'''
                    ELSE '' END)
    FROM pg_attribute a
    CROSS JOIN LATERAL (SELECT
        EXISTS (SELECT FROM pg_index u WHERE u.indrelid = a.attrelid AND u.indisunique
                                         AND a.attnum = ANY (u.indkey::int2[])) AS in_unique,
        EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = a.attrelid AND k.contype IN ('p', 'f')
                                              AND a.attnum = ANY (k.conkey)) AS in_key,
        erasure.strategy_fits(tbl, col, 'placeholder', '{"template": "x"}') AS text_like,
        erasure.name_looks_personal(tbl, col) AS personal) AS c
    CROSS JOIN LATERAL (SELECT CASE
        WHEN c.in_key AND NOT c.personal THEN 'keep'
        WHEN col ~* '(^|_)(uf|state|estado|country|pais|país|pays|paese|land|postal|zip|cep|postnummer|gender|genero|sexo|group|grupo|region|regiao)($|_)' THEN 'keep'
        WHEN col ~* '(birth|nascimento|naissance|nascita|fodelse|födelse)' AND erasure.strategy_fits(tbl, col, 'year_only') THEN 'year_only'
        WHEN col ~* 'e_?mail' AND c.text_like AND (c.in_unique OR a.attnotnull) THEN 'placeholder'
        WHEN NOT a.attnotnull THEN 'null'
        WHEN NOT c.personal THEN 'keep'
        WHEN c.in_unique AND c.text_like THEN 'placeholder'
        WHEN c.text_like THEN 'constant'
        WHEN erasure.strategy_fits(tbl, col, 'year_only') THEN 'year_only'
        ELSE 'keep'
      END AS strategy) AS pick
   WHERE a.attrelid = tbl AND a.attname = col AND NOT a.attisdropped
$$;
COMMENT ON FUNCTION erasure.suggested_policy(regclass, name) IS
    'The set_policy() call erasure.check(), the DDL watch and suggest_policies() propose for a column without a policy: it erases what looks personal (placeholder for a UNIQUE or NOT NULL e-mail, year_only for birth dates, null where NULL is allowed, constant Xxxx or a placeholder for NOT NULL text); keep for state, country, postal code, gender, group, region, key columns and other NOT NULL columns whose name does not look personal.';

CREATE OR REPLACE FUNCTION erasure.check(subject text DEFAULT NULL)
RETURNS TABLE(severity text, tbl regclass, col name, problem text, hint text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    keep record;
    policy record;
    why text;
    looks_personal boolean;
BEGIN
    IF $1 IS NOT NULL AND EXISTS (SELECT FROM erasure.subjects s WHERE s.subject = $1)
       AND NOT EXISTS (SELECT FROM erasure.registered_tables($1)) THEN
        RAISE EXCEPTION 'must be owner of the table of erasure subject "%" to check it', $1
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Registered relations that are no tables any more (a table turned into a view).
    RETURN QUERY
    SELECT 'error', r.tbl, NULL::name, 'is no longer a table: erasures of the subject fail',
           format('SELECT erasure.register_table(%L, ...);  -- register the table that holds the rows now', r.subject)
      FROM erasure.registered_tables($1) r JOIN pg_class c ON c.oid = r.tbl
     WHERE c.relkind NOT IN ('r', 'p');

    -- Columns of masked tables nobody decided on, and of retained tables with a retention
    -- period, which are masked by the same policies when it ends.
    RETURN QUERY
    SELECT 'error', r.tbl, a.attname,
           CASE r.action WHEN 'mask' THEN 'column has no masking policy: the erasure leaves it as it is'
                ELSE 'column has no masking policy: when the retention period ends, the release leaves it as it is' END,
           erasure.suggested_policy(r.tbl, a.attname) || '  -- review it: keep, null, constant, ...'
      FROM erasure.registered_tables($1) r
      JOIN pg_attribute a ON a.attrelid = r.tbl AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
     WHERE erasure.is_masked(r.subject, r.tbl, r.action)
       AND NOT EXISTS (SELECT FROM erasure.column_policies p WHERE p.tbl = r.tbl AND p.col = a.attname)
       -- the key, via columns and the columns via columns reference tie rows together: never masked
       AND NOT EXISTS (SELECT FROM erasure.subjects s WHERE s.tbl = r.tbl AND s.key_column = a.attname)
       AND NOT EXISTS (SELECT FROM erasure.tables t WHERE t.tbl = r.tbl AND a.attname = ANY (t.via))
       AND NOT EXISTS (SELECT FROM erasure.tables t WHERE t.parent = r.tbl AND a.attname = ANY (t.parent_columns));

    -- Tables that reference a registered table through a foreign key but are not registered.
    RETURN QUERY
    SELECT DISTINCT CASE WHEN ack.note IS NULL THEN 'error' ELSE 'acknowledged' END, c.conrelid::regclass, NULL::name,
           format('not registered, but references %s (foreign key %s): rows reachable from the subject that no rule covers',
                  c.confrelid::regclass, c.conname),
           coalesce(ack.note, format('SELECT erasure.register_table(%L, %L, ''mask'', parent => %L);', r.subject, c.conrelid::regclass::text,
                  c.confrelid::regclass::text))
      FROM erasure.registered_tables($1) r
      JOIN pg_constraint c ON c.contype = 'f' AND c.confrelid = r.tbl AND c.conparentid = 0
     -- declared not the subject's data (staff, store pointing at a shared address): acknowledged
     CROSS JOIN LATERAL (SELECT erasure.acknowledged(r.subject, 'reference', c.conrelid::regclass, c.conname) AS note) ack
     WHERE NOT EXISTS (SELECT FROM erasure.registered_tables($1) o WHERE o.subject = r.subject AND o.tbl = c.conrelid)
       -- a partition is erased with its registered parent, whatever foreign keys it has itself
       AND NOT EXISTS (SELECT FROM pg_partition_ancestors(c.conrelid) a
                         JOIN erasure.registered_tables($1) o ON o.subject = r.subject AND o.tbl = a.relid)
       -- rows pointing to a row the subject points to make it shared (below)
       AND NOT EXISTS (SELECT FROM erasure.tables t WHERE t.subject = r.subject AND t.tbl = r.tbl AND t.referenced)
       AND c.conrelid <> r.tbl
       AND c.conrelid::regclass::text NOT LIKE 'erasure.%';

    -- Tables pointing to rows the subject points to (staff and stores at an address): their
    -- rows are not the subject's, and make the row they point to shared, which is kept.
    RETURN QUERY
    SELECT DISTINCT 'info', c.conrelid::regclass, NULL::name,
           format('references %s (foreign key %s), whose rows the subject points to: a row it points to too is shared, and kept',
                  c.confrelid::regclass, c.conname),
           format('If its rows are the subject''s own, register it: SELECT erasure.register_table(%L, %L, ''mask'', parent => %L);',
                  r.subject, c.conrelid::regclass::text, c.confrelid::regclass::text)
      FROM erasure.registered_tables($1) r
      JOIN erasure.tables t ON t.subject = r.subject AND t.tbl = r.tbl AND t.referenced
      JOIN pg_constraint c ON c.contype = 'f' AND c.confrelid = r.tbl AND c.conparentid = 0
     WHERE NOT EXISTS (SELECT FROM erasure.registered_tables($1) o WHERE o.subject = r.subject AND o.tbl = c.conrelid)
       AND c.conrelid <> r.tbl AND c.conrelid <> t.parent;

    -- Rows the subject's rows point to, in tables nobody registered whose columns look
    -- personal (the customer's address): the erasure leaves them as they are.
    RETURN QUERY
    SELECT DISTINCT 'warning', c.confrelid::regclass, NULL::name,
           format('not registered, but %s points to it (foreign key %s) and its columns (%s) look personal: the erasure leaves the rows the subject points to',
                  c.conrelid::regclass, c.conname,
                  (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
                    WHERE a.attrelid = c.confrelid AND a.attnum > 0 AND NOT a.attisdropped
                      AND erasure.name_looks_personal(c.confrelid, a.attname))),
           format('SELECT erasure.register_table(%L, %L, parent => %L, referenced_by => %L);  -- rows others point to too are kept',
                  r.subject, c.confrelid::regclass::text, c.conrelid::regclass::text,
                  (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum)::text)
      FROM erasure.registered_tables($1) r
      JOIN pg_constraint c ON c.contype = 'f' AND c.conrelid = r.tbl AND c.conparentid = 0
     WHERE r.action = 'mask' AND c.confrelid <> r.tbl
       AND NOT EXISTS (SELECT FROM erasure.registered_tables($1) o WHERE o.subject = r.subject AND o.tbl = c.confrelid)
       AND c.confrelid::regclass::text NOT LIKE 'erasure.%'
       AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.confrelid AND a.attnum > 0 AND NOT a.attisdropped
                      AND erasure.name_looks_personal(c.confrelid, a.attname));

    -- On a Citus cluster: registered tables whose rows are not in the subject's shard group.
    RETURN QUERY
    SELECT 'error', p.tbl, NULL::name, p.problem, p.hint
      FROM (SELECT DISTINCT r.subject FROM erasure.registered_tables($1) r) s,
           erasure.sharding_problems(s.subject) p;

    -- Inheritance children of registered tables (not partitions): an erasure changes ONLY the
    -- registered table, so a child holding the subject's rows is registered on its own.
    RETURN QUERY
    SELECT DISTINCT 'error', i.inhrelid::regclass, NULL::name,
           format('inherits from registered table %s but is not registered: the erasure leaves its rows as they are', r.tbl),
           format('SELECT erasure.register_table(%L, %L, %L%s);  -- then its column policies', r.subject,
                  i.inhrelid::regclass::text, r.action,
                  coalesce(', via => ' || quote_literal(t.via::text) || ', parent => ' || quote_literal(t.parent::text), ''))
      FROM erasure.registered_tables($1) r
      JOIN pg_class p ON p.oid = r.tbl AND p.relkind = 'r'
      JOIN pg_inherits i ON i.inhparent = r.tbl
      LEFT JOIN erasure.tables t ON t.subject = r.subject AND t.tbl = r.tbl
     WHERE NOT EXISTS (SELECT FROM erasure.registered_tables($1) o WHERE o.subject = r.subject AND o.tbl = i.inhrelid);

    -- Policies the table no longer allows (a column retyped, dropped, made NOT NULL, given a
    -- unique index or a domain since): registration's own rule, erasure.check_policy().
    FOR policy IN
        SELECT DISTINCT p.tbl, p.col FROM erasure.column_policies p
          JOIN erasure.registered_tables($1) r ON r.tbl = p.tbl AND erasure.is_masked(r.subject, r.tbl, r.action)
         ORDER BY 1, 2
    LOOP
        BEGIN
            PERFORM erasure.check_policy(policy.tbl, policy.col);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS why = PG_EXCEPTION_DETAIL;
            severity := 'error'; tbl := policy.tbl; col := policy.col;
            problem := SQLERRM || coalesce(' (' || nullif(rtrim(why, '.'), '') || ')', '');
            hint := format('SELECT erasure.drop_policy(%L, %L);  -- then set it again', policy.tbl::text, policy.col);
            RETURN NEXT;
        END;
    END LOOP;

    -- Columns kept as they are although their name or their values look personal.
    FOR keep IN
        SELECT p.tbl, p.col, a.atttypid FROM erasure.column_policies p
          JOIN erasure.registered_tables($1) r ON r.tbl = p.tbl
          JOIN pg_attribute a ON a.attrelid = p.tbl AND a.attname = p.col AND NOT a.attisdropped
         WHERE p.strategy = 'keep'
    LOOP
        looks_personal := erasure.name_looks_personal(keep.tbl, keep.col);
        IF NOT looks_personal AND keep.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype,
                                                    'text[]'::regtype, 'varchar[]'::regtype) THEN
            -- Sample values, as the table's owner (never as the caller of check()).
            looks_personal := coalesce(erasure.values_look_personal(keep.tbl, keep.col), false);
        END IF;
        IF looks_personal THEN
            severity := 'warning'; tbl := keep.tbl; col := keep.col;
            problem := 'kept as it is, but its name or values look personal';
            hint := erasure.suggested_policy(keep.tbl, keep.col);
            IF hint LIKE '%, ''keep'');' THEN
                hint := format('SELECT erasure.set_policy(%L, %L, ''null'');', keep.tbl::text, keep.col);
            END IF;
            hint := hint || '  -- if it is personal';
            RETURN NEXT;
        END IF;
    END LOOP;

    -- Links to the parent not backed by a foreign key: nothing stops a column from holding
    -- another table's key, and the erasure would then mask someone else's rows.
    RETURN QUERY
    -- A partitioned table is checked in each partition holding rows: a foreign key of the
    -- parent is in each of them, and one a partition declares itself counts as well.
    SELECT 'warning', l.leaf, NULL::name,
           format('its via columns (%s) are not a foreign key to %s: a wrong column would erase someone else''s rows',
                  array_to_string(t.via, ', '), t.parent),
           format('ALTER TABLE %s ADD FOREIGN KEY (%s) REFERENCES %s (%s);', l.leaf,
                  (SELECT string_agg(quote_ident(v), ', ') FROM unnest(t.via) AS v), t.parent,
                  (SELECT string_agg(quote_ident(p), ', ') FROM unnest(t.parent_columns) AS p))
      FROM erasure.tables t
      JOIN erasure.registered_tables($1) r ON r.subject = t.subject AND r.tbl = t.tbl
     CROSS JOIN LATERAL erasure.leaves(t.tbl) l
     WHERE cardinality(t.via) > 0 AND NOT t.referenced
       AND NOT EXISTS (
           SELECT FROM pg_constraint f
            WHERE f.contype = 'f' AND f.conrelid = l.leaf AND f.confrelid = t.parent
              AND (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum) = t.via);
    -- The same for a row the subject points to: the parent's columns and its foreign key.
    RETURN QUERY
    SELECT 'warning', t.tbl, NULL::name,
           format('%s (%s) pointing to it are not a foreign key: a wrong column would erase someone else''s rows',
                  t.parent, array_to_string(t.parent_columns, ', ')),
           format('ALTER TABLE %s ADD FOREIGN KEY (%s) REFERENCES %s (%s);', t.parent,
                  (SELECT string_agg(quote_ident(p), ', ') FROM unnest(t.parent_columns) AS p), t.tbl,
                  (SELECT string_agg(quote_ident(v), ', ') FROM unnest(t.via) AS v))
      FROM erasure.tables t
      JOIN erasure.registered_tables($1) r ON r.subject = t.subject AND r.tbl = t.tbl
     WHERE t.referenced
       AND NOT EXISTS (
           SELECT FROM pg_constraint f
            WHERE f.contype = 'f' AND f.conrelid = t.parent AND f.confrelid = t.tbl
              AND (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum) = t.parent_columns);

    -- via columns without an index: every erasure scans the whole table. For a row the
    -- subject points to, the columns pointing to it: the erasure looks for other rows doing so.
    RETURN QUERY
    -- (In each partition of a partitioned table: that is where the rows are read.)
    SELECT 'warning', l.leaf, NULL::name,
           CASE WHEN t.referenced
                THEN format('no index on its columns (%s) pointing to %s: each erasure scans the table', array_to_string(k.cols, ', '), t.tbl)
                ELSE format('no index on its via columns (%s): each erasure scans the table', array_to_string(k.cols, ', ')) END,
           format('CREATE INDEX ON %s (%s);', l.leaf, (SELECT string_agg(quote_ident(v), ', ') FROM unnest(k.cols) AS v))
      FROM erasure.tables t
      JOIN erasure.registered_tables($1) r ON r.subject = t.subject AND r.tbl = t.tbl
     CROSS JOIN LATERAL (SELECT CASE WHEN t.referenced THEN t.parent ELSE t.tbl END AS tbl,
                                CASE WHEN t.referenced THEN t.parent_columns ELSE t.via END AS cols) k
     CROSS JOIN LATERAL erasure.leaves(k.tbl) l
     WHERE cardinality(t.via) > 0
       AND NOT EXISTS (
           SELECT FROM pg_index i
            WHERE i.indrelid = l.leaf
              AND (SELECT array_agg(a.attname ORDER BY o.n) FROM unnest((i.indkey::int2[])[0:cardinality(k.cols) - 1]) WITH ORDINALITY AS o(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = l.leaf AND a.attnum = o.attnum) = k.cols);

    -- Triggers may copy old values elsewhere (an audit table); rules and views expose columns.
    RETURN QUERY
    SELECT DISTINCT CASE WHEN ack.note IS NULL THEN 'warning' ELSE 'acknowledged' END, r.tbl, NULL::name,
           format('trigger %s may copy the values the erasure changes into another table', tg.tgname),
           coalesce(ack.note, format('Check what the trigger writes and register that table too (delete or mask, via its column holding the subject''s key): what it copies during an erasure is then erased with the rest. It runs with the rights of the subject''s owner. If it copies nothing: SELECT erasure.acknowledge(%L, ''trigger'', %L, %L, reason => ''...'');',
                                     r.subject, tg.tgrelid::regclass::text, tg.tgname))
      FROM erasure.registered_tables($1) r
      -- the table's own triggers, and those a partition has besides its parent's clones
      JOIN pg_trigger tg ON (tg.tgrelid = r.tbl OR tg.tgrelid IN (SELECT l.leaf FROM erasure.leaves(r.tbl) l)
                                                   AND tg.tgparentid = 0)
                            AND NOT tg.tgisinternal
     CROSS JOIN LATERAL (SELECT erasure.acknowledged(r.subject, 'trigger', tg.tgrelid::regclass, tg.tgname) AS note) ack
     WHERE r.action IN ('mask', 'delete');
    RETURN QUERY
    SELECT DISTINCT CASE v.relkind WHEN 'm' THEN 'warning' ELSE 'info' END, r.tbl, NULL::name,
           format('%s %s reads this table', CASE v.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, v.rel),
           CASE v.relkind WHEN 'm' THEN 'It keeps the erased values until refreshed: SELECT * FROM erasure.cleanup(); after erasures.'
                ELSE 'A view shows what the erasure leaves.' END
      FROM erasure.registered_tables($1) r
     CROSS JOIN LATERAL erasure.relations_reading(r.tbl) v;

    -- PostgreSQL applies no rule to the data-modifying WITH statement an erasure runs: it
    -- refuses the statement, so every erasure of the subject fails.
    RETURN QUERY
    SELECT DISTINCT 'error', r.tbl, NULL::name,
           format('rule %s: PostgreSQL refuses rules on the data-modifying WITH statement of an erasure, so erasures fail', rw.rulename),
           format('DROP RULE %I ON %s;  -- and do its work in a trigger', rw.rulename, r.tbl)
      FROM erasure.registered_tables($1) r
      JOIN pg_rewrite rw ON rw.ev_class = r.tbl AND rw.rulename <> '_RETURN'
     WHERE r.action IN ('mask', 'delete');

    -- Erasures run with the rights of the subject's owner; a REVOKE, or a table whose owner
    -- changed, takes them away and every erasure fails with 42501.
    RETURN QUERY
    SELECT 'error', r.tbl, NULL::name,
           format('the subject''s owner %s lacks privilege %s on it', o.owner::regrole, erasure.missing_privilege(o.owner, r.tbl, r.action)),
           format('GRANT %s ON %s TO %s;', erasure.missing_privilege(o.owner, r.tbl, r.action), r.tbl, o.owner::regrole)
      FROM erasure.registered_tables($1) r
      JOIN erasure.subjects s ON s.subject = r.subject
     CROSS JOIN LATERAL (SELECT c.relowner AS owner FROM pg_class c WHERE c.oid = s.tbl) o
     WHERE erasure.missing_privilege(o.owner, r.tbl, r.action) IS NOT NULL;

    -- A retained table whose foreign key follows changes of a masked column would be rewritten
    -- by the erasure; registration refuses it, a later ALTER TABLE can add it.
    RETURN QUERY
    SELECT DISTINCT 'error', r.tbl, NULL::name,
           format('foreign key %s follows changes of masked columns of %s (ON UPDATE %s): the erasure would rewrite retained rows',
                  f.conname, f.confrelid::regclass, CASE f.confupdtype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END),
           format('ALTER TABLE %s DROP CONSTRAINT %I;  -- and reference the key of %s instead', r.tbl, f.conname, f.confrelid::regclass)
      FROM erasure.registered_tables($1) r
      JOIN pg_constraint f ON f.conrelid = r.tbl AND f.contype = 'f' AND f.confupdtype IN ('c', 'n', 'd')
      JOIN erasure.registered_tables($1) m ON m.subject = r.subject AND m.tbl = f.confrelid AND m.action = 'mask'
     WHERE r.action = 'retain'
       AND EXISTS (SELECT FROM erasure.column_policies p JOIN pg_attribute a ON a.attrelid = p.tbl AND a.attname = p.col
                    WHERE p.tbl = f.confrelid AND p.strategy <> 'keep' AND a.attnum = ANY (f.confkey));

    -- The hmac key is not a setting: one set as a setting anyway is readable by other roles.
    RETURN QUERY
    SELECT DISTINCT 'error', NULL::regclass, NULL::name,
           'erasure.hmac_key is set as a setting (ALTER DATABASE or ALTER ROLE), where other roles can read it; pg_erasure does not use it',
           'ALTER DATABASE ... RESET erasure.hmac_key; -- then: SELECT erasure.set_hmac_key(''<new secret>'');'
      FROM pg_db_role_setting d, unnest(d.setconfig) AS c
     WHERE c LIKE 'erasure.hmac\_key=%';
    -- In the server's configuration (ALTER SYSTEM, postgresql.conf), where a session that has
    -- not loaded pg_erasure shows it to anyone; only who may read the files' settings can tell.
    IF has_function_privilege('pg_catalog.pg_show_all_file_settings()', 'EXECUTE') THEN
        RETURN QUERY
        SELECT DISTINCT 'error', NULL::regclass, NULL::name,
               format('erasure.hmac_key is set in %s, where sessions that have not loaded pg_erasure show it to anyone; pg_erasure does not use it', f.sourcefile),
               'ALTER SYSTEM RESET erasure.hmac_key; SELECT pg_reload_conf(); -- then: SELECT erasure.set_hmac_key(''<new secret>'');'
          FROM pg_file_settings f WHERE f.name = 'erasure.hmac_key';
    END IF;
    RETURN QUERY
    SELECT DISTINCT 'error', p.tbl, p.col, 'strategy hmac, but no hmac key is set: erasures fail',
           'SELECT erasure.set_hmac_key(''<a long random secret>'');  -- as a superuser'
      FROM erasure.registered_tables($1) r JOIN erasure.column_policies p ON p.tbl = r.tbl
     WHERE p.strategy = 'hmac' AND NOT EXISTS (SELECT FROM erasure.hmac_key);

    -- A publication that replicates deletes (updates) needs a replica identity on every table it
    -- publishes: without one, each erasure deleting (masking) rows of that table fails.
    RETURN QUERY
    SELECT DISTINCT 'error', r.tbl, NULL::name,
           format('published by %s, which replicates %s, but without a replica identity: erasures fail', p.pubname,
                  CASE WHEN r.action = 'delete' THEN 'deletes' ELSE 'updates' END),
           format('ALTER TABLE %s REPLICA IDENTITY FULL;  -- or give it a primary key', r.tbl)
      FROM erasure.registered_tables($1) r
      JOIN pg_class c ON c.oid = r.tbl
      JOIN pg_publication_tables pt ON pt.schemaname = (SELECT n.nspname FROM pg_namespace n WHERE n.oid = c.relnamespace)
                                   AND pt.tablename = c.relname
      JOIN pg_publication p ON p.pubname = pt.pubname
     WHERE r.action IN ('mask', 'delete')
       AND (CASE WHEN r.action = 'delete' THEN p.pubdelete ELSE p.pubupdate END)
       AND (c.relreplident = 'n'
            OR c.relreplident = 'd' AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary));

    -- Tables that look like they hold the subject's rows, with a column of its key's type named
    -- like a reference to it (customer_id, <subject>_id), but no foreign key that would have
    -- made check() find them: nothing covers their rows, and strict mode cannot see them.
    RETURN QUERY
    SELECT DISTINCT 'warning', c.oid::regclass, a.attname,
           format('not registered, but column %I (of the key type of %s) looks like a reference to subject %s without a foreign key',
                  a.attname, s.tbl, s.subject),
           format('SELECT erasure.register_table(%L, %L, ''mask'', via => %L);  -- if it holds the subject''s rows',
                  s.subject, c.oid::regclass::text, '{' || a.attname || '}')
      FROM erasure.subjects s
      JOIN erasure.registered_tables($1) own ON own.subject = s.subject AND own.tbl = s.tbl
      JOIN pg_attribute k ON k.attrelid = s.tbl AND k.attname = s.key_column
      JOIN pg_attribute a ON a.atttypid = k.atttypid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'erasure') AND n.nspname NOT LIKE 'pg_toast%'
       AND c.oid <> s.tbl
       AND a.attname ~* ('^(' || regexp_replace(s.subject, '([^[:alnum:]_])', '\\\1', 'g')
                         || '|customer|client|cliente|kund|person|user|member)_?(id|key|no|code)$')
       AND NOT EXISTS (SELECT FROM erasure.registered_tables($1) o WHERE o.subject = s.subject AND o.tbl = c.oid)
       AND NOT EXISTS (SELECT FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f' AND a.attnum = ANY (f.conkey));

    -- A key that is itself personal (an e-mail address) stays in the ledger, its export and the
    -- notifications unless the subject says so.
    RETURN QUERY
    SELECT 'warning', s.tbl, s.key_column,
           'the key looks personal: the ledger, its export and the notifications keep it',
           format('SELECT erasure.register_subject(%L, %L, key_column => %L, personal_key => true);', s.subject, s.tbl::text, s.key_column)
      FROM erasure.subjects s
      JOIN erasure.registered_tables($1) own ON own.subject = s.subject AND own.tbl = s.tbl
     WHERE NOT s.personal_key
       AND (s.key_column ~* erasure.personal_name_pattern()
            OR coalesce(erasure.values_look_personal(s.tbl, s.key_column), false));

    -- Retained tables should say why.
    RETURN QUERY
    SELECT 'warning', r.tbl, NULL::name, 'retained without a reason',
           format('SELECT erasure.register_table(%L, %L, ''retain'', reason => ''...'');', r.subject, r.tbl::text)
      FROM erasure.registered_tables($1) r WHERE r.action = 'retain' AND r.reason IS NULL;
END
$function$;
COMMENT ON FUNCTION erasure.check(text) IS
    'Finds what the erasure catalog does not cover or covers wrongly: columns without policy, unregistered tables referencing registered ones, policies the schema no longer allows, personal-looking kept columns, unindexed via columns, triggers, views, retained tables without reason. Each row has a hint with the SQL to fix it; a finding the subject''s owner acknowledged (erasure.acknowledge) has severity acknowledged and says by whom, when and why.';

-- A masking strategy in words, for documents people read (describe, certificates): what the
-- column holds after the erasure. Params are the policy's own (a constant, a template), never a
-- subject's value.
CREATE OR REPLACE FUNCTION erasure.strategy_in_words(strategy text, params jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE strategy
        WHEN 'keep' THEN 'kept as it is (reviewed: not personal)'
        WHEN 'null' THEN 'set to NULL'
        WHEN 'blank' THEN 'set to the empty string'
        WHEN 'constant' THEN 'replaced by the constant ' || (params -> 'value')::text
        WHEN 'year_only' THEN 'set to January 1st of its year'
        WHEN 'placeholder' THEN 'replaced by the placeholder ' || (params -> 'template')::text
        WHEN 'hmac' THEN 'replaced by its keyed hash (HMAC-SHA-256 under the database''s secret)'
        WHEN 'jsonb_remove' THEN 'keys ' || (params -> 'keys')::text || ' removed'
        WHEN 'expression' THEN 'replaced by the expression ' || (params -> 'sql')::text
        WHEN 'now' THEN 'set to the time of the erasure'
        WHEN 'restricted_at' THEN 'set to NULL (while an erasure request waits, the time its restriction began)'
    END
$$;
COMMENT ON FUNCTION erasure.strategy_in_words(text, jsonb) IS
    'A column policy in words: what the column holds after an erasure (for erasure.describe and erasure.certificate).';

-- The deletion concept (DIN 66398's Löschkonzept) of a subject, written from the catalog the
-- erasures run on, so the document cannot drift from what they do. Retention periods read the
-- same whatever the session's IntervalStyle.
CREATE OR REPLACE FUNCTION erasure.describe(subject text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET intervalstyle = 'postgres'
AS $function$
DECLARE
    s erasure.subjects;
    doc text;
    -- Markdown table cells: a | in a reason or message would end the cell.
    cell CONSTANT text := '|';
BEGIN
    SELECT * INTO s FROM erasure.subjects x WHERE x.subject = describe.subject;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'erasure subject "%" is not registered', describe.subject
            USING ERRCODE = 'undefined_object', HINT = 'Register it first with erasure.register_subject().';
    END IF;
    doc := format(E'# Deletion concept: %s\n\n', s.subject)
        || format(E'Generated by pg_erasure from the erasure catalog of database %s on %s. An erasure '
                  'request is answered within %s days (`erasure.response_days`).\n\n',
                  current_database(), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'),
                  current_setting('erasure.response_days'))
        || format(E'Each %s is one row of `%s`, identified by `%s`.%s\n\n', s.subject, s.tbl, s.key_column,
                  CASE WHEN s.personal_key THEN ' The key is itself personal: the ledger keeps a keyed digest of it (hmac:…), never the key.' ELSE '' END);

    doc := doc || E'## Tables\n\n| table | action | rows found through | reason | kept for |\n| --- | --- | --- | --- | --- |\n'
        || format(E'| `%s` | mask | the subject itself |  |  |\n', s.tbl)
        || coalesce((SELECT string_agg(format(E'| `%s` | %s | %s | %s | %s |\n', t.tbl, t.action,
                        concat_ws(' and ',
                            CASE WHEN cardinality(t.via) > 0 THEN format('`%s` → `%s`', array_to_string(t.via, ', '), t.parent) END,
                            CASE WHEN t.filter IS NOT NULL THEN format('`%s`', t.filter) END),
                        replace(coalesce(t.reason, ''), cell, '\' || cell),
                        CASE WHEN t.retain_for IS NOT NULL THEN format('%s from `%s`, then masked', t.retain_for, t.retain_from)
                             WHEN t.action = 'retain' THEN 'unchanged, without end' ELSE '' END),
                        '' ORDER BY t.tbl::text)
                      FROM erasure.tables t WHERE t.subject = s.subject), '')
        || E'\nmask: the row stays, its columns are masked as below; delete: the row is deleted; retain: the row stays unchanged (the law requires it).\n\n';

    doc := doc || E'## Columns\n\n| table | column | after the erasure |\n| --- | --- | --- |\n'
        || coalesce((SELECT string_agg(format(E'| `%s` | `%s` | %s |\n', p.tbl, p.col,
                                              replace(erasure.strategy_in_words(p.strategy, p.params), cell, '\' || cell)),
                                       '' ORDER BY p.tbl::text, p.col)
                       FROM erasure.column_policies p
                      WHERE p.tbl = s.tbl
                         OR p.tbl IN (SELECT t.tbl FROM erasure.tables t
                                       WHERE t.subject = s.subject AND erasure.is_masked(t.subject, t.tbl, t.action))), '')
        || E'\nColumns without a policy are left as they are and reported (`erasure.check()`, the report''s `unreviewed_columns`).\n\n';

    doc := doc || E'## What forbids an erasure\n\n'
        || coalesce((SELECT E'| blocker | message |\n| --- | --- |\n'
                            || string_agg(format(E'| `%s` | %s |\n', b.name, replace(coalesce(b.message, ''), cell, '\' || cell)), '' ORDER BY b.name)
                       FROM erasure.blockers b WHERE b.subject = s.subject HAVING count(*) > 0),
                    E'Nothing: no blocker is registered.\n')
        || E'\n## Safeguards\n\n'
        || format(E'- Strict mode (`erasure.require_complete`): %s.\n',
                  CASE WHEN current_setting('erasure.require_complete')::boolean
                       THEN 'on, erasures are refused while `erasure.check()` reports an error' ELSE 'off' END)
        || format(E'- DDL watch: %s.\n',
                  CASE WHEN EXISTS (SELECT FROM pg_event_trigger e WHERE e.evtname = 'erasure_watch_ddl' AND e.evtenabled <> 'D')
                       THEN 'on, a new column of a registered table without a policy is reported when it is created, and renamed or dropped columns keep the catalog in step'
                       ELSE 'off' END)
        || E'- Every erasure is recorded in `erasure.ledger`, a hash chain checked by `erasure.verify_ledger()`; it holds keys, outcomes and row counts, no personal value.\n';
    RETURN doc;
END
$function$;
COMMENT ON FUNCTION erasure.describe(text) IS
    'The deletion concept of a subject as Markdown, written from the erasure catalog: its tables with action, reason and retention, every column policy in words, the blockers with their messages, strict mode and the DDL watch. 42704 for a subject not registered.';

-- A certificate of one erasure, for the customer or an auditor: what the ledger row says, the
-- request it answered, the policies in words and whether the chain still vouches for it. Only
-- what the ledger and the catalog hold: keys (digests of personal keys), counts, words.
CREATE OR REPLACE FUNCTION erasure.certificate(request_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET intervalstyle = 'postgres'
AS $function$
DECLARE
    l erasure.ledger;
BEGIN
    PERFORM erasure.seal_ledger();
    SELECT * INTO l FROM erasure.ledger x WHERE x.request_id = certificate.request_id AND x.status <> 'released';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no erasure with request_id % in the ledger', certificate.request_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'The request_id is the one the erasure''s report and erasure.requests show (ledger_request_id).';
    END IF;
    RETURN jsonb_build_object(
        'certificate', 'pg_erasure erasure certificate',
        'generated_at', now(),
        'database', current_database(),
        'subject', l.subject,
        'key', l.key,
        'request_id', l.request_id,
        'reference', l.reference,
        'received_at', q.received_at,
        'due_at', q.due_at,
        'executed_at', l.executed_at,
        'on_time', CASE WHEN q.due_at IS NOT NULL THEN l.executed_at <= q.due_at END,
        'outcome', l.status,
        'mode', l.mode,
        'identity_verified_at', q.verified_at,
        'approved_by', q.approved_by,
        'approved_at', q.approved_at,
        'deadline_extended', q.extended_at IS NOT NULL,
        'requested_by', l.requested_by,
        'executed_by', l.executed_by,
        -- What erasure.verify() finds now (NULL for a personal key: the ledger holds its
        -- digest, and only the caller knows the key to verify it with).
        'verified', CASE WHEN EXISTS (SELECT FROM erasure.subjects s WHERE s.subject = l.subject AND NOT s.personal_key)
                         THEN NOT EXISTS (SELECT FROM erasure.verify(l.subject, l.key)) END,
        'tables', (SELECT jsonb_agg(t.entry
                          || CASE WHEN t.entry ->> 'action' IN ('masked', 'retained') AND policies.words IS NOT NULL
                                  THEN jsonb_build_object(CASE t.entry ->> 'action' WHEN 'masked' THEN 'columns' ELSE 'columns_at_release' END,
                                                          policies.words)
                                  ELSE '{}' END
                          || CASE WHEN r.retain_for IS NOT NULL
                                  THEN jsonb_build_object('retained_for', format('%s from %s', r.retain_for, r.retain_from))
                                  ELSE '{}' END
                          ORDER BY t.n)
                     FROM jsonb_array_elements(l.tables) WITH ORDINALITY AS t(entry, n)
                     LEFT JOIN erasure.tables r ON r.subject = l.subject AND r.tbl::text = t.entry ->> 'table'
                     LEFT JOIN LATERAL (
                          SELECT jsonb_object_agg(p.col, erasure.strategy_in_words(p.strategy, p.params)) AS words
                            FROM erasure.column_policies p WHERE p.tbl::text = t.entry ->> 'table') AS policies ON true),
        'policies_as_of', 'the column policies are those registered when this certificate was generated',
        'releases', (SELECT jsonb_agg(jsonb_build_object('request_id', x.request_id, 'executed_at', x.executed_at, 'tables', x.tables)
                                      ORDER BY x.request_id)
                       FROM erasure.ledger x
                      WHERE x.subject = l.subject AND x.key = l.key AND x.status = 'released'),
        'ledger_hash', seal.hash,
        -- What vouches for the row: its seal's hash, and every later seal linking back to it.
        'chain_intact', seal.hash IS NOT NULL
                        AND NOT EXISTS (SELECT FROM erasure.verify_ledger() v
                                          LEFT JOIN erasure.ledger_seals s ON s.request_id = v.request_id
                                         WHERE s.seal >= seal.seal))
      FROM (SELECT NULL) AS one
      LEFT JOIN erasure.request_queue q ON q.ledger_request_id = l.request_id
      LEFT JOIN erasure.ledger_seals seal ON seal.request_id = l.request_id;
END
$function$;
COMMENT ON FUNCTION erasure.certificate(bigint) IS
    'A jsonb certificate of the erasure with this ledger request_id: subject, key (its digest for personal keys), when the request was received, due and executed, the outcome, per table the action and row count with each column''s policy in words, retention, later releases, the request''s identity verification, approval and extension, the row''s ledger hash, whether the hash chain from it to the latest row is intact (chain_intact) and whether erasure.verify() found the subject as the ledger says when the certificate was made (verified). P0002 when the ledger has no such erasure.';

CREATE OR REPLACE FUNCTION erasure.suggest_policies(subject text)
RETURNS TABLE(statement text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT statement FROM (
    -- Unregistered tables first: their columns then show up in the next check().
    SELECT 1 AS step, c.tbl::text AS tbl, NULL::name AS col, c.hint AS statement
      FROM erasure.check(subject) c WHERE c.problem LIKE 'not registered%' AND c.severity <> 'acknowledged'
    UNION ALL
    SELECT 2, c.tbl::text, c.col, erasure.suggested_policy(c.tbl, c.col)
      FROM erasure.check(subject) c
     WHERE c.severity = 'error' AND c.problem LIKE 'column has no masking policy%'
  ) suggestions
  ORDER BY step, tbl, col
$$;
COMMENT ON FUNCTION erasure.suggest_policies(text) IS
    'Ready-to-review register_table/set_policy calls for everything erasure.check() found uncovered, strategies chosen from column names and types (e-mail: placeholder when UNIQUE or NOT NULL; names: constant Xxxx; birth dates: year_only; state, country, postal code, gender: keep).';

-- The residual scan (written in Rust: it runs the plan's statements). Its column col is text:
-- the column name as the scan found it.
CREATE OR REPLACE FUNCTION erasure.residual_scan(id anyelement, subject text DEFAULT 'customer')
RETURNS TABLE(tbl regclass, col text, row_key text, matched text, acknowledged boolean)
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'residual_scan_wrapper';
COMMENT ON FUNCTION erasure.residual_scan(anyelement, text) IS
    'Where the subject''s identifying values (its masked text columns: name, e-mail, phone, CPF...) appear, case-insensitively, in text or jsonb the erasure leaves as it is (kept or unreviewed columns, retained tables) among the subject''s rows: table, column, row key, and which identifier matched, never the value; acknowledged when the subject''s owner accepted values in that column (erasure.acknowledge).';

CREATE OR REPLACE FUNCTION erasure.residual_scan(id text, subject text DEFAULT 'customer')
RETURNS TABLE(tbl regclass, col text, row_key text, matched text, acknowledged boolean)
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'residual_scan_wrapper';
COMMENT ON FUNCTION erasure.residual_scan(text, text) IS
    'erasure.residual_scan(anyelement, text), key given as text.';

-- The views and materialized views whose query reads a table, directly or through other views:
-- what check() warns about and what the cleanup after erasures refreshes.
CREATE OR REPLACE FUNCTION erasure.relations_reading(tbl regclass)
RETURNS TABLE(rel regclass, relkind "char")
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE readers(oid) AS (
        SELECT rw.ev_class FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid
         WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
           AND d.refobjid = $1 AND rw.ev_class <> $1
        UNION
        SELECT rw.ev_class FROM readers r
          JOIN pg_class v ON v.oid = r.oid AND v.relkind = 'v'
          JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = r.oid
          JOIN pg_rewrite rw ON rw.oid = d.objid AND rw.ev_class <> r.oid)
    SELECT c.oid::regclass, c.relkind FROM readers r JOIN pg_class c ON c.oid = r.oid
$$;
COMMENT ON FUNCTION erasure.relations_reading(regclass) IS
    'The views and materialized views whose query reads tbl, directly or through other views.';

-- What is left to do after erasures, the one list of it: VACUUM removes the old row versions
-- that still hold erased values on disk; ANALYZE replaces planner statistics (pg_stats, which
-- anyone with SELECT on the table reads) that may show erased values as most common values or
-- histogram bounds; REFRESH replaces a materialized view's copy of the erased rows.
CREATE OR REPLACE FUNCTION erasure.pending_vacuum(subject text DEFAULT NULL)
RETURNS TABLE(tbl regclass, step text, erasures bigint, statement text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    WITH erased AS (
        SELECT to_regclass(t ->> 'table') AS tbl, l.executed_at
          FROM erasure.ledger l CROSS JOIN LATERAL jsonb_array_elements(l.tables) AS t
         WHERE t ->> 'action' IN ('masked', 'deleted') AND (t ->> 'rows')::bigint > 0
           AND ($1 IS NULL OR l.subject = $1))
    SELECT e.tbl, 'vacuum', count(*), format('VACUUM %s;', e.tbl)
      FROM erased e JOIN pg_stat_all_tables s ON s.relid = e.tbl
     WHERE e.executed_at > coalesce(greatest(s.last_vacuum, s.last_autovacuum), '-infinity')
     GROUP BY e.tbl
    UNION ALL
    SELECT e.tbl, 'analyze', count(*), format('ANALYZE %s;  -- or SELECT * FROM erasure.cleanup();', e.tbl)
      FROM erased e JOIN pg_stat_all_tables s ON s.relid = e.tbl
     WHERE e.executed_at > coalesce(greatest(s.last_analyze, s.last_autoanalyze), '-infinity')
     GROUP BY e.tbl
    UNION ALL
    SELECT r.rel, 'refresh', count(*), 'SELECT * FROM erasure.cleanup();'
      FROM erased e CROSS JOIN LATERAL erasure.relations_reading(e.tbl) r
      LEFT JOIN erasure.refreshed f ON f.matview = r.rel
     WHERE r.relkind = 'm' AND e.executed_at > coalesce(f.refreshed_at, '-infinity')
     GROUP BY r.rel
     ORDER BY 2 DESC, 1
$$;
COMMENT ON FUNCTION erasure.pending_vacuum(text) IS
    'What is left to do after erasures (of subject, or of every subject when NULL), per relation, with the number of erasures since it was last done and the statement to run: vacuum (old row versions still hold erased values), analyze (planner statistics in pg_stats may show them), refresh (a materialized view over erased rows keeps them; erasure.cleanup() refreshes it).';

CREATE OR REPLACE FUNCTION erasure.cleanup(subject text DEFAULT NULL)
RETURNS TABLE(rel regclass, step text)
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'cleanup_wrapper';
COMMENT ON FUNCTION erasure.cleanup(text) IS
    'Runs the analyze and refresh steps erasure.pending_vacuum(subject) lists, each as the relation''s owner: ANALYZE of the tables erasures changed, REFRESH of the materialized views over them. VACUUM cannot run inside a function: run the vacuum steps yourself.';

-- The old name of the column an ALTER TABLE … RENAME COLUMN renamed (written in Rust: it reads the
-- statement PostgreSQL collected, src/catalog/renames.rs); NULL for any other command.
CREATE OR REPLACE FUNCTION erasure.renamed_column(command pg_ddl_command) RETURNS text
LANGUAGE c STABLE STRICT SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'renamed_column_wrapper';
COMMENT ON FUNCTION erasure.renamed_column(pg_ddl_command) IS
    'For the DDL watch: the old name of the column a RENAME COLUMN command (a pg_ddl_command of pg_event_trigger_ddl_commands()) renamed, NULL for other commands.';

-- The DDL watch: warns when a migration adds what the erasure catalog does not cover, and keeps
-- the catalog in step when registered tables or columns are renamed or dropped. It never makes DDL fail and
-- says nothing about tables that have nothing to do with a registered one. Both run as the
-- extension's owner (SECURITY DEFINER): whoever runs the DDL may not be allowed to read or write
-- the catalog, and they only act on the objects PostgreSQL reports as created or dropped.
CREATE OR REPLACE FUNCTION erasure.watch_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    changed record;
    finding record;
    renamed record;
    renamed_in regclass[];
    followed integer;
    total integer;
BEGIN
    -- A renamed column keeps its catalog entries, which name it: they follow it from the old name
    -- to the new one, in the table and in the inheritance children (partitions) the rename
    -- reached, which are all of them (PostgreSQL refuses to rename a column in a parent only).
    FOR renamed IN
        SELECT c.objid::regclass AS tbl, old_name::name, a.attname AS new_name
          FROM pg_event_trigger_ddl_commands() c
          CROSS JOIN LATERAL erasure.renamed_column(c.command) old_name
          JOIN pg_attribute a ON a.attrelid = c.objid AND a.attnum = c.objsubid
         WHERE c.object_type = 'table column' AND old_name IS NOT NULL
    LOOP
        WITH RECURSIVE reached(tbl) AS (
            SELECT renamed.tbl::oid
            UNION
            SELECT i.inhrelid FROM pg_inherits i JOIN reached r ON i.inhparent = r.tbl)
        SELECT array_agg(tbl::regclass) INTO renamed_in FROM reached;
        UPDATE erasure.column_policies SET col = renamed.new_name
         WHERE tbl = ANY (renamed_in) AND col = renamed.old_name;
        GET DIAGNOSTICS total = ROW_COUNT;
        UPDATE erasure.subjects SET key_column = renamed.new_name
         WHERE tbl = ANY (renamed_in) AND key_column = renamed.old_name;
        GET DIAGNOSTICS followed = ROW_COUNT;
        total := total + followed;
        UPDATE erasure.subjects SET summary_columns = array_replace(summary_columns, renamed.old_name, renamed.new_name)
         WHERE tbl = ANY (renamed_in) AND renamed.old_name = ANY (summary_columns);
        GET DIAGNOSTICS followed = ROW_COUNT;
        total := total + followed;
        UPDATE erasure.tables
           SET via = array_replace(via, renamed.old_name, renamed.new_name),
               retain_from = CASE WHEN retain_from = renamed.old_name THEN renamed.new_name ELSE retain_from END
         WHERE tbl = ANY (renamed_in) AND (renamed.old_name = ANY (via) OR retain_from = renamed.old_name);
        GET DIAGNOSTICS followed = ROW_COUNT;
        total := total + followed;
        UPDATE erasure.tables
           SET parent_columns = array_replace(parent_columns, renamed.old_name, renamed.new_name),
               retain_from = CASE WHEN retain_from = 'parent.' || renamed.old_name THEN 'parent.' || renamed.new_name
                                  ELSE retain_from END
         WHERE parent = ANY (renamed_in)
           AND (renamed.old_name = ANY (parent_columns) OR retain_from = 'parent.' || renamed.old_name);
        GET DIAGNOSTICS followed = ROW_COUNT;
        IF total + followed > 0 THEN
            RAISE NOTICE 'pg_erasure: erasure catalog entries of %.% now name it %',
                renamed.tbl, quote_ident(renamed.old_name), quote_ident(renamed.new_name);
        END IF;
    END LOOP;
    FOR changed IN
        SELECT DISTINCT c.objid FROM pg_event_trigger_ddl_commands() c
         WHERE c.object_type = 'table' AND c.command_tag IN ('CREATE TABLE', 'ALTER TABLE')
    LOOP
        -- A new partition of a registered table (next month's payments) is erased with it.
        FOR finding IN
            SELECT DISTINCT r.tbl FROM pg_partition_ancestors(changed.objid) a
              JOIN erasure.registered_tables() r ON r.tbl = a.relid AND a.relid <> changed.objid
        LOOP
            RAISE NOTICE 'pg_erasure: % is a partition of registered table %: erased with it, nothing to register',
                changed.objid::regclass, finding.tbl;
        END LOOP;
        CONTINUE WHEN NOT EXISTS (SELECT FROM erasure.registered_tables() r WHERE r.tbl = changed.objid)
                  AND NOT EXISTS (SELECT FROM pg_constraint f JOIN erasure.registered_tables() r ON r.tbl = f.confrelid
                                   WHERE f.conrelid = changed.objid AND f.contype = 'f');
        FOR finding IN
            SELECT c.tbl, c.col, c.problem, c.hint FROM erasure.check() c
             WHERE c.tbl = changed.objid AND c.severity = 'error'
             ORDER BY c.col NULLS FIRST, c.problem
        LOOP
            RAISE WARNING 'pg_erasure: %: %', finding.tbl || COALESCE('.' || finding.col, ''), finding.problem
                USING HINT = finding.hint;
        END LOOP;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pg_erasure: the DDL watch could not check this change: %', SQLERRM;
END
$function$;
COMMENT ON FUNCTION erasure.watch_ddl() IS
    'Event trigger function: after ALTER TABLE … RENAME COLUMN, renames the column in the erasure catalog (policy, key, summary, via, retain_from); after CREATE TABLE or ALTER TABLE, warns about what erasure.check() finds wrong with a registered table or with a table referencing one.';

CREATE OR REPLACE FUNCTION erasure.watch_drops() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    dropped record;
    removed integer;
BEGIN
    FOR dropped IN
        SELECT d.objid, d.objsubid, d.object_type, d.object_identity, d.address_names
          FROM pg_event_trigger_dropped_objects() d
         WHERE d.object_type IN ('table', 'table column')
    LOOP
        IF dropped.object_type = 'table' THEN
            DELETE FROM erasure.column_policies p WHERE p.tbl = dropped.objid;
            DELETE FROM erasure.acknowledgements a WHERE a.tbl = dropped.objid;
            DELETE FROM erasure.tables t WHERE t.tbl = dropped.objid;
            GET DIAGNOSTICS removed = ROW_COUNT;
            DELETE FROM erasure.subjects s WHERE s.tbl = dropped.objid;
            IF FOUND OR removed > 0 THEN
                RAISE WARNING 'pg_erasure: dropped table % removed from the erasure catalog', dropped.object_identity
                    USING HINT = 'Tables registered under it must be registered again under another parent.';
            END IF;
        ELSE
            DELETE FROM erasure.column_policies p
             WHERE p.tbl = dropped.objid AND p.col = dropped.address_names[3];
            IF FOUND THEN
                RAISE WARNING 'pg_erasure: masking policy of dropped column % removed', dropped.object_identity;
            END IF;
        END IF;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pg_erasure: the DDL watch could not update the erasure catalog: %', SQLERRM;
END
$function$;
COMMENT ON FUNCTION erasure.watch_drops() IS
    'Event trigger function: when a registered table or a column with a masking policy is dropped, removes its catalog rows and says so.';


-- Acknowledged findings (src/catalog/acknowledge.rs writes them). An acknowledgement holds while
-- its object is as it was when acknowledged: the fingerprint is the one rule for "as it was".
CREATE OR REPLACE FUNCTION erasure.fingerprint(finding text, tbl regclass, object name) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT md5(CASE finding
        WHEN 'trigger' THEN (SELECT pg_get_triggerdef(t.oid) || ' ' || p.prosrc
                               FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                              WHERE t.tgrelid = tbl AND t.tgname = object AND NOT t.tgisinternal)
        WHEN 'reference' THEN (SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
                                WHERE c.conrelid = tbl AND c.conname = object AND c.contype = 'f')
        WHEN 'residual' THEN (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                               WHERE a.attrelid = tbl AND a.attname = object AND NOT a.attisdropped)
    END)
$$;
COMMENT ON FUNCTION erasure.fingerprint(text, regclass, name) IS
    'What an acknowledgement of the finding about object on tbl depends on, as an md5: the trigger''s definition and its function''s source (trigger), the foreign key''s definition (reference), the column''s type (residual); NULL when the object does not exist.';

CREATE OR REPLACE FUNCTION erasure.acknowledged(subject text, finding text, tbl regclass, object name) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('acknowledged by %s on %s: %s', a.acknowledged_by, to_char(a.acknowledged_at, 'YYYY-MM-DD'), a.reason)
      FROM erasure.acknowledgements a
     WHERE a.subject = $1 AND a.finding = $2 AND a.tbl = $3 AND a.object = $4
       AND a.fingerprint = erasure.fingerprint(a.finding, a.tbl, a.object)
$$;
COMMENT ON FUNCTION erasure.acknowledged(text, text, regclass, name) IS
    'Who acknowledged the finding, when and why, while its object is unchanged since (erasure.fingerprint); NULL when it is not acknowledged or the acknowledgement lapsed. For erasure.check() and the residual scan.';

CREATE OR REPLACE FUNCTION erasure.acknowledge(subject text, finding text, tbl regclass, object name, reason text)
RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'acknowledge_wrapper';
COMMENT ON FUNCTION erasure.acknowledge(text, text, regclass, name, text) IS
    'Marks a finding as reviewed, with who, when and why: a trigger that copies nothing (finding trigger, object the trigger), a table that only points at the subject''s rows (reference, its foreign key), a column keeping identifying values by law (residual, the column). check() and the preview then show it as acknowledged, until the object changes.';

CREATE OR REPLACE FUNCTION erasure.unacknowledge(subject text, finding text, tbl regclass, object name) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'unacknowledge_wrapper';
COMMENT ON FUNCTION erasure.unacknowledge(text, text, regclass, name) IS
    'Takes an acknowledgement back: the finding is reported again. Taking back one that does not exist does nothing.';

-- 6. The view erasure.requests ---------------------------------------------------------------
CREATE VIEW erasure.requests AS
SELECT q.id, q.subject, q.key, q.reference,
       CASE WHEN q.state <> 'approved' THEN q.state
            WHEN pg_catalog.now() < q.wait_until THEN 'waiting'
            WHEN q.last_sqlstate IS NOT NULL THEN 'failing'
            WHEN q.blockers IS NOT NULL THEN 'blocked'
            ELSE 'approved'
       END AS state,
       q.received_at, q.due_at,
       CASE WHEN q.open
            THEN CAST(pg_catalog.ceil(pg_catalog.date_part('epoch', q.due_at - pg_catalog.now()) / 86400) AS integer)
       END AS days_left,
       q.open AND pg_catalog.now() > q.due_at AS overdue,
       -- GDPR art. 18: from approval until the request ends, the subject's data is restricted.
       q.state = 'approved' AS restricted,
       q.blockers, q.held_until, q.attempts, q.checked_at, q.last_sqlstate, q.last_error,
       q.received_by, q.verified_at, q.verified_by, q.approved_at, q.approved_by, q.wait_until,
       q.extended_at, q.extended_by, q.extension_reason, q.ended_at, q.ended_by, q.ground,
       q.ledger_request_id, l.executed_at
  FROM erasure.request_queue q
  LEFT JOIN erasure.ledger l ON l.request_id = q.ledger_request_id;
COMMENT ON VIEW erasure.requests IS
    'Each erasure request with its state: received, verified, waiting (approved, in its cooling-off window), approved (to be erased by the next erasure.process_requests()), blocked (blockers, and held_until when they say until when), failing (the last run failed: last_sqlstate, last_error), executed, rejected (ground), cancelled or not_found; its due date, the days left, whether it is overdue and whether the subject is restricted meanwhile.';

-- 7. Grants ----------------------------------------------------------------------------------
-- What 0.1.0 granted on erasure.* that 0.2.0 does not (erasure_executor's went in section 3;
-- those on dropped functions went with them, and 0.1.0's grant to operators of writing the
-- request queue with its table, rebuilt in section 4): USAGE on the schema to the two roles
-- (0.2.0 grants it to PUBLIC).
REVOKE ALL ON SCHEMA erasure FROM erasure_operator, erasure_admin;

-- Then 0.2.0's grants, as sql/security.sql makes them.
-- Who may do what (the README's "Security" section; src/security.rs does the rest).
--
-- erasure_operator  runs erasures and previews and reads the ledger; needs no right on the
--                   shop's tables. Erasures run with the rights of each subject's owner.
-- erasure_admin     also registers subjects, tables, policies and blockers (of tables it owns),
--                   and decides on erasure requests (approves, rejects, extends them); the
--                   operator records them, confirms the requester's identity and cancels.
--
-- No role holds a privilege on the erasure.* tables beyond SELECT: the catalog, the ledger and
-- the request queue are written only by the extension's functions, as the extension's owner.
--
-- Roles belong to the cluster, not to a database: they are created if missing and outlive
-- DROP EXTENSION. A role of the same name that already exists is accepted only if it cannot
-- log in and is no superuser.

DO $roles$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['erasure_operator', 'erasure_admin'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = role_name) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', role_name);
        ELSIF EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = role_name AND (r.rolcanlogin OR r.rolsuper)) THEN
            RAISE EXCEPTION 'role "%" already exists and can log in or is a superuser', role_name
                USING ERRCODE = 'duplicate_object',
                      HINT = pg_catalog.format('pg_erasure needs it as a NOLOGIN group role: ALTER ROLE %I NOLOGIN NOSUPERUSER.', role_name);
        END IF;
    END LOOP;
    IF NOT pg_catalog.pg_has_role('erasure_admin', 'erasure_operator', 'MEMBER') THEN
        GRANT erasure_operator TO erasure_admin;
    END IF;
END
$roles$;

-- Functions are executable by PUBLIC unless revoked: start from nothing. Every role may look
-- names up in the schema: subject owners' statements call erasure.hmac_sha256.
REVOKE ALL ON ALL ROUTINES IN SCHEMA erasure FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA erasure FROM PUBLIC;
GRANT USAGE ON SCHEMA erasure TO PUBLIC;

-- The catalog, the ledger and the requests hold no personal data: both roles may read them.
-- The hmac key is readable by the extension's owner only (no GRANT on erasure.hmac_key).
GRANT SELECT ON erasure.subjects, erasure.tables, erasure.column_policies, erasure.blockers, erasure.batch_rules,
                erasure.acknowledgements,
                erasure.ledger, erasure.ledger_seals, erasure.request_queue, erasure.requests
   TO erasure_operator;

GRANT EXECUTE ON FUNCTION
    erasure.erasure_blockers(anyelement, text), erasure.erasure_blockers(text, text),
    erasure.erasure_preview(anyelement, text), erasure.erasure_preview(text, text),
    erasure.anonymize(text, anyelement, text, text), erasure.anonymize(text, text, text, text),
    erasure.anonymize_customer(anyelement), erasure.anonymize_customer(text),
    erasure.delete_customer(anyelement), erasure.delete_customer(text),
    erasure.anonymize_many(text, anyarray, text), erasure.anonymize_customers(anyarray),
    erasure.is_erased(text, anyelement), erasure.is_erased(text, text), erasure.canonical_key(text, text),
    erasure.ledger_since(bigint), erasure.ledger_export(bigint), erasure.release_expired(text),
    erasure.verify_ledger(text), erasure.ledger_anchor(), erasure.ledger_hash(erasure.ledger, text),
    erasure.seal_ledger(),
    erasure.describe(text), erasure.strategy_in_words(text, jsonb), erasure.is_masked(text, regclass, text),
    erasure.certificate(bigint),
    erasure.residual_scan(anyelement, text), erasure.residual_scan(text, text),
    erasure.request(text, text, text), erasure.request(text, anyelement, text),
    erasure.verify_request(bigint), erasure.cancel_request(bigint),
    erasure.process_requests(text), erasure.purge_requests(),
    erasure.is_restricted(text, text), erasure.is_restricted(text, anyelement),
    erasure.verify(text, anyelement), erasure.verify(text, text),
    erasure.cleanup(text)
   TO erasure_operator;
-- Deciding on a request is not the help desk's: approving it, rejecting it on a legal ground,
-- extending its deadline.
GRANT EXECUTE ON FUNCTION
    erasure.approve_request(bigint), erasure.reject_request(bigint, text), erasure.extend_request(bigint, text, interval)
   TO erasure_admin;
GRANT EXECUTE ON FUNCTION erasure.batch_candidates(text, text, text, text[]) TO erasure_operator;
GRANT EXECUTE ON PROCEDURE erasure.erase_batches(text, text, text, integer, text, boolean, text[]) TO erasure_operator;

GRANT EXECUTE ON FUNCTION
    erasure.register_subject(text, regclass, name, name[], boolean),
    erasure.register_table(text, regclass, text, name[], regclass, text, text, interval, name, name[]),
    erasure.set_policy(regclass, name, text, jsonb), erasure.drop_policy(regclass, name),
    erasure.drop_table(text, regclass, boolean), erasure.drop_blocker(text, text), erasure.drop_subject(text, boolean),
    erasure.register_blocker(text, text, text, text), erasure.replay(jsonb),
    erasure.register_batch_rule(text, text, text, regtype, text), erasure.drop_batch_rule(text, text),
    erasure.acknowledge(text, text, regclass, name, text), erasure.unacknowledge(text, text, regclass, name),
    erasure.fingerprint(text, regclass, name), erasure.acknowledged(text, text, regclass, name),
    erasure.check(text), erasure.suggest_policies(text), erasure.registered_tables(text),
    erasure.personal_name_pattern(), erasure.name_looks_personal(regclass, name), erasure.suggested_policy(regclass, name),
    erasure.missing_privilege(oid, regclass, text), erasure.leaves(regclass),
    erasure.values_look_personal(regclass, name), erasure.check_policy(regclass, name),
    erasure.pending_vacuum(text), erasure.relations_reading(regclass), erasure.sharding_problems(text),
    erasure.strategy_fits(regclass, name, text, jsonb)
   TO erasure_admin;

-- A pure function of its arguments: without the key it tells nothing. Subject owners'
-- erasure statements call it with the key as a parameter.
GRANT EXECUTE ON FUNCTION erasure.hmac_sha256(text, text) TO PUBLIC;
-- erasure.set_hmac_key(text) is granted to nobody: superusers only.
-- Whether a key is set (erasure.check() asks), without the key itself.
GRANT SELECT (set_at) ON erasure.hmac_key TO erasure_operator;
