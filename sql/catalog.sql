-- pg_erasure catalog: what a migration registers, in plain tables DBAs can SELECT.
--
-- Tables are referenced by regclass, so renaming a registered table keeps its registration.
-- Write these tables only through the registration functions (erasure.register_*,
-- erasure.set_policy, erasure.drop_policy): they validate every entry against the schema and
-- tell sessions to rebuild their cached erasure plans. Every table is marked with
-- pg_extension_config_dump so pg_dump and pg_restore keep the registrations.

CREATE TABLE erasure.subjects (
    subject         text PRIMARY KEY CHECK (subject <> ''),
    tbl             regclass NOT NULL UNIQUE,
    key_column      name NOT NULL,
    summary_columns name[] NOT NULL DEFAULT '{}',
    personal_key    boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE erasure.subjects IS
    'Data subjects (e.g. customer): the table holding one row per subject and its key column.';
COMMENT ON COLUMN erasure.subjects.personal_key IS
    'The key is itself personal (an e-mail address): the ledger, its export, replay documents and notifications hold a keyed digest of it (hmac:…) instead.';

CREATE TABLE erasure.tables (
    subject        text NOT NULL REFERENCES erasure.subjects ON DELETE CASCADE,
    tbl            regclass NOT NULL,
    action         text NOT NULL CHECK (action IN ('mask', 'delete', 'retain')),
    parent         regclass NOT NULL,
    via            name[] NOT NULL,
    parent_columns name[] NOT NULL,
    filter         text,
    reason         text,
    retain_for     interval,
    retain_from    name,
    referenced     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (subject, tbl),
    CHECK ((retain_for IS NULL) = (retain_from IS NULL)),
    CHECK (retain_for IS NULL OR action = 'retain'),
    CHECK (cardinality(via) = cardinality(parent_columns)),
    CHECK (cardinality(via) > 0 OR filter IS NOT NULL)
);
COMMENT ON TABLE erasure.tables IS
    'Tables holding a subject''s rows: found through via (columns of tbl referencing parent_columns of parent) and/or filter; action mask, delete or retain.';
COMMENT ON COLUMN erasure.tables.referenced IS
    'The parent''s columns (parent_columns) point to this table''s (via): rows the subject refers to (customer.address_id → address), erased only while no other row refers to them.';
COMMENT ON COLUMN erasure.tables.via IS
    'Columns of tbl that reference parent_columns of parent; empty when filter alone selects the rows.';
COMMENT ON COLUMN erasure.tables.filter IS
    'SQL condition on tbl, may use $1 (the subject key).';
COMMENT ON COLUMN erasure.tables.retain_for IS
    'How long retained rows must be kept, counted from the date in column retain_from; erasure.release_expired() masks them after that.';
COMMENT ON COLUMN erasure.tables.reason IS
    'Why a retained table is kept (e.g. bookkeeping law); shown in the erasure report.';

CREATE TABLE erasure.column_policies (
    tbl      regclass NOT NULL,
    col      name NOT NULL,
    strategy text NOT NULL CHECK (strategy IN ('keep', 'null', 'blank', 'constant', 'year_only',
                                               'placeholder', 'hmac', 'jsonb_remove',
                                               'expression', 'now', 'restricted_at')),
    params   jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tbl, col)
);
COMMENT ON TABLE erasure.column_policies IS
    'How each column of a registered table is masked: strategy and its params.';

CREATE TABLE erasure.blockers (
    subject text NOT NULL REFERENCES erasure.subjects ON DELETE CASCADE,
    name    text NOT NULL,
    query   text NOT NULL,
    message text,
    PRIMARY KEY (subject, name)
);
COMMENT ON TABLE erasure.blockers IS
    'Business rules that forbid erasure: each row returned by query (taking the subject key as $1) is one blocking item.';

SELECT pg_catalog.pg_extension_config_dump('erasure.subjects', '');
SELECT pg_catalog.pg_extension_config_dump('erasure.tables', '');
SELECT pg_catalog.pg_extension_config_dump('erasure.column_policies', '');
SELECT pg_catalog.pg_extension_config_dump('erasure.blockers', '');

-- The secret of the hmac strategy, set by erasure.set_hmac_key(). Only the extension's owner
-- (a superuser) can read it: security.sql grants nothing on it. Not a setting, because a
-- setting of a library not loaded in a session is a placeholder anyone can read there. Not
-- dumped by pg_dump either: keep the key with your other secrets and set it again after a
-- restore.
CREATE TABLE erasure.hmac_key (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    key       text NOT NULL,
    set_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE erasure.hmac_key IS
    'The secret key of the hmac masking strategy (one row); readable by the extension''s owner only.';

-- When erasure.cleanup() last refreshed each materialized view over erased rows, so that
-- erasure.pending_vacuum() lists only those erasures have changed since.
CREATE TABLE erasure.refreshed (
    matview      regclass PRIMARY KEY,
    refreshed_at timestamptz NOT NULL
);
COMMENT ON TABLE erasure.refreshed IS
    'When erasure.cleanup() last refreshed each materialized view over rows erasures changed.';

-- The ledger: one row per erasure, proof that it happened, and nothing personal. The key is the
-- subject's identifier (needed to recognise a repeated request); no summary value, no old
-- value, no blocker detail is ever written here. It doubles as a durable outbox for systems
-- that must be told (erasure.ledger_since).
CREATE TABLE erasure.ledger (
    request_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject      text NOT NULL,
    key          text NOT NULL,
    status       text NOT NULL CHECK (status IN ('anonymized', 'deleted', 'released')),
    mode         text NOT NULL CHECK (mode IN ('anonymize', 'delete', 'auto', 'release')),
    requested_by name NOT NULL,
    executed_by  name NOT NULL,
    executed_at  timestamptz NOT NULL,
    tables       jsonb NOT NULL,
    reference    text
);
-- A subject is erased once: a repeated request finds this row and changes nothing. Later
-- releases of its retained rows (status released) add rows of their own. Indexed by a digest
-- of the key, so a key of any length (a long text key) fits the index.
CREATE UNIQUE INDEX ledger_subject_key ON erasure.ledger (subject, pg_catalog.md5(key)) WHERE status <> 'released';
COMMENT ON TABLE erasure.ledger IS
    'One row per erasure: who asked (requested_by = session user), who ran it (executed_by = the role that called the erasure function), when, what happened per table, and the caller''s reference. No personal data.';
COMMENT ON COLUMN erasure.ledger.tables IS
    'Per table: {"table", "action", "rows"}; for a release also "through", the end of the retention periods it covered.';
COMMENT ON COLUMN erasure.ledger.reference IS
    'The caller''s reference for the request (a ticket number); keep personal data out of it.';

-- The hash chain over the ledger, one per database. Erasures only insert ledger rows, so that
-- erasures in different sessions never wait for each other; erasure.seal_ledger() then links the
-- committed rows not linked yet, in request_id order, each seal's hash covering its ledger row's
-- content and the previous seal's hash. A row changed, removed or inserted by hand once sealed
-- shows in erasure.verify_ledger(); the extension never updates or deletes either table.
CREATE TABLE erasure.ledger_seals (
    seal          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    bigint NOT NULL UNIQUE,
    -- A chain does not fork: two seals never follow the same one.
    previous_hash text NOT NULL UNIQUE,
    hash          text NOT NULL
);
COMMENT ON TABLE erasure.ledger_seals IS
    'The ledger''s hash chain: per ledger row, in the order erasure.seal_ledger() sealed them, the previous seal''s hash (64 zeros for the first) and the sha256 of the row''s content and that hash (erasure.ledger_hash).';

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

SELECT pg_catalog.pg_extension_config_dump('erasure.ledger', '');
SELECT pg_catalog.pg_extension_config_dump('erasure.ledger_request_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('erasure.ledger_seals', '');
SELECT pg_catalog.pg_extension_config_dump('erasure.ledger_seals_seal_seq', '');

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

-- Registered batch rules: the candidate queries of erasure.erase_batches(). The subject's owner
-- registers them (erasure.register_batch_rule); an operator runs them by name, with the owner's
-- rights, and never supplies SQL of its own. query is one SELECT returning one column of the
-- subject key's type; it takes $1, of type parameter, when parameter is not NULL.
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

-- Findings reviewed and accepted by the subject's owner (erasure.acknowledge): a trigger that
-- copies nothing, a table that only points at the subject's rows without being its data, a
-- column that keeps an identifying value by law. fingerprint is erasure.fingerprint() of the
-- object when it was acknowledged: once the object changes, the two differ and the finding is
-- reported again.
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
