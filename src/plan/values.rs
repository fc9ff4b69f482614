//! What each column becomes: a masking policy as an SQL expression over the row, and the
//! `$n` parameters that carry its values.
//!
//! Every function applied to the row is IMMUTABLE; STABLE ones (`now()`, the session's time
//! zone) take no column, and per-execution randomness travels as a parameter. A sharded
//! cluster (Citus) can then evaluate the STABLE parts once and run the rest on the shard.

use pgrx::pg_sys;

use super::statements::{embedded, qualified};
use crate::catalog::schema::Column;
use crate::catalog::strategy::Strategy;

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
        Strategy::Null | Strategy::RestrictedAt => "NULL".to_string(),
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

/// Whether `target` holds what `strategy` writes, as an SQL condition over the row, for
/// `erasure.verify()` after the erasure. Where the strategy writes a value that masking again
/// would not change (NULL, blank, the constant, the placeholder, January 1st, keys removed) the
/// value must be that fixed point; where it writes one nobody can recompute, its shape: 64 hex
/// digits for `hmac`, the template with 36 characters for each `{uuid}`, a time for `now`. NULL
/// holds nothing personal and passes (but for `now`, whose time marks the erasure). None for
/// `keep` and `expression`, which say nothing checkable afterwards.
pub fn looks_masked(
    target: &str,
    column: &Column,
    strategy: &Strategy,
    subject_key: &str,
    parameters: &mut Parameters,
) -> Option<String> {
    let text = |value: &str| format!("CAST({value} AS pg_catalog.text)");
    let or_null = |condition: String| format!("({target} IS NULL OR {condition})");
    Some(match strategy {
        Strategy::Keep | Strategy::Expression(_) => return None,
        Strategy::Null | Strategy::RestrictedAt => format!("{target} IS NULL"),
        Strategy::Now => format!("{target} IS NOT NULL"),
        Strategy::Hmac => or_null(format!("{} OPERATOR(pg_catalog.~) '^[0-9a-f]{{64}}$'", text(target))),
        Strategy::Placeholder(template) if template.contains("{uuid}") => {
            // A LIKE pattern, `!` escaping: the template's own text, each {uuid} any 36
            // characters, {key} the subject key.
            let escape = |sql: String| {
                ["!", "%", "_"].iter().fold(sql, |s, c| format!("pg_catalog.replace({s}, '{c}', '!{c}')"))
            };
            let literal: String = template.replace('!', "!!").replace('%', "!%").replace('_', "!_");
            let pattern = parameters.add(literal.replace("{uuid}", &"_".repeat(36)));
            or_null(format!(
                "{} OPERATOR(pg_catalog.~~) pg_catalog.like_escape(pg_catalog.replace({pattern}, '{{key}}', {}), '!')",
                text(target),
                escape(subject_key.to_string())
            ))
        }
        _ => {
            let masked = masked_value(target, column, strategy, subject_key, "''", parameters)?;
            or_null(format!("{} OPERATOR(pg_catalog.=) {}", text(target), text(&masked)))
        }
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

    /// What each strategy writes, `erasure.verify()` accepts; the value it replaced, it does not.
    #[pg_test]
    fn verification_accepts_what_masking_writes() {
        Spi::run("SELECT erasure.set_hmac_key('0123456789abcdef0123')").unwrap();
        let (text, date, stamp) = (
            text(),
            column("date", pg_sys::DATEOID, 'D'),
            column("timestamp with time zone", pg_sys::TIMESTAMPTZOID, 'D'),
        );
        let jsonb = column("jsonb", pg_sys::JSONBOID, 'U');
        let cases = [
            (&text, "Ana", Strategy::Null),
            (&text, "Ana", Strategy::Blank),
            (&text, "Ana", Strategy::Constant(json!("Xxxx"))),
            (&text, "ana@example.com", Strategy::Placeholder("erased-{key}@invalid".into())),
            (&text, "ana@example.com", Strategy::Placeholder("{uuid}_{key}%@invalid".into())),
            (&text, "Ana", Strategy::Hmac),
            (&date, "1987-05-03", Strategy::YearOnly),
            (&stamp, "1987-05-03 10:00+00", Strategy::YearOnly),
            (
                &jsonb,
                r#"{"name": "Ana", "address": {"street": "Main", "city": "Lisbon"}}"#,
                Strategy::JsonbRemove(vec!["name".into(), "address.street".into()]),
            ),
        ];
        for (column, original, strategy) in cases {
            let mut p = Parameters::default();
            let masked = masked_value("v.c", column, &strategy, KEY, "''", &mut p).unwrap();
            let of_masked = looks_masked("m.c", column, &strategy, KEY, &mut p).unwrap();
            let of_original = looks_masked("v.c", column, &strategy, KEY, &mut p).unwrap();
            let original_at = format!("${}", p.values.len() + 2);
            let row = format!("(SELECT CAST({original_at} AS {}) AS c) AS v", column.type_sql);
            let sql = format!(
                "SELECT (SELECT {of_masked} FROM (SELECT {masked} AS c FROM {row}) AS m), (SELECT {of_original} FROM {row})"
            );
            let bound = bind(&p.values);
            let mut arguments: Vec<pgrx::datum::DatumWithOid> = vec!["7".into()];
            arguments.extend(bound.iter().map(|v| v.as_str().into()));
            arguments.push(original.into());
            let got = Spi::get_two_with_args::<bool, bool>(&sql, &arguments).unwrap();
            assert_eq!(got, (Some(true), Some(false)), "{strategy:?} of {original}: {sql}");
        }
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
}
