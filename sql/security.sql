-- Who may do what (the README's "Security" section; src/security.rs does the rest).
--
-- erasure_operator  runs erasures and reads their ledger; needs no right on the shop's tables.
-- erasure_admin     also registers subjects, tables, policies and blockers (of tables it owns).
-- erasure_executor  the rights erasures run with: exactly what registration granted it on the
--                   registered tables. Nobody logs in as it or is granted it.
--
-- Roles belong to the cluster, not to a database: they are created if missing and outlive
-- DROP EXTENSION. A role of the same name that already exists is accepted only if it cannot
-- log in and, for erasure_executor, if nobody is a member of it.

DO $roles$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['erasure_operator', 'erasure_admin', 'erasure_executor'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = role_name) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', role_name);
        ELSIF EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = role_name AND (r.rolcanlogin OR r.rolsuper)) THEN
            RAISE EXCEPTION 'role "%" already exists and can log in or is a superuser', role_name
                USING ERRCODE = 'duplicate_object',
                      HINT = pg_catalog.format('pg_erasure needs it as a NOLOGIN group role: ALTER ROLE %I NOLOGIN NOSUPERUSER.', role_name);
        END IF;
    END LOOP;
    IF EXISTS (SELECT FROM pg_catalog.pg_auth_members m WHERE m.roleid = 'erasure_executor'::pg_catalog.regrole) THEN
        RAISE EXCEPTION 'role "erasure_executor" has members'
            USING ERRCODE = 'invalid_grant_operation',
                  DETAIL = 'Its members could change every registered table directly.',
                  HINT = 'REVOKE erasure_executor FROM each member.';
    END IF;
    IF NOT pg_catalog.pg_has_role('erasure_admin', 'erasure_operator', 'MEMBER') THEN
        GRANT erasure_operator TO erasure_admin;
    END IF;
END
$roles$;
-- Row-level security policies must not hide a subject's rows from its erasure.
ALTER ROLE erasure_executor BYPASSRLS;

-- Functions are executable by PUBLIC unless revoked: start from nothing.
REVOKE ALL ON ALL ROUTINES IN SCHEMA erasure FROM PUBLIC;
GRANT USAGE ON SCHEMA erasure TO erasure_operator, erasure_admin, erasure_executor;

-- The catalog holds no personal data: both roles may read it, only the registration functions
-- (as the extension's owner) write it.
GRANT SELECT ON erasure.subjects, erasure.tables, erasure.column_policies, erasure.blockers,
                erasure.ledger, erasure.request_queue, erasure.requests
   TO erasure_operator;
GRANT INSERT, UPDATE ON erasure.request_queue TO erasure_operator;

GRANT EXECUTE ON FUNCTION
    erasure.erasure_blockers(anyelement, text), erasure.erasure_blockers(text, text),
    erasure.erasure_preview(anyelement, text), erasure.erasure_preview(text, text),
    erasure.anonymize(text, anyelement, text, text), erasure.anonymize(text, text, text, text),
    erasure.anonymize_customer(anyelement), erasure.anonymize_customer(text),
    erasure.delete_customer(anyelement), erasure.delete_customer(text),
    erasure.anonymize_many(text, anyarray, text), erasure.anonymize_customers(anyarray),
    erasure.is_erased(text, anyelement), erasure.is_erased(text, text),
    erasure.ledger_since(bigint), erasure.ledger_export(bigint), erasure.release_expired(text),
    erasure.residual_scan(anyelement, text), erasure.residual_scan(text, text),
    erasure.request(text, text, text), erasure.request(text, anyelement, text),
    erasure.process_requests(text)
   TO erasure_operator;
GRANT EXECUTE ON PROCEDURE erasure.erase_batches(text, text, integer, text, boolean) TO erasure_operator;

GRANT EXECUTE ON FUNCTION
    erasure.register_subject(text, regclass, name, name[]),
    erasure.register_table(text, regclass, text, name[], regclass, text, text, interval, name),
    erasure.set_policy(regclass, name, text, jsonb), erasure.drop_policy(regclass, name),
    erasure.register_blocker(text, text, text, text), erasure.replay(jsonb),
    erasure.check(text), erasure.suggest_policies(text), erasure.registered_tables(text),
    erasure.personal_name_pattern(), erasure.pending_vacuum()
   TO erasure_admin;

-- The executor reads the catalog (and checks it, under erasure.require_complete), writes the
-- ledger and computes HMACs; the hmac function is not granted to anyone else, as it would let
-- them test guesses against masked values.
GRANT SELECT ON erasure.subjects, erasure.tables, erasure.column_policies, erasure.blockers TO erasure_executor;
GRANT SELECT, INSERT, UPDATE ON erasure.ledger TO erasure_executor;
GRANT EXECUTE ON FUNCTION erasure.hmac_sha256(text), erasure.check(text), erasure.registered_tables(text),
    erasure.personal_name_pattern()
   TO erasure_executor;
