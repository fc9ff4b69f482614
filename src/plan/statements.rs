//! The SQL text of an erasure, built from catalog data.
//!
//! Identifiers come from PostgreSQL (regclass output, quote_identifier); values (constants,
//! templates, jsonb paths) travel as `$n` text parameters, `$1` being the subject key. Every
//! function and operator is schema-qualified, so objects created in other schemas cannot take
//! their place. Each table is filtered by the subject key or by its `via` columns (never by
//! ctid), which keeps every statement routable on a sharded (Citus) cluster.

use pgrx::pg_sys;
use pgrx::spi::{quote_identifier, quote_literal};

use crate::catalog::schema::Column;
use crate::catalog::strategy::Strategy;

/// `table.column`, both quoted.
pub fn qualified(table: &str, column: &str) -> String {
    format!("{table}.{}", quote_identifier(column))
}

/// `a = b`, with the equality operator that pg_catalog defines for the two types.
pub fn equals(left: &str, right: &str) -> String {
    format!("{left} OPERATOR(pg_catalog.=) {right}")
}

/// Catalog SQL (a filter, an expression, a blocker query) in parentheses. The newlines keep a
/// trailing `--` comment from swallowing the closing parenthesis.
pub fn embedded(sql: &str) -> String {
    format!("(\n{sql}\n)")
}

/// A `$n` text parameter of an erasure statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Parameter {
    /// A catalog value (a constant, a template, a jsonb path, the hmac key).
    Value(String),
    /// A random salt drawn anew for each execution, for `{uuid}` in templates: values built
    /// from it cannot be linked to the person once the statement has run.
    Salt,
}

/// The `$n` text parameters that carry values into a statement (`$1` is the key). Values
/// travel as parameters, never as SQL, and per-execution randomness travels the same way: a
/// statement calls no VOLATILE function, so a sharded cluster (Citus) can run it on a shard.
#[derive(Default)]
pub struct Parameters {
    pub values: Vec<Parameter>,
}

impl Parameters {
    pub fn add(&mut self, value: String) -> String {
        self.push(Parameter::Value(value))
    }

    /// The per-execution salt, one parameter however often it is used.
    pub fn salt(&mut self) -> String {
        match self.values.iter().position(|p| *p == Parameter::Salt) {
            Some(i) => format!("${}", i + 2),
            None => self.push(Parameter::Salt),
        }
    }

    fn push(&mut self, parameter: Parameter) -> String {
        self.values.push(parameter);
        format!("${}", self.values.len() + 1)
    }
}

/// The text values of `parameters` for one execution, a fresh salt drawn for it.
pub fn bind(parameters: &[Parameter]) -> Vec<String> {
    let salt = std::cell::OnceCell::new();
    parameters
        .iter()
        .map(|p| match p {
            Parameter::Value(value) => value.clone(),
            Parameter::Salt => salt.get_or_init(crate::keyed_hash::random_hex).clone(),
        })
        .collect()
}

/// The new value of `column` (its SQL `target`) under `strategy`; None for `keep`. Non-text
/// values are cast to the column's type explicitly; text is assigned as text, so that
/// PostgreSQL's assignment rules apply — a value too long for `varchar(n)` is an error, not
/// silently cut, and a domain's CHECK runs. `subject_key` is the SQL giving the row's subject
/// key as text, for `{key}` in templates; `row_key` the row's primary key as text
/// (`statements::row_key`), for `{uuid}`.
///
/// Every function applied to the row is IMMUTABLE; STABLE ones (`now()`, the session's time
/// zone) take no column, so a sharded cluster evaluates them once and runs the rest on the
/// shard (`plan::pushdown` checks the whole statement).
pub fn masked_value(
    target: &str,
    column: &Column,
    strategy: &Strategy,
    subject_key: &str,
    row_key: &str,
    parameters: &mut Parameters,
) -> Option<String> {
    let cast = |value: String| match column.is_text() {
        false => format!("CAST({value} AS {})", column.type_sql),
        true => value,
    };
    Some(match strategy {
        Strategy::Keep => return None,
        Strategy::Null => "NULL".to_string(),
        Strategy::Blank => cast("''".to_string()),
        Strategy::Constant(value) => match Strategy::constant_text(value) {
            None => "NULL".to_string(),
            Some(text) => cast(parameters.add(text)),
        },
        Strategy::YearOnly => cast(january_first(target, column.base_type)),
        Strategy::Placeholder(template) => {
            // `{uuid}` first: a key may itself contain the text "{uuid}", and must come out as it is.
            let mut value = parameters.add(template.clone());
            if template.contains("{uuid}") {
                // Unique per row (its primary key and the value it replaces go in), unlinkable
                // to the person because the salt is forgotten once the statement has run.
                let salt = parameters.salt();
                value = format!(
                    "pg_catalog.replace({value}, '{{uuid}}', CAST(CAST(pg_catalog.md5({salt} OPERATOR(pg_catalog.||) \
                     COALESCE(CAST({target} AS pg_catalog.text), '') OPERATOR(pg_catalog.||) '|' OPERATOR(pg_catalog.||) \
                     {row_key}) AS pg_catalog.uuid) AS pg_catalog.text))"
                );
            }
            cast(format!("pg_catalog.replace({value}, '{{key}}', {subject_key})"))
        }
        Strategy::Hmac => {
            let key = parameters.add(crate::keyed_hash::key());
            cast(format!("erasure.hmac_sha256(CAST({target} AS pg_catalog.text), {key})"))
        }
        Strategy::JsonbRemove(paths) => paths.iter().fold(target.to_string(), |document, path| {
            format!(
                "({document} OPERATOR(pg_catalog.#-) pg_catalog.string_to_array({}, '.'))",
                parameters.add(path.clone())
            )
        }),
        Strategy::Expression(sql) => cast(embedded(sql)),
        Strategy::Now => cast("pg_catalog.now()".to_string()),
    })
}

/// The primary key of a row of `table` as text (`''` for a table without one): with a
/// column's value and a salt, what makes each `{uuid}` distinct.
pub fn row_key(table: &str, key: &[String]) -> String {
    if key.is_empty() {
        return "''".to_string();
    }
    let parts: Vec<String> = key.iter().map(|c| format!("CAST({} AS pg_catalog.text)", qualified(table, c))).collect();
    parts.join(" OPERATOR(pg_catalog.||) ',' OPERATOR(pg_catalog.||) ")
}

/// Seconds since 1970 of a date, timestamp or timestamptz `value` (a timestamptz read in UTC),
/// by IMMUTABLE functions: retention dates compared on a shard.
pub fn epoch(value: &str, base_type: pg_sys::Oid) -> String {
    match base_type {
        pg_sys::TIMESTAMPTZOID => format!("pg_catalog.extract('epoch', pg_catalog.timezone('UTC', {value}))"),
        _ => format!("pg_catalog.extract('epoch', {value})"),
    }
}

/// January 1st of the year of `value` (a date, timestamp or timestamptz), by IMMUTABLE
/// functions only: a date through its year number (infinity stays infinity), a timestamp
/// truncated, a timestamptz truncated as a local time in the session's time zone.
fn january_first(value: &str, base_type: pg_sys::Oid) -> String {
    match base_type {
        pg_sys::DATEOID => format!(
            "CASE WHEN pg_catalog.isfinite({value}) THEN pg_catalog.make_date(CAST(pg_catalog.extract('year', {value}) \
             AS pg_catalog.int4), 1, 1) ELSE {value} END"
        ),
        pg_sys::TIMESTAMPTZOID => {
            let zone = "pg_catalog.current_setting('TimeZone')";
            format!("pg_catalog.timezone({zone}, pg_catalog.date_trunc('year', pg_catalog.timezone({zone}, {value})))")
        }
        _ => format!("pg_catalog.date_trunc('year', {value})"),
    }
}

/// The subject's key as its row stores it (`7`, not the `7.0` a caller passed for a numeric
/// key), locking the row when `lock`: the text the ledger records, whatever form was asked for.
pub fn stored_key(table: &str, condition: &str, key_column: &str, lock: bool) -> String {
    let locking = if lock { " FOR UPDATE" } else { "" };
    format!("SELECT CAST({} AS pg_catalog.text) FROM {table} WHERE {condition}{locking}", qualified(table, key_column))
}

/// Locks the subject's rows of `table`, in key order so that concurrent erasures queue up
/// instead of deadlocking.
/// `target` is what the statement locks (`ONLY table` for a table with inheritance children).
pub fn lock_rows(target: &str, table: &str, condition: &str, order_by: &[String]) -> String {
    let order = if order_by.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", order_by.iter().map(|c| qualified(table, c)).collect::<Vec<_>>().join(", "))
    };
    format!("SELECT FROM {target} WHERE {condition}{order} FOR UPDATE")
}

pub fn count_rows(table: &str, condition: &str) -> String {
    format!("(SELECT pg_catalog.count(*) FROM {table} WHERE {condition})")
}

/// The subject's summary columns as one jsonb object (`{}` when there are none).
pub fn summary(table: &str, condition: &str, columns: &[String]) -> String {
    let pairs: Vec<String> = columns.iter().map(|c| format!("{}, {}", quote_literal(c), qualified(table, c))).collect();
    format!("SELECT pg_catalog.jsonb_build_object({}) FROM {table} WHERE {condition}", pairs.join(", "))
}

/// Finds the subject's identifying values (`$2`, a jsonb object {identifier: value}) inside
/// `columns` of the subject's rows of `table`, case-insensitively: (row key, column, identifier).
/// Its aliases are names no table is likely to have (a table called `c` would clash with `c`).
pub fn residual_scan(table: &str, condition: &str, columns: &[String], key: &[String]) -> String {
    let row_key = match key {
        [] => "NULL".to_string(),
        columns => format!(
            "pg_catalog.concat_ws(',', {})",
            columns.iter().map(|c| qualified(table, c)).collect::<Vec<_>>().join(", ")
        ),
    };
    let texts: Vec<String> = columns
        .iter()
        .map(|c| format!("({}, CAST({} AS pg_catalog.text))", quote_literal(c), qualified(table, c)))
        .collect();
    format!(
        "SELECT {row_key}, \"pg_erasure column\".col, \"pg_erasure value\".identifier
           FROM {table}
          CROSS JOIN LATERAL (VALUES {}) AS \"pg_erasure column\"(col, text)
           JOIN pg_catalog.jsonb_each_text($2) AS \"pg_erasure value\"(identifier, value)
             ON pg_catalog.strpos(pg_catalog.lower(\"pg_erasure column\".text),
                                  pg_catalog.lower(\"pg_erasure value\".value)) OPERATOR(pg_catalog.>) 0
          WHERE {condition}
          ORDER BY 1, 2, 3",
        texts.join(", ")
    )
}

/// A blocker query, each of its rows turned into one jsonb document.
pub fn blocker(query: &str) -> String {
    format!("SELECT pg_catalog.to_jsonb(b) FROM {} AS b", embedded(query))
}

/// A batch's keys (`$1`, an array) as rows, for statements written for one key, and the
/// expression that reads each: an alias no catalog SQL is likely to shadow.
const BATCH_KEYS: &str = "pg_catalog.unnest($1) AS \"pg_erasure keys\"(key)";
const BATCH_KEY: &str = "(\"pg_erasure keys\".key)";

/// `sql`, written for one key (`$1`), reading instead the key of each row of `BATCH_KEYS`.
fn for_each_key(sql: &str) -> String {
    crate::catalog::sql_check::replace_parameter(sql, 1, BATCH_KEY)
}

/// Every blocker query run for a batch of keys (`$1`, an array) in one statement: per row,
/// (the blocker's position in `queries`, key as text, the row as jsonb).
pub fn blockers_by_key(queries: &[String]) -> String {
    let selects: Vec<String> = queries
        .iter()
        .enumerate()
        .map(|(position, query)| {
            format!(
                "SELECT {position}, CAST({BATCH_KEY} AS pg_catalog.text), pg_catalog.to_jsonb(b)
                   FROM {BATCH_KEYS} CROSS JOIN LATERAL {} AS b",
                embedded(&for_each_key(query))
            )
        })
        .collect();
    selects.join("\nUNION ALL ")
}

/// The one statement that applies an erasure: an UPDATE or DELETE per table as data-modifying
/// CTEs, then one row of counts, in the order of `counts`. All parts of one statement see the
/// same snapshot, so a filter that matches on a value being masked (guest orders found by the
/// customer's e-mail) still finds its rows, and no part sees another's changes.
pub fn apply(changes: &[String], counts: &[String]) -> String {
    with_changes(changes, format!("SELECT {}", counts.join(",\n       ")))
}

/// The batch form of `apply`: `counts` are queries returning (table position, key, rows).
pub fn apply_by_key(changes: &[String], counts: &[String]) -> String {
    with_changes(changes, counts.join("\nUNION ALL "))
}

fn with_changes(changes: &[String], select: String) -> String {
    if changes.is_empty() {
        select
    } else {
        format!("WITH {}\n{select}", changes.join(",\n     "))
    }
}

pub fn update_cte(name: &str, table: &str, assignments: &[String], condition: &str, returning: &str) -> String {
    format!("{name} AS (UPDATE {table} SET {} WHERE {condition} RETURNING {returning})", assignments.join(", "))
}

pub fn delete_cte(name: &str, table: &str, condition: &str, returning: &str) -> String {
    format!("{name} AS (DELETE FROM {table} WHERE {condition} RETURNING {returning})")
}

pub fn count_cte(name: &str) -> String {
    format!("(SELECT pg_catalog.count(*) FROM {name})")
}

pub fn count_cte_by_key(position: usize, name: &str) -> String {
    format!("SELECT {position}, k, pg_catalog.count(*) FROM {name} GROUP BY k")
}

pub fn count_rows_by_key(position: usize, table: &str, condition: &str, key: &str) -> String {
    format!("SELECT {position}, {key}, pg_catalog.count(*) FROM {table} WHERE {condition} GROUP BY 2")
}

/// Counts the rows of `referrer` joined (`on`) to the subject's rows of `table` (`condition`
/// for one key, `$1`): a count column; with `position`, for a batch, rows of (position, key,
/// rows), one per key.
pub fn count_references(table: &str, referrer: &str, on: &str, condition: &str, position: Option<usize>) -> String {
    let count = format!("(SELECT pg_catalog.count(*) FROM {table} JOIN {referrer} ON {on} WHERE {condition})");
    match position {
        None => count,
        Some(position) => format!(
            "SELECT {position}, CAST({BATCH_KEY} AS pg_catalog.text), {} FROM {BATCH_KEYS}",
            for_each_key(&count)
        ),
    }
}

/// Locks the rows of a batch of subjects (`$1`, an array of keys), in key order, and returns
/// for each key found the key as given and as its row stores it: keys are matched by the key
/// type's equality, so `7.0` finds the row holding `7`. The `= ANY` filter besides the join
/// lets a sharded cluster route the statement to the shard holding the keys.
pub fn lock_keys(table: &str, key_column: &str) -> String {
    const ROW: &str = "\"pg_erasure subject\"";
    let stored = qualified(ROW, key_column);
    format!(
        "SELECT CAST({BATCH_KEY} AS pg_catalog.text), CAST({stored} AS pg_catalog.text)
           FROM {BATCH_KEYS} JOIN {table} AS {ROW} ON {}
          WHERE {}
          ORDER BY {stored} FOR UPDATE OF {ROW}",
        equals(&stored, BATCH_KEY),
        equals(&stored, "ANY ($1)")
    )
}

/// The subjects of `table` whose key's digest (as `execute::ledger::recorded_key` makes it, with
/// the hmac key `$1`) is one of `$2`: (digest, key). A full scan; only replays and releases of
/// subjects with personal keys need it.
pub fn keys_by_digest(table: &str, key_column: &str) -> String {
    let key = format!("CAST({} AS pg_catalog.text)", qualified(table, key_column));
    format!(
        "SELECT \"pg_erasure digest\".digest, {key} FROM {table}
          CROSS JOIN LATERAL (SELECT 'hmac:' OPERATOR(pg_catalog.||) erasure.hmac_sha256({key}, $1)) AS \"pg_erasure digest\"(digest)
          WHERE \"pg_erasure digest\".digest OPERATOR(pg_catalog.=) ANY ($2)"
    )
}

/// The erasures recorded for some keys of a subject: `$1` the subject, `$2` the keys (text[]).
/// The digest and the condition on `status` are the unique index `ledger_subject_key`'s: without
/// them the lookup would read the whole ledger, growing with every erasure.
pub const LEDGER_FIND: &str = "SELECT key, request_id, status, pg_catalog.to_json(executed_at)::pg_catalog.text
   FROM erasure.ledger
  WHERE subject OPERATOR(pg_catalog.=) $1
    AND pg_catalog.md5(key) OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT pg_catalog.md5(k) FROM pg_catalog.unnest($2) AS k))
    AND key OPERATOR(pg_catalog.=) ANY ($2)
    AND status OPERATOR(pg_catalog.<>) 'released'";

/// Records erasures and queues their notifications on channel `erasure`, in one statement:
/// `$1` subject, `$2` mode, `$3` reference, `$4` keys, `$5` statuses, `$6` per-table counts
/// (jsonb as text), `$7` the calling role; returns the request ids in the order of the keys.
pub const LEDGER_RECORD: &str = "WITH recorded AS (
    INSERT INTO erasure.ledger
           (subject, key, status, mode, requested_by, executed_by, executed_at, tables, reference)
    SELECT $1, e.key, e.status, $2, session_user, CAST($7 AS pg_catalog.name), pg_catalog.now(),
           CAST(e.tables AS pg_catalog.jsonb), $3
      FROM ROWS FROM (pg_catalog.unnest($4::pg_catalog.text[]), pg_catalog.unnest($5::pg_catalog.text[]),
                      pg_catalog.unnest($6::pg_catalog.text[]))
           WITH ORDINALITY AS e(key, status, tables, n)
     ORDER BY e.n
    RETURNING request_id, key, status)
SELECT r.request_id,
       pg_catalog.pg_notify('erasure', pg_catalog.format('{\"subject\":%s,\"key\":%s,\"request_id\":%s,\"status\":%s}',
           pg_catalog.to_json($1::pg_catalog.text), pg_catalog.to_json(r.key), r.request_id, pg_catalog.to_json(r.status)))
  FROM recorded r ORDER BY r.request_id";

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use super::*;
    use pgrx::prelude::*;
    use serde_json::json;

    const KEY: &str = "CAST($1 AS pg_catalog.text)";

    fn column(type_sql: &str, base_type: pg_sys::Oid, category: char) -> Column {
        Column {
            name: "c".into(),
            type_sql: type_sql.into(),
            type_oid: base_type,
            base_type,
            category,
            element_category: ' ',
            not_null: false,
            generated: false,
        }
    }

    fn text() -> Column {
        column("text", pg_sys::TEXTOID, 'S')
    }

    #[pg_test]
    fn values_travel_as_parameters_never_as_sql() {
        let mut p = Parameters::default();
        let v = masked_value(
            "c",
            &column("integer", pg_sys::INT4OID, 'N'),
            &Strategy::Constant(json!("x'); DROP TABLE t; --")),
            KEY,
            "''",
            &mut p,
        );
        assert_eq!(v.as_deref(), Some("CAST($2 AS integer)"));
        assert_eq!(p.values, vec![Parameter::Value("x'); DROP TABLE t; --".to_string())]);
    }

    #[pg_test]
    fn placeholder_salts_a_uuid_only_when_asked() {
        let mut p = Parameters::default();
        let plain =
            masked_value("e", &text(), &Strategy::Placeholder("erased-{key}".into()), KEY, "''", &mut p).unwrap();
        assert!(!plain.contains("md5"));
        assert!(plain.contains(KEY), "{{key}} is the row's subject key: {plain}");
        let unique = masked_value("e", &text(), &Strategy::Placeholder("{uuid}@x".into()), KEY, "''", &mut p).unwrap();
        assert!(unique.contains("pg_catalog.md5($4"), "{unique}");
        let again = masked_value("f", &text(), &Strategy::Placeholder("{uuid}".into()), KEY, "''", &mut p).unwrap();
        assert!(again.contains("pg_catalog.md5($4"), "one salt per statement: {again}");
        assert_eq!(p.values.len(), 4);
        let (first, second) = (bind(&p.values), bind(&p.values));
        assert_eq!(first[2].len(), 32);
        assert_ne!(first[2], second[2], "a fresh salt per execution");
        assert_eq!(first[0], "erased-{key}");
    }

    #[pg_test]
    fn year_only_keeps_the_year_of_each_type() {
        let year = |type_sql: &str, oid: pg_sys::Oid| {
            let column = column(type_sql, oid, 'D');
            masked_value("VALUE", &column, &Strategy::YearOnly, KEY, "''", &mut Parameters::default()).unwrap()
        };
        Spi::run("SET LOCAL TimeZone = 'Asia/Tokyo'").unwrap();
        for (type_sql, oid, value, expected) in [
            ("date", pg_sys::DATEOID, "1987-05-03", "1987-01-01"),
            ("date", pg_sys::DATEOID, "infinity", "infinity"),
            ("timestamp without time zone", pg_sys::TIMESTAMPOID, "1987-05-03 10:00", "1987-01-01 00:00:00"),
            ("timestamp with time zone", pg_sys::TIMESTAMPTZOID, "1987-05-03 02:00+00", "1987-01-01 00:00:00+09"),
        ] {
            let sql = year(type_sql, oid).replace("VALUE", &format!("CAST('{value}' AS {type_sql})"));
            let got = Spi::get_one::<String>(&format!("SELECT CAST({sql} AS text)"));
            assert_eq!(got, Ok(Some(expected.to_string())), "{type_sql} {value}");
        }
    }

    /// Every strategy, on every column type it fits, calls only IMMUTABLE functions of the
    /// row, and STABLE ones of constants outside CASE and COALESCE: what a Citus shard runs in
    /// an UPDATE. Read from pg_proc.provolatile for every function the analysed value calls.
    #[pg_test]
    fn every_strategy_calls_only_what_a_shard_can_run() {
        Spi::run(
            "CREATE TABLE shard_row (t text, v varchar(40), d date, ts timestamp, tz timestamptz, j jsonb, n integer)",
        )
        .unwrap();
        Spi::run("SELECT erasure.set_hmac_key('0123456789abcdef0123')").unwrap();
        let strategies = |c: &Column| -> Vec<Strategy> {
            let all = [
                Strategy::Null,
                Strategy::Blank,
                Strategy::Constant(json!("0")),
                Strategy::YearOnly,
                Strategy::Placeholder("gone-{key}-{uuid}".into()),
                Strategy::Hmac,
                Strategy::JsonbRemove(vec!["name".into(), "address.street".into()]),
                Strategy::Expression("pg_catalog.upper(shard_row.t)".into()),
                Strategy::Now,
            ];
            // An expression is the registrant's own SQL (`citus::pushdown_problem` judges it):
            // here only as the text column it is written for.
            all.into_iter()
                .filter(|s| s.misfit(c).is_none())
                .filter(|s| !matches!(s, Strategy::Expression(_)) || c.is_text())
                .collect()
        };
        let columns = [
            ("t", column("text", pg_sys::TEXTOID, 'S')),
            ("v", column("character varying(40)", pg_sys::VARCHAROID, 'S')),
            ("d", column("date", pg_sys::DATEOID, 'D')),
            ("ts", column("timestamp without time zone", pg_sys::TIMESTAMPOID, 'D')),
            ("tz", column("timestamp with time zone", pg_sys::TIMESTAMPTZOID, 'D')),
            ("j", column("jsonb", pg_sys::JSONBOID, 'U')),
            ("n", column("integer", pg_sys::INT4OID, 'N')),
        ];
        let mut checked = 0;
        for (name, c) in &columns {
            for strategy in strategies(c) {
                let mut p = Parameters::default();
                let Some(value) = masked_value(
                    &format!("shard_row.{name}"),
                    c,
                    &strategy,
                    KEY,
                    &row_key("shard_row", &["n".into()]),
                    &mut p,
                ) else {
                    continue;
                };
                let types: Vec<pg_sys::Oid> =
                    std::iter::once(pg_sys::INT8OID).chain(p.values.iter().map(|_| pg_sys::TEXTOID)).collect();
                for call in crate::citus::calls(&format!("SELECT {value} FROM shard_row"), &types) {
                    let volatility = Spi::get_one_with_args::<String>(
                        "SELECT provolatile::text FROM pg_catalog.pg_proc WHERE oid = $1",
                        &[call.function.into()],
                    )
                    .unwrap()
                    .unwrap();
                    let shardable = volatility == "i" || (volatility == "s" && !call.over_columns && !call.conditional);
                    assert!(shardable, "{strategy:?} on {name}: function {} is {volatility} in {value}", call.function);
                    checked += 1;
                }
            }
        }
        assert!(checked > 30, "only {checked} function calls were checked");
    }

    #[pg_test]
    fn jsonb_remove_chains_one_path_per_parameter() {
        let mut p = Parameters::default();
        let v = masked_value(
            "doc",
            &column("jsonb", pg_sys::JSONBOID, 'U'),
            &Strategy::JsonbRemove(vec!["name".into(), "address.street".into()]),
            KEY,
            "''",
            &mut p,
        );
        assert_eq!(
            v.as_deref(),
            Some("((doc OPERATOR(pg_catalog.#-) pg_catalog.string_to_array($2, '.')) OPERATOR(pg_catalog.#-) pg_catalog.string_to_array($3, '.'))")
        );
        assert_eq!(masked_value("c", &text(), &Strategy::Keep, KEY, "''", &mut p), None);
    }

    #[pg_test]
    fn locks_in_key_order() {
        assert_eq!(
            lock_rows("shop.orders", "shop.orders", "cond", &["id".into()]),
            "SELECT FROM shop.orders WHERE cond ORDER BY shop.orders.id FOR UPDATE"
        );
    }
}
