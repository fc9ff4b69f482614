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
