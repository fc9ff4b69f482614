//! pg_erasure: erase a data subject's personal data inside PostgreSQL, following per-column
//! policies that migrations register in a catalog.
//!
//! This file is the SQL surface only: each function below converts its SQL arguments and
//! hands over to the layer that does the work:
//! - `catalog` (registration and validation) →
//! - `plan` (catalog to ordered, prepared statements, cached per session) →
//! - `execute` (locks, blockers, statements, report).
//!
//! Erasures run with the rights of their subject's owner and registration checks its caller's
//! ownership (`security`). The SQL declarations are written by hand in `sql/api.sql` (exact types such as regclass
//! and name[], defaults, pinned search_path, comments); `sql/catalog.sql` holds the catalog.

use std::ffi::CStr;

use pgrx::datum::{AnyArray, AnyElement};
use pgrx::prelude::*;
use pgrx::{Array, JsonB};

mod catalog;
mod citus;
mod error;
mod execute;
mod gucs;
mod keyed_hash;
mod plan;
mod security;

use catalog::register;
use error::require;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/catalog.sql", name = "catalog", bootstrap);
extension_sql_file!("../sql/api.sql", name = "api", requires = ["catalog"]);
extension_sql_file!("../sql/check.sql", name = "check", requires = ["api"]);
extension_sql_file!("../sql/security.sql", name = "security", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
    plan::cache::init();
}

fn name_text(name: &CStr) -> String {
    name.to_string_lossy().into_owned()
}

fn name_list(names: Array<'_, &CStr>, argument: &str) -> Vec<String> {
    names.iter().map(|n| name_text(require(n, &format!("elements of {argument}")))).collect()
}

#[pg_extern(sql = false)]
fn register_subject(
    subject: Option<&str>,
    tbl: Option<pg_sys::Oid>,
    key_column: Option<&CStr>,
    summary_columns: Option<Array<'_, &CStr>>,
    personal_key: Option<bool>,
) {
    register::register_subject(
        require(subject, "subject"),
        require(tbl, "tbl"),
        key_column.map(name_text),
        summary_columns.map(|s| name_list(s, "summary_columns")).unwrap_or_default(),
        require(personal_key, "personal_key"),
    )
}

// The SQL signature has nine arguments, each with a meaning of its own.
#[allow(clippy::too_many_arguments)]
#[pg_extern(sql = false)]
fn register_table(
    subject: Option<&str>,
    tbl: Option<pg_sys::Oid>,
    action: Option<&str>,
    via: Option<Array<'_, &CStr>>,
    parent: Option<pg_sys::Oid>,
    filter: Option<&str>,
    reason: Option<&str>,
    retain_for: Option<pgrx::datum::Interval>,
    retain_from: Option<&CStr>,
    referenced_by: Option<Array<'_, &CStr>>,
) {
    register::register_table(register::TableRegistration {
        subject: require(subject, "subject").to_string(),
        tbl: require(tbl, "tbl"),
        action: require(action, "action").to_string(),
        via: via.map(|v| name_list(v, "via")),
        parent,
        filter: filter.map(str::to_string),
        reason: reason.map(str::to_string),
        retain_for,
        retain_from: retain_from.map(name_text),
        referenced_by: referenced_by.map(|v| name_list(v, "referenced_by")),
    })
}

#[pg_extern(sql = false)]
fn set_policy(tbl: Option<pg_sys::Oid>, col: Option<&CStr>, strategy: Option<&str>, params: Option<JsonB>) {
    register::set_policy(
        require(tbl, "tbl"),
        &name_text(require(col, "col")),
        require(strategy, "strategy"),
        require(params, "params").0,
    )
}

#[pg_extern(sql = false)]
fn check_policy(tbl: Option<pg_sys::Oid>, col: Option<&CStr>) {
    register::check_policy(require(tbl, "tbl"), &name_text(require(col, "col")))
}

#[pg_extern(sql = false)]
fn strategy_fits(tbl: Option<pg_sys::Oid>, col: Option<&CStr>, strategy: Option<&str>, params: Option<JsonB>) -> bool {
    let params = params.map_or(serde_json::json!({}), |p| p.0);
    register::strategy_fits(
        require(tbl, "tbl"),
        &name_text(require(col, "col")),
        require(strategy, "strategy"),
        &params,
    )
}

#[pg_extern(sql = false)]
fn sharding_problems(
    subject: Option<&str>,
) -> TableIterator<'static, (name!(tbl, pg_sys::Oid), name!(problem, String), name!(hint, String))> {
    TableIterator::new(citus::problems_of(require(subject, "subject")))
}

#[pg_extern(sql = false)]
fn drop_table(subject: Option<&str>, tbl: Option<pg_sys::Oid>, cascade: Option<bool>) {
    catalog::unregister::drop_table(require(subject, "subject"), require(tbl, "tbl"), require(cascade, "cascade"))
}

#[pg_extern(sql = false)]
fn drop_blocker(subject: Option<&str>, name: Option<&str>) {
    catalog::unregister::drop_blocker(require(subject, "subject"), require(name, "name"))
}

#[pg_extern(sql = false)]
fn drop_subject(subject: Option<&str>, cascade: Option<bool>) {
    catalog::unregister::drop_subject(require(subject, "subject"), require(cascade, "cascade"))
}

#[pg_extern(sql = false)]
fn drop_policy(tbl: Option<pg_sys::Oid>, col: Option<&CStr>) {
    register::drop_policy(require(tbl, "tbl"), &name_text(require(col, "col")))
}

#[pg_extern(sql = false)]
fn register_blocker(subject: Option<&str>, name: Option<&str>, query: Option<&str>, message: Option<&str>) {
    register::register_blocker(
        require(subject, "subject"),
        require(name, "name"),
        require(query, "query"),
        message.map(str::to_string),
    )
}

/// The caller's id in text form, whatever its SQL type.
fn id_text(id: Option<AnyElement>) -> String {
    let id = require(id, "id");
    execute::key::output(id.datum(), id.oid())
}

#[pg_extern(sql = false)]
fn erasure_blockers(
    id: Option<AnyElement>,
    subject: Option<&str>,
) -> TableIterator<'static, (name!(blocker, String), name!(message, String), name!(details, JsonB))> {
    let (subject, id) = (require(subject, "subject"), id_text(id));
    let items = execute::erasure_blockers(subject, &id);
    TableIterator::new(items.into_iter().map(|i| (i.blocker, i.message, JsonB(i.details))))
}

#[pg_extern(sql = false)]
fn anonymize(subject: Option<&str>, id: Option<AnyElement>, mode: Option<&str>, reference: Option<&str>) -> JsonB {
    let mode = execute::Mode::parse(require(mode, "mode"));
    let (subject, id) = (require(subject, "subject"), id_text(id));
    execute::erase(subject, &id, mode, reference)
}

// The customer shorthands are C functions too: an SQL wrapper would be parsed and planned again
// on every call from a new statement.
#[pg_extern(sql = false)]
fn anonymize_customer(id: Option<AnyElement>) -> JsonB {
    anonymize(Some("customer"), id, Some("anonymize"), None)
}

#[pg_extern(sql = false)]
fn delete_customer(id: Option<AnyElement>) -> JsonB {
    anonymize(Some("customer"), id, Some("delete"), None)
}

#[pg_extern(sql = false)]
fn anonymize_many(
    subject: Option<&str>,
    ids: Option<AnyArray>,
    mode: Option<&str>,
) -> TableIterator<'static, (name!(key, String), name!(status, String), name!(report, JsonB))> {
    let mode = execute::Mode::parse(require(mode, "mode"));
    let ids = require(ids, "ids");
    let texts: Vec<String> =
        execute::key::array_texts(ids.datum(), ids.oid()).into_iter().map(|t| require(t, "elements of ids")).collect();
    let subject = require(subject, "subject");
    let lines = execute::bulk::erase_many(subject, &texts, mode);
    TableIterator::new(lines.into_iter().map(|l| (l.key, l.status, JsonB(l.report))))
}

#[pg_extern(sql = false)]
fn release_expired(subject: Option<&str>) -> TableIterator<'static, (name!(table, String), name!(rows, i64))> {
    TableIterator::new(execute::release::release_expired(subject))
}

#[pg_extern(sql = false)]
fn cleanup(subject: Option<&str>) -> TableIterator<'static, (name!(rel, pg_sys::Oid), name!(step, String))> {
    TableIterator::new(execute::cleanup::cleanup(subject))
}

#[pg_extern(sql = false)]
fn replay(
    ledger: Option<JsonB>,
) -> TableIterator<'static, (name!(request_id, i64), name!(subject, String), name!(key, String), name!(status, String))>
{
    let ledger = require(ledger, "ledger").0;
    TableIterator::new(execute::replay::replay(ledger))
}

#[pg_extern(sql = false)]
fn residual_scan(
    id: Option<AnyElement>,
    subject: Option<&str>,
) -> TableIterator<
    'static,
    (
        name!(tbl, pg_sys::Oid),
        name!(col, String),
        name!(row_key, Option<String>),
        name!(matched, String),
        name!(acknowledged, bool),
    ),
> {
    let (subject, id) = (require(subject, "subject"), id_text(id));
    let residuals = execute::residual::residual_scan(subject, &id);
    TableIterator::new(residuals.into_iter().map(|r| (r.tbl, r.col, r.row_key, r.matched, r.acknowledged)))
}

#[pg_extern(sql = false)]
fn verify(
    subject: Option<&str>,
    id: Option<AnyElement>,
) -> TableIterator<
    'static,
    (
        name!(tbl, pg_sys::Oid),
        name!(col, Option<String>),
        name!(strategy, Option<String>),
        name!(problem, String),
        name!(rows, i64),
    ),
> {
    let (subject, id) = (require(subject, "subject"), id_text(id));
    let findings = execute::verify::verify(subject, &id);
    TableIterator::new(findings.into_iter().map(|f| (f.tbl, f.col, f.strategy, f.problem, f.rows)))
}

#[pg_extern(sql = false)]
fn erasure_preview(id: Option<AnyElement>, subject: Option<&str>) -> JsonB {
    let (subject, id) = (require(subject, "subject"), id_text(id));
    execute::preview(subject, &id)
}

#[pg_extern(sql = false)]
fn ledger_key(subject: Option<&str>, key: Option<&str>) -> String {
    execute::ledger::ledger_key(require(subject, "subject"), require(key, "key"))
}

#[pg_extern(sql = false)]
fn canonical_key(subject: Option<&str>, id: Option<&str>) -> String {
    execute::canonical_key(require(subject, "subject"), require(id, "id"))
}

#[pg_extern(sql = false)]
fn is_erased(subject: Option<&str>, id: Option<AnyElement>) -> bool {
    let (subject, id) = (require(subject, "subject"), id_text(id));
    execute::is_erased(subject, &id)
}

#[pg_extern(sql = false)]
fn mark_restriction(subject: Option<&str>, id: Option<&str>, restricted: Option<bool>) {
    execute::restriction::mark(require(subject, "subject"), require(id, "id"), require(restricted, "restricted"))
}

#[pg_extern(sql = false)]
fn setting_period(name: Option<&str>) -> pgrx::datum::Interval {
    gucs::period(require(name, "name"))
}

#[pg_extern(sql = false)]
fn hmac_sha256(value: &str, key: &str) -> String {
    keyed_hash::hmac_sha256(value, key)
}

#[pg_extern(sql = false)]
fn set_hmac_key(key: Option<&str>) {
    keyed_hash::set_key(require(key, "key"))
}

#[pg_extern(sql = false)]
fn values_look_personal(tbl: Option<pg_sys::Oid>, col: Option<&CStr>) -> Option<bool> {
    catalog::sample::values_look_personal(require(tbl, "tbl"), &name_text(require(col, "col")))
}

#[pg_extern(sql = false)]
fn renamed_column(command: pgrx::Internal) -> Option<String> {
    // SAFETY: sql/check.sql declares the argument as pg_ddl_command, a CollectedCommand pointer.
    unsafe { command.get::<pg_sys::CollectedCommand>() }.and_then(catalog::renames::renamed_column)
}

#[pg_extern(sql = false)]
fn register_batch_rule(
    subject: Option<&str>,
    name: Option<&str>,
    query: Option<&str>,
    parameter: Option<pg_sys::Oid>,
    comment: Option<&str>,
) {
    catalog::batch_rules::register_batch_rule(
        require(subject, "subject"),
        require(name, "name"),
        require(query, "query"),
        parameter,
        comment.map(str::to_string),
    )
}

#[pg_extern(sql = false)]
fn drop_batch_rule(subject: Option<&str>, name: Option<&str>) {
    catalog::batch_rules::drop_batch_rule(require(subject, "subject"), require(name, "name"))
}

#[pg_extern(sql = false)]
fn batch_candidates(
    subject: Option<&str>,
    rule: Option<&str>,
    argument: Option<&str>,
    except_keys: Option<Array<'_, &str>>,
) -> SetOfIterator<'static, String> {
    let except_keys: Vec<String> =
        require(except_keys, "except_keys").iter().map(|k| require(k, "elements of except_keys").to_string()).collect();
    let keys =
        catalog::batch_rules::candidates(require(subject, "subject"), require(rule, "rule"), argument, &except_keys);
    SetOfIterator::new(keys)
}

#[pg_extern(sql = false)]
fn acknowledge(
    subject: Option<&str>,
    finding: Option<&str>,
    tbl: Option<pg_sys::Oid>,
    object: Option<&CStr>,
    reason: Option<&str>,
) {
    catalog::acknowledge::acknowledge(
        require(subject, "subject"),
        require(finding, "finding"),
        require(tbl, "tbl"),
        &name_text(require(object, "object")),
        require(reason, "reason"),
    )
}

#[pg_extern(sql = false)]
fn unacknowledge(subject: Option<&str>, finding: Option<&str>, tbl: Option<pg_sys::Oid>, object: Option<&CStr>) {
    catalog::acknowledge::unacknowledge(
        require(subject, "subject"),
        require(finding, "finding"),
        require(tbl, "tbl"),
        &name_text(require(object, "object")),
    )
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn name_arrays_arrive_intact() {
        Spi::run("CREATE TABLE people (id bigint PRIMARY KEY, full_name text, email text)").unwrap();
        Spi::run("SELECT erasure.register_subject('person', 'people', summary_columns => '{full_name,email}')")
            .unwrap();
        let summary = Spi::get_one::<Vec<String>>(
            "SELECT summary_columns::text[] FROM erasure.subjects WHERE subject = 'person'",
        );
        assert_eq!(summary, Ok(Some(vec!["full_name".to_string(), "email".to_string()])));
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
