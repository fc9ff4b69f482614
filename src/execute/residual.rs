//! The residual scan: where the subject's identifying values remain in text an erasure
//! leaves as it is (free-text comments, which no column policy anonymizes).
//!
//! ```sql
//! SELECT * FROM erasure.residual_scan(42);   -- tbl, col, row_key, matched (never the value)
//! ```

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::key::Key;
use super::not_found;
use crate::error::*;
use crate::plan::{cache, Plan};

/// One place where an identifying value of the subject remains: table, column, row key, and
/// the identifier (column of the subject) whose value was found there, never the value.
pub struct Residual {
    pub tbl: pg_sys::Oid,
    pub col: String,
    pub row_key: Option<String>,
    pub matched: String,
    /// The subject's owner accepted identifying values in this column (`erasure.acknowledge`
    /// with finding `residual`: an invoice's billing address, kept by law).
    pub acknowledged: bool,
}

/// Where the subject's identifying values (name, e-mail, phone, CPF: its masked text columns)
/// appear in text the erasure leaves as it is: kept or unreviewed columns, retained tables.
pub fn residual_scan(subject: &str, id: &str) -> Vec<Residual> {
    cache::with_plan(subject, |plan| {
        let key = Key::parse(plan, id);
        Spi::connect(|client| scan(client, plan, &key))
    })
}

pub fn scan(client: &SpiClient<'_>, plan: &Plan, key: &Key) -> Vec<Residual> {
    let values = spi(client.select(&plan.identifiers, None, &[key.argument()]));
    if values.is_empty() {
        not_found(plan, key);
    }
    let values = spi(values.first().get::<pgrx::JsonB>(1)).map_or(serde_json::Value::Null, |j| j.0);
    // Too short a value ("SP", "Bo") would match everywhere: only values of 4 characters or more.
    let identifying: serde_json::Map<String, serde_json::Value> = values
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.as_str().is_some_and(|v| v.trim().chars().count() >= 4))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if identifying.is_empty() {
        return Vec::new();
    }
    let identifying = serde_json::Value::Object(identifying);
    let mut residuals = Vec::new();
    for target in &plan.scans {
        let arguments = [key.argument(), pgrx::JsonB(identifying.clone()).into()];
        let rows = spi(client.select(&target.statement, None, &arguments));
        let mut found: Vec<Residual> = rows
            .map(|row| Residual {
                tbl: target.tbl,
                row_key: spi(row.get(1)),
                col: spi(row.get(2)).unwrap_or_default(),
                matched: spi(row.get(3)).unwrap_or_default(),
                acknowledged: false,
            })
            .collect();
        let mut columns: Vec<String> = found.iter().map(|r| r.col.clone()).collect();
        columns.sort_unstable();
        columns.dedup();
        for col in columns {
            if acknowledged(client, plan, target.tbl, &col) {
                found.iter_mut().filter(|r| r.col == col).for_each(|r| r.acknowledged = true);
            }
        }
        residuals.extend(found);
    }
    residuals
}

/// Whether the subject's owner acknowledged identifying values in `col` of `tbl`, and the column
/// is as it was then (`erasure.acknowledged()`, read as the extension's owner: its catalog).
fn acknowledged(client: &SpiClient<'_>, plan: &Plan, tbl: pg_sys::Oid, col: &str) -> bool {
    crate::security::as_extension_owner(crate::security::extension_owner(client), || {
        spi(client
            .select(
                "SELECT erasure.acknowledged($1, 'residual', $2, $3::pg_catalog.name) IS NOT NULL",
                None,
                &[plan.subject.as_str().into(), tbl.into(), col.into()],
            )
            .and_then(|rows| rows.first().get_one::<bool>()))
        .unwrap_or(false)
    })
}
