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
    summary_columns name[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE erasure.subjects IS
    'Data subjects (e.g. customer): the table holding one row per subject and its key column.';

CREATE TABLE erasure.tables (
    subject        text NOT NULL REFERENCES erasure.subjects ON DELETE CASCADE,
    tbl            regclass NOT NULL,
    action         text NOT NULL CHECK (action IN ('mask', 'delete', 'retain')),
    parent         regclass NOT NULL,
    via            name[] NOT NULL,
    parent_columns name[] NOT NULL,
    filter         text,
    reason         text,
    PRIMARY KEY (subject, tbl),
    CHECK (cardinality(via) = cardinality(parent_columns)),
    CHECK (cardinality(via) > 0 OR filter IS NOT NULL)
);
COMMENT ON TABLE erasure.tables IS
    'Tables holding a subject''s rows: found through via (columns of tbl referencing parent_columns of parent) and/or filter; action mask, delete or retain.';
COMMENT ON COLUMN erasure.tables.via IS
    'Columns of tbl that reference parent_columns of parent; empty when filter alone selects the rows.';
COMMENT ON COLUMN erasure.tables.filter IS
    'SQL condition on tbl, may use $1 (the subject key).';
COMMENT ON COLUMN erasure.tables.reason IS
    'Why a retained table is kept (e.g. bookkeeping law); shown in the erasure report.';

CREATE TABLE erasure.column_policies (
    tbl      regclass NOT NULL,
    col      name NOT NULL,
    strategy text NOT NULL CHECK (strategy IN ('keep', 'null', 'blank', 'constant', 'year_only',
                                               'placeholder', 'hmac', 'jsonb_remove',
                                               'expression', 'now')),
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
