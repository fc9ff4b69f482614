//! Registered batch rules: the candidate queries of `erasure.erase_batches()`.
//!
//! ```sql
//! SELECT erasure.register_batch_rule('customer', 'inactive',
//!        $$SELECT c.id FROM shop.customers c WHERE c.last_seen < now() - $1$$, parameter => 'interval');
//! CALL erasure.erase_batches('customer', 'inactive', '2 years', dry_run => true);   -- an operator
//! ```
//!
//! The subject's owner registers a rule; an operator runs it by name, and it runs with the
//! owner's rights. Running SQL an operator supplied with the owner's rights would let the
//! operator read anything the owner can; so the operator supplies only the rule's name, its one
//! typed argument and the keys to leave out, and never needs a right on the shop's tables.

use std::ffi::CString;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::panic::ErrorReportWithLevel;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::register::{hold, hold_owned_subject};
use super::{entries, schema, sql_check};
use crate::error::*;
use crate::execute::key::Key;
use crate::plan::cache;
use crate::security;

pub fn register_batch_rule(
    subject: &str,
    name: &str,
    query: &str,
    parameter: Option<pg_sys::Oid>,
    comment: Option<String>,
) {
    if name.is_empty() {
        ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, "batch rule name must not be empty").raise();
    }
    Spi::connect_mut(|client| {
        let (entry, subject_table) = hold_owned_subject(client, subject, "register batch rules of");
        let subject_columns = schema::columns(client, entry.tbl);
        let invalid = |e: &ErrorReportWithLevel| {
            ErasureError::new(code_of(e), format!("query of batch rule \"{name}\" is invalid"))
                .detail(e.message().to_string())
        };
        if !rewrap(|| sql_check::is_single_select(query), invalid) {
            ErasureError::new(
                ERRCODE_INVALID_PARAMETER_VALUE,
                format!("query of batch rule \"{name}\" is not a single SELECT"),
            )
            .detail(format!("query: {query}"))
            .raise();
        }
        // Analysed with $1 of its declared type, as it will be prepared (`now() - $1` is an
        // interval only then); $1 itself must appear, found by the lexer as pg_erasure finds it.
        let types: Vec<pg_sys::Oid> = parameter.into_iter().collect();
        let parameters = rewrap(|| sql_check::parameter_count_with(query, &types), invalid);
        let uses_first = sql_check::replace_parameter(query, 1, "NULL") != query;
        match (parameter, parameters) {
            (Some(_), 1) if uses_first => {}
            (None, 0) => {}
            (Some(_), _) => ErasureError::new(
                ERRCODE_INVALID_PARAMETER_VALUE,
                format!("query of batch rule \"{name}\" must take its argument as $1 and no other parameter"),
            )
            .detail(format!("query: {query}"))
            .raise(),
            (None, n) => ErasureError::new(
                ERRCODE_INVALID_PARAMETER_VALUE,
                format!("query of batch rule \"{name}\" uses {n} parameters but declares none"),
            )
            .hint("A rule takes at most one argument, $1: declare its type, e.g. parameter => 'interval'.")
            .raise(),
        }
        let owner = security::relation_owner(client, entry.tbl);
        let what = format!("the query of batch rule \"{name}\"");
        // Planned, not run: a rule scans the shop's tables, and fails loudly, erasing nothing,
        // if it fails when the operator runs it.
        security::check_catalog_sql(owner, query, &types, security::Trial::Plan, &what, invalid);
        let key = schema::column(&subject_table, &subject_columns, &entry.key_column);
        let returned = security::as_owner(owner, || result_types(query, &types));
        if returned != [key.type_oid] {
            ErasureError::new(
                ERRCODE_DATATYPE_MISMATCH,
                format!(
                    "query of batch rule \"{name}\" must return one column of type {}, the key of erasure subject \"{subject}\"",
                    key.type_sql
                ),
            )
            .detail(format!("It returns ({}).", type_names(&returned)))
            .hint(format!("Select only the key, e.g. SELECT c.{} FROM {} c WHERE ...", key.name, subject_table.name))
            .raise();
        }
        security::as_extension_owner(security::extension_owner(client), || {
            spi(client.update(
                "INSERT INTO erasure.batch_rules (subject, name, query, parameter, comment)
                 VALUES ($1, $2, $3, $4::pg_catalog.oid::pg_catalog.regtype, $5)
                 ON CONFLICT (subject, name) DO UPDATE
                    SET query = excluded.query, parameter = excluded.parameter, comment = excluded.comment",
                None,
                &[subject.into(), name.into(), query.into(), parameter.into(), comment.into()],
            ))
        });
    });
}

pub fn drop_batch_rule(subject: &str, name: &str) {
    Spi::connect_mut(|client| {
        hold(client, &[subject], &[]);
        let entry = entries::require_subject(client, subject);
        let subject_table = schema::relation(client, entry.tbl);
        security::require_owner(client, &subject_table, &format!("drop batch rules of erasure subject \"{subject}\""));
        security::as_extension_owner(security::extension_owner(client), || {
            spi(client.update(
                "DELETE FROM erasure.batch_rules WHERE subject = $1 AND name = $2",
                None,
                &[subject.into(), name.into()],
            ))
        });
    });
}

/// The keys the rule selects now, in key order, without those in `except_keys`; `argument` is
/// the rule's `$1`, converted to its declared type. Runs the rule as the subject's owner. A key
/// to leave out that the rule does not select is refused: it is most likely a typo, and the
/// customer it meant would be erased.
pub fn candidates(subject: &str, rule: &str, argument: Option<&str>, except_keys: &[String]) -> Vec<String> {
    cache::with_plan(subject, |plan| {
        let spared: Vec<String> = except_keys.iter().map(|k| Key::parse(plan, k).text).collect();
        Spi::connect(|client| {
            let (query, parameter) = rule_entry(client, subject, rule);
            let argument = rule_argument(rule, parameter, argument);
            let statement = format!(
                "WITH \"pg_erasure candidate\"(key) AS (
                      SELECT DISTINCT k.key FROM ({query}\n) AS k(key) WHERE k.key IS NOT NULL),
                      \"pg_erasure spared\"(text, key) AS (
                      SELECT e.text, CAST(e.text AS {key_type}) FROM pg_catalog.unnest($2) AS e(text))
                 SELECT CAST(c.key AS pg_catalog.text), false, c.key FROM \"pg_erasure candidate\" c
                  WHERE NOT EXISTS (SELECT FROM \"pg_erasure spared\" s WHERE s.key = c.key)
                 UNION ALL
                 SELECT s.text, true, s.key FROM \"pg_erasure spared\" s
                  WHERE NOT EXISTS (SELECT FROM \"pg_erasure candidate\" c WHERE c.key = s.key)
                 ORDER BY 3",
                key_type = plan.key_type_sql
            );
            let rows = spi(client.select(&statement, None, &[argument, spared.into()]));
            let mut keys = Vec::new();
            for row in rows {
                let key: String = spi(row.get(1)).unwrap_or_default();
                if spi(row.get::<bool>(2)).unwrap_or(false) {
                    ErasureError::new(
                        ERRCODE_INVALID_PARAMETER_VALUE,
                        format!(
                            "key \"{}\" of except_keys is not a candidate of batch rule \"{rule}\"",
                            crate::execute::ledger::recorded_key(plan, &key)
                        ),
                    )
                    .detail("A key to leave out must be one the rule selects; nothing was erased.")
                    .hint("Run the dry run again (dry_run => true) and name keys it lists.")
                    .raise();
                }
                keys.push(key);
            }
            keys
        })
    })
}

/// The rule's query and the type of its parameter, or an undefined_object error.
fn rule_entry(client: &SpiClient<'_>, subject: &str, rule: &str) -> (String, Option<pg_sys::Oid>) {
    let rows = security::as_extension_owner(security::extension_owner(client), || {
        spi(client.select(
            "SELECT query, parameter::pg_catalog.oid FROM erasure.batch_rules WHERE subject = $1 AND name = $2",
            None,
            &[subject.into(), rule.into()],
        ))
    });
    if rows.is_empty() {
        ErasureError::new(
            ERRCODE_UNDEFINED_OBJECT,
            format!("batch rule \"{rule}\" of erasure subject \"{subject}\" is not registered"),
        )
        .hint(format!(
            "erase_batches runs rules the subject's owner registered (erasure.register_batch_rule); \
             SELECT name, parameter, comment FROM erasure.batch_rules WHERE subject = '{}'; lists them.",
            subject.replace('\'', "''")
        ))
        .raise();
    }
    let row = rows.first();
    (spi(row.get(1)).unwrap_or_default(), spi(row.get(2)))
}

/// The operator's argument as the rule's `$1`: converted by the declared type's input
/// function (an argument the type refuses raises its error, naming the rule).
fn rule_argument(rule: &str, parameter: Option<pg_sys::Oid>, argument: Option<&str>) -> DatumWithOid<'static> {
    match (parameter, argument) {
        (None, None) => DatumWithOid::null_oid(pg_sys::TEXTOID),
        (None, Some(_)) => {
            ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, format!("batch rule \"{rule}\" takes no argument"))
                .raise()
        }
        (Some(parameter), None) => ErasureError::new(
            ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("batch rule \"{rule}\" takes an argument of type {}", type_name(parameter)),
        )
        .raise(),
        (Some(parameter), Some(text)) => {
            let invalid = |detail: String| {
                ErasureError::new(
                    ERRCODE_INVALID_TEXT_REPRESENTATION,
                    format!("invalid argument for batch rule \"{rule}\""),
                )
                .detail(detail)
            };
            let c_text = CString::new(text).unwrap_or_else(|_| invalid("It contains a NUL byte.".into()).raise());
            unsafe {
                let (mut input, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
                pg_sys::getTypeInputInfo(parameter, &mut input, &mut ioparam);
                let datum = rewrap(
                    || pg_sys::OidInputFunctionCall(input, c_text.as_ptr() as *mut _, ioparam, -1),
                    |e| {
                        ErasureError::new(code_of(e), format!("invalid argument for batch rule \"{rule}\""))
                            .detail(e.message().to_string())
                            .hint(format!("It takes a value of type {}.", type_name(parameter)))
                    },
                );
                DatumWithOid::new(datum, parameter)
            }
        }
    }
}

/// The types of the columns `query` returns, from its parse analysis.
fn result_types(query: &str, types: &[pg_sys::Oid]) -> Vec<pg_sys::Oid> {
    let text = CString::new(query).unwrap_or_default();
    let mut types = types.to_vec();
    unsafe {
        let plan = pg_sys::SPI_prepare(text.as_ptr(), types.len() as i32, types.as_mut_ptr());
        let sources = pgrx::PgList::<pg_sys::CachedPlanSource>::from_pg(pg_sys::SPI_plan_get_plan_sources(plan));
        let returned = sources
            .get_ptr(0)
            .filter(|source| !(**source).resultDesc.is_null())
            .map(|source| {
                pgrx::PgTupleDesc::from_pg_unchecked((*source).resultDesc)
                    .iter()
                    .filter(|a| !a.attisdropped)
                    .map(|a| a.atttypid)
                    .collect()
            })
            .unwrap_or_default();
        pg_sys::SPI_freeplan(plan);
        returned
    }
}

fn type_name(type_oid: pg_sys::Oid) -> String {
    unsafe { std::ffi::CStr::from_ptr(pg_sys::format_type_be(type_oid)).to_string_lossy().into_owned() }
}

fn type_names(types: &[pg_sys::Oid]) -> String {
    types.iter().map(|t| type_name(*t)).collect::<Vec<_>>().join(", ")
}
