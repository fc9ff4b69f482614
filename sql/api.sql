-- pg_erasure SQL API. The functions are written in Rust (src/); this file declares them by hand
-- so that their SQL types are exact (regclass, name, name[]) and each one pins search_path.
-- Catalog SQL (filters, expressions, blocker queries) runs under this search_path too, so it
-- must schema-qualify the tables it names.

-- Registration: what migrations call. Each call is idempotent (running a migration twice
-- changes nothing) and validates its input against the live schema before writing anything.

CREATE FUNCTION erasure.register_subject(
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

CREATE FUNCTION erasure.register_table(
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

CREATE FUNCTION erasure.set_policy(
    tbl regclass,
    col name,
    strategy text,
    params jsonb DEFAULT '{}'
) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'set_policy_wrapper';
COMMENT ON FUNCTION erasure.set_policy(regclass, name, text, jsonb) IS
    'Sets how a column of a registered table is masked: keep, null, blank, constant, year_only, placeholder, hmac, jsonb_remove, expression, now or restricted_at (NULL; while an erasure request waits, when its restriction began).';

CREATE FUNCTION erasure.drop_policy(tbl regclass, col name) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'drop_policy_wrapper';
COMMENT ON FUNCTION erasure.drop_policy(regclass, name) IS
    'Removes the masking policy of a column; the column is then reported as unreviewed.';

CREATE FUNCTION erasure.drop_table(subject text, tbl regclass, cascade boolean DEFAULT false) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'drop_table_wrapper';
COMMENT ON FUNCTION erasure.drop_table(text, regclass, boolean) IS
    'Removes a table from a subject; nothing when it is not registered. Refused (2BP01) while registered tables are found through it or it has masking policies no other subject uses, unless cascade, which drops those too. For the subject''s owner, who must own the table as well.';

CREATE FUNCTION erasure.drop_blocker(subject text, name text) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'drop_blocker_wrapper';
COMMENT ON FUNCTION erasure.drop_blocker(text, text) IS
    'Removes a blocker of a subject; nothing when there is none by that name. For the subject''s owner.';

CREATE FUNCTION erasure.drop_subject(subject text, cascade boolean DEFAULT false) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'drop_subject_wrapper';
COMMENT ON FUNCTION erasure.drop_subject(text, boolean) IS
    'Removes a subject; nothing when it is not registered. Refused (2BP01) while it has registered tables or blockers unless cascade, which drops them and the masking policies no other subject uses; refused (55000) while erasure requests of it are open. The ledger and the requests stay. For the owner of the subject''s table.';

CREATE FUNCTION erasure.register_blocker(
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

CREATE FUNCTION erasure.erasure_blockers(id anyelement, subject text DEFAULT 'customer')
RETURNS TABLE(blocker text, message text, details jsonb)
LANGUAGE c VOLATILE ROWS 10 SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'erasure_blockers_wrapper';
COMMENT ON FUNCTION erasure.erasure_blockers(anyelement, text) IS
    'Lists why a subject cannot be erased yet: one row per blocking item; no rows means it can be erased.';

CREATE FUNCTION erasure.erasure_blockers(id text, subject text DEFAULT 'customer')
RETURNS TABLE(blocker text, message text, details jsonb)
LANGUAGE c VOLATILE ROWS 10 SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'erasure_blockers_wrapper';
COMMENT ON FUNCTION erasure.erasure_blockers(text, text) IS
    'Lists why a subject cannot be erased yet (key given as text).';

CREATE FUNCTION erasure.anonymize(
    subject text,
    id anyelement,
    mode text DEFAULT 'anonymize',
    reference text DEFAULT NULL
) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'anonymize_wrapper';
COMMENT ON FUNCTION erasure.anonymize(text, anyelement, text, text) IS
    'Erases one subject in one transaction: locks its rows, refuses while blockers exist, then anonymizes (mask, delete the delete rows, keep retained ones), deletes everything (mode delete) or chooses (mode auto); records it in erasure.ledger with reference; returns a jsonb report. Erasing an erased subject changes nothing.';

CREATE FUNCTION erasure.anonymize(
    subject text,
    id text,
    mode text DEFAULT 'anonymize',
    reference text DEFAULT NULL
) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'anonymize_wrapper';
COMMENT ON FUNCTION erasure.anonymize(text, text, text, text) IS
    'Erases one subject (key given as text); see erasure.anonymize(text, anyelement, text, text).';

CREATE FUNCTION erasure.anonymize_customer(id anyelement) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'anonymize_customer_wrapper';
COMMENT ON FUNCTION erasure.anonymize_customer(anyelement) IS
    'erasure.anonymize(''customer'', id).';

CREATE FUNCTION erasure.anonymize_customer(id text) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'anonymize_customer_wrapper';
COMMENT ON FUNCTION erasure.anonymize_customer(text) IS
    'erasure.anonymize(''customer'', id), key given as text.';

CREATE FUNCTION erasure.delete_customer(id anyelement) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'delete_customer_wrapper';
COMMENT ON FUNCTION erasure.delete_customer(anyelement) IS
    'erasure.anonymize(''customer'', id, ''delete''): deletes the customer and every registered row; refused while retained rows exist.';

CREATE FUNCTION erasure.delete_customer(id text) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'delete_customer_wrapper';
COMMENT ON FUNCTION erasure.delete_customer(text) IS
    'erasure.anonymize(''customer'', id, ''delete''), key given as text.';

CREATE FUNCTION erasure.anonymize_many(subject text, ids anyarray, mode text DEFAULT 'anonymize')
RETURNS TABLE(key text, status text, report jsonb)
LANGUAGE c VOLATILE ROWS 1000 SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'anonymize_many_wrapper';
COMMENT ON FUNCTION erasure.anonymize_many(text, anyarray, text) IS
    'Erases many subjects in one transaction, one statement per table for the whole batch; subjects that cannot go are skipped with their reason (blocked, already_erased, not_found, refused). One line per distinct key.';

CREATE FUNCTION erasure.anonymize_customers(ids anyarray)
RETURNS TABLE(key text, status text, report jsonb)
LANGUAGE sql VOLATILE ROWS 1000 SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM erasure.anonymize_many('customer', ids) $$;
COMMENT ON FUNCTION erasure.anonymize_customers(anyarray) IS
    'erasure.anonymize_many(''customer'', ids).';

CREATE FUNCTION erasure.erasure_preview(id anyelement, subject text DEFAULT 'customer') RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'erasure_preview_wrapper';
COMMENT ON FUNCTION erasure.erasure_preview(anyelement, text) IS
    'What the confirmation screen shows, changing nothing and taking no write locks: summary, decision (anonymize, delete, blocked, already_erased), blockers, rows per table, unreviewed columns.';

CREATE FUNCTION erasure.erasure_preview(id text, subject text DEFAULT 'customer') RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'erasure_preview_wrapper';
COMMENT ON FUNCTION erasure.erasure_preview(text, text) IS
    'erasure.erasure_preview(anyelement, text), key given as text.';

CREATE FUNCTION erasure.ledger_key(subject text, key text) RETURNS text
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ledger_key_wrapper';
COMMENT ON FUNCTION erasure.ledger_key(text, text) IS
    'The key as the ledger records it: the key itself, or for a subject registered with personal_key its keyed digest (hmac:…).';

CREATE FUNCTION erasure.canonical_key(subject text, id text) RETURNS text
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'canonical_key_wrapper';
COMMENT ON FUNCTION erasure.canonical_key(text, text) IS
    'The subject''s key as its row stores it (7 for a numeric key given as 7.0): the text the ledger and the requests record; 22P02 when the key type does not accept id, P0002 when no row has it.';

CREATE FUNCTION erasure.is_erased(subject text, id anyelement) RETURNS boolean
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'is_erased_wrapper';
COMMENT ON FUNCTION erasure.is_erased(text, anyelement) IS
    'Whether the ledger records an erasure of the subject (for applications that hide erased customers).';

CREATE FUNCTION erasure.is_erased(subject text, id text) RETURNS boolean
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'is_erased_wrapper';
COMMENT ON FUNCTION erasure.is_erased(text, text) IS
    'erasure.is_erased(text, anyelement), key given as text.';

-- Verification after the fact (src/execute/verify.rs), run as the subject's owner like the
-- erasure; findings name the table, column and strategy and count rows, never a value.
CREATE FUNCTION erasure.verify(subject text, id anyelement)
RETURNS TABLE(tbl regclass, col text, strategy text, problem text, rows bigint)
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'verify_wrapper';
COMMENT ON FUNCTION erasure.verify(text, anyelement) IS
    'Checks that an erased subject is still as its ledger row says: each masked column holds what its policy writes (the value itself, or its shape for hmac, {uuid} placeholders and now; expression and keep are not checked), no rows remain in tables it deleted, retained rows are all there. One line per problem (table, column, strategy, rows), none when all is well; never a value. P0002 when the ledger records no erasure of the subject.';

CREATE FUNCTION erasure.verify(subject text, id text)
RETURNS TABLE(tbl regclass, col text, strategy text, problem text, rows bigint)
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'verify_wrapper';
COMMENT ON FUNCTION erasure.verify(text, text) IS
    'erasure.verify(text, anyelement), key given as text.';

CREATE FUNCTION erasure.ledger_since(request_id bigint) RETURNS SETOF erasure.ledger
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM erasure.ledger l WHERE l.request_id > ledger_since.request_id ORDER BY l.request_id $$;
COMMENT ON FUNCTION erasure.ledger_since(bigint) IS
    'The ledger entries after request_id, in order: how a downstream connector catches up after being down.';

-- After a backup restore. The export holds what the ledger holds: subjects, keys, statuses and
-- per-table row counts, nothing personal; keep it outside the database, beside the backups.
CREATE FUNCTION erasure.ledger_export(since bigint DEFAULT 0) RETURNS jsonb
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
CREATE FUNCTION erasure.verify_ledger(anchor text DEFAULT NULL)
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

CREATE FUNCTION erasure.ledger_anchor() RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM erasure.seal_ledger();
    RETURN (SELECT s.hash FROM erasure.ledger_seals s ORDER BY s.seal DESC LIMIT 1);
END
$$;
COMMENT ON FUNCTION erasure.ledger_anchor() IS
    'Seals what is not sealed yet and returns the hash of the latest seal (NULL while the ledger is empty): it covers every ledger row sealed before it. Store it outside the database; erasure.verify_ledger(anchor) checks it later.';

CREATE FUNCTION erasure.replay(ledger jsonb)
RETURNS TABLE(request_id bigint, subject text, key text, status text)
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'replay_wrapper';
COMMENT ON FUNCTION erasure.replay(jsonb) IS
    'Re-applies, in request order and without checking blockers, every erasure of an erasure.ledger_export() document that this database''s ledger lacks (after restoring an older backup); one line per entry: anonymized, deleted, present, not_found or released. Running it again changes nothing.';

-- The hmac strategy. Generated statements pass the key (erasure.set_hmac_key) as a parameter,
-- so the function is IMMUTABLE: a pure function of its arguments, which Citus pushes down.
CREATE FUNCTION erasure.hmac_sha256(value text, key text) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hmac_sha256_wrapper';
COMMENT ON FUNCTION erasure.hmac_sha256(text, text) IS
    'Hex HMAC-SHA-256 of value under key (the hmac strategy calls it with the key set by erasure.set_hmac_key).';

CREATE FUNCTION erasure.set_hmac_key(key text) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'set_hmac_key_wrapper';
COMMENT ON FUNCTION erasure.set_hmac_key(text) IS
    'Sets the secret key of the hmac strategy (superusers only; at least 16 characters). It is kept in erasure.hmac_key, which only the extension''s owner can read.';

CREATE FUNCTION erasure.release_expired(subject text DEFAULT NULL)
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
CREATE FUNCTION erasure.request(subject text, id text, reference text DEFAULT NULL) RETURNS bigint
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

CREATE FUNCTION erasure.request(subject text, id anyelement, reference text DEFAULT NULL) RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.request(subject, CAST(id AS text), reference) $$;
COMMENT ON FUNCTION erasure.request(text, anyelement, text) IS
    'erasure.request(text, text, text) for a key of any type.';

CREATE FUNCTION erasure.setting_period(name text) RETURNS interval
LANGUAGE c STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'setting_period_wrapper';
COMMENT ON FUNCTION erasure.setting_period(text) IS
    'The period a setting of time gives, as an interval: cooling_off (erasure.cooling_off) or keep_requests (erasure.keep_requests).';

CREATE FUNCTION erasure.mark_restriction(subject text, id text, restricted boolean) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mark_restriction_wrapper';
COMMENT ON FUNCTION erasure.mark_restriction(text, text, boolean) IS
    'Sets the subject''s columns with policy restricted_at to now() (restricted) or NULL (lifted), as the subject''s owner; nothing when it has none. Called by the request functions only.';

-- The lifecycle's one definition: which transition leaves which state, what it needs and what
-- it records (who: session_user; when: now()). A refused transition raises and changes
-- nothing. Called only by the five functions after it, each granted to the role it belongs to
-- (sql/security.sql); granted to nobody itself.
CREATE FUNCTION erasure.move_request(request_id bigint, transition text, reason text DEFAULT NULL,
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

CREATE FUNCTION erasure.verify_request(request_id bigint) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.move_request(request_id, 'verify') $$;
COMMENT ON FUNCTION erasure.verify_request(bigint) IS
    'Records that the requester''s identity was confirmed: received → verified. For erasure_operator.';

CREATE FUNCTION erasure.approve_request(request_id bigint) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.move_request(request_id, 'approve') $$;
COMMENT ON FUNCTION erasure.approve_request(bigint) IS
    'Approves a verified request: it waits for erasure.cooling_off (state waiting, still cancellable), then erasure.process_requests() erases it. For erasure_admin.';

CREATE FUNCTION erasure.cancel_request(request_id bigint) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.move_request(request_id, 'cancel') $$;
COMMENT ON FUNCTION erasure.cancel_request(bigint) IS
    'Cancels a request not executed yet (the requester withdrew it, e.g. during the cooling-off window). For erasure_operator.';

CREATE FUNCTION erasure.reject_request(request_id bigint, ground text) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.move_request(request_id, 'reject', ground) $$;
COMMENT ON FUNCTION erasure.reject_request(bigint, text) IS
    'Refuses a request not executed yet on a ground of GDPR art. 17(3): freedom_of_expression, legal_obligation, public_health, archiving or legal_claims. For erasure_admin.';

CREATE FUNCTION erasure.extend_request(request_id bigint, reason text, extra interval DEFAULT '2 months') RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.move_request(request_id, 'extend', reason, extra) $$;
COMMENT ON FUNCTION erasure.extend_request(bigint, text, interval) IS
    'Extends the deadline of a request not executed yet by extra (at most 2 months), once, with a reason (GDPR art. 12(3)). For erasure_admin.';

CREATE FUNCTION erasure.process_requests(mode text DEFAULT 'auto')
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
CREATE FUNCTION erasure.purge_requests() RETURNS bigint
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
CREATE FUNCTION erasure.is_restricted(subject text, id text) RETURNS boolean
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

CREATE FUNCTION erasure.is_restricted(subject text, id anyelement) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.is_restricted(subject, CAST(id AS text)) $$;
COMMENT ON FUNCTION erasure.is_restricted(text, anyelement) IS
    'erasure.is_restricted(text, text) for a key of any type.';

-- Batch rules: the owner registers named candidate queries; an operator runs them by name
-- through erase_batches, with the owner's rights, and never supplies SQL (src/catalog/batch_rules.rs).
CREATE FUNCTION erasure.register_batch_rule(
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

CREATE FUNCTION erasure.drop_batch_rule(subject text, name text) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'drop_batch_rule_wrapper';
COMMENT ON FUNCTION erasure.drop_batch_rule(text, text) IS
    'Drops a batch rule of the subject; dropping one that is not registered does nothing.';

CREATE FUNCTION erasure.batch_candidates(subject text, rule text, argument text DEFAULT NULL,
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
CREATE PROCEDURE erasure.erase_batches(
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
