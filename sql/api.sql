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
    summary_columns name[] DEFAULT '{}'
) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'register_subject_wrapper';
COMMENT ON FUNCTION erasure.register_subject(text, regclass, name, name[]) IS
    'Registers a data subject (e.g. customer) stored in tbl, identified by key_column (default: the single-column primary key).';

CREATE FUNCTION erasure.register_table(
    subject text,
    tbl regclass,
    action text DEFAULT 'mask',
    via name[] DEFAULT NULL,
    parent regclass DEFAULT NULL,
    filter text DEFAULT NULL,
    reason text DEFAULT NULL
) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'register_table_wrapper';
COMMENT ON FUNCTION erasure.register_table(text, regclass, text, name[], regclass, text, text) IS
    'Registers a table holding a subject''s rows, reached from parent (default: the subject table) through the via foreign key columns and/or filter; action mask, delete or retain.';

CREATE FUNCTION erasure.set_policy(
    tbl regclass,
    col name,
    strategy text,
    params jsonb DEFAULT '{}'
) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'set_policy_wrapper';
COMMENT ON FUNCTION erasure.set_policy(regclass, name, text, jsonb) IS
    'Sets how a column of a registered table is masked: keep, null, blank, constant, year_only, placeholder, hmac, jsonb_remove, expression or now.';

CREATE FUNCTION erasure.drop_policy(tbl regclass, col name) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'drop_policy_wrapper';
COMMENT ON FUNCTION erasure.drop_policy(regclass, name) IS
    'Removes the masking policy of a column; the column is then reported as unreviewed.';

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

CREATE FUNCTION erasure.anonymize(subject text, id anyelement) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'anonymize_wrapper';
COMMENT ON FUNCTION erasure.anonymize(text, anyelement) IS
    'Erases one subject in one transaction: locks its rows, refuses while blockers exist, masks and deletes as registered, keeps retained rows untouched; returns a jsonb report.';

CREATE FUNCTION erasure.anonymize(subject text, id text) RETURNS jsonb
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'anonymize_wrapper';
COMMENT ON FUNCTION erasure.anonymize(text, text) IS
    'Erases one subject (key given as text); see erasure.anonymize(text, anyelement).';

CREATE FUNCTION erasure.anonymize_customer(id anyelement) RETURNS jsonb
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.anonymize('customer', id) $$;
COMMENT ON FUNCTION erasure.anonymize_customer(anyelement) IS
    'erasure.anonymize(''customer'', id).';

CREATE FUNCTION erasure.anonymize_customer(id text) RETURNS jsonb
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT erasure.anonymize('customer', id) $$;
COMMENT ON FUNCTION erasure.anonymize_customer(text) IS
    'erasure.anonymize(''customer'', id), key given as text.';

-- Used by the hmac strategy inside generated UPDATEs.
CREATE FUNCTION erasure.hmac_sha256(value text) RETURNS text
LANGUAGE c STABLE STRICT SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hmac_sha256_wrapper';
COMMENT ON FUNCTION erasure.hmac_sha256(text) IS
    'Hex HMAC-SHA-256 of value under the superuser-only setting erasure.hmac_key (used by the hmac strategy).';
