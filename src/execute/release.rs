//! Retention that ends: retained rows (invoices kept for bookkeeping law) of anonymized
//! subjects are masked with their table's own policies once their period has passed.
//!
//! ```sql
//! SELECT erasure.register_table('customer', 'billing.invoices', 'retain',
//!        reason => 'bookkeeping law', retain_for => '5 years', retain_from => 'issued_at');
//! SELECT * FROM erasure.release_expired();   -- e.g. nightly
//! ```
//!
//! Each release is a ledger row (status `released`) whose tables record `through`, the latest
//! expiry among the rows it masked, and `start_through`, the latest retention start among them
//! (seconds since 1970). Rows are released in order of their start: the next run masks only
//! rows that start later than that and whose period has ended by now, so a released row is
//! never written twice and rows inside their period are never written.

use std::collections::BTreeMap;

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use serde_json::{json, Map, Value};

use super::bulk::KeyArray;
use super::ledger;
use crate::error::*;
use crate::plan::{cache, values, Plan, ReleasePlan};

/// Releases the expired retained rows of `subject` (every subject when None); returns the
/// rows masked per table.
pub fn release_expired(subject: Option<&str>) -> Vec<(String, i64)> {
    super::require_can_erase();
    let subjects = match subject {
        Some(subject) => vec![subject.to_string()],
        None => Spi::connect(crate::catalog::entries::subject_names),
    };
    let mut released = Vec::new();
    for subject in subjects {
        cache::with_plan(&subject, |plan| {
            if !plan.releases.is_empty() {
                released.extend(Spi::connect_mut(|client| release(client, plan)));
            }
        });
    }
    released
}

fn release(client: &mut SpiClient<'_>, plan: &Plan) -> Vec<(String, i64)> {
    let recorded: Vec<String> = spi(ledger::as_ledger_owner(plan, || {
        client.select(
            "SELECT key FROM erasure.ledger WHERE subject = $1 AND status = 'anonymized' ORDER BY key",
            None,
            &[plan.subject.as_str().into()],
        )
    }))
    .map(|row| spi(row.get::<String>(1)).unwrap_or_default())
    .collect();
    // The keys the ledger's records stand for (the same, but for digests of personal keys).
    let keys_of: BTreeMap<String, String> = ledger::keys_of(client, plan, &recorded).into_iter().collect();
    let keys: Vec<String> = keys_of.values().cloned().collect();
    let array = (!keys.is_empty()).then(|| KeyArray::new(client, plan, &keys));
    let mut totals = Vec::new();
    let mut per_key: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for release in &plan.releases {
        let mut rows = 0;
        if let Some(array) = &array {
            let cutoffs: Map<String, Value> = previous_cutoffs(client, plan, release)
                .into_iter()
                .filter_map(|(recorded, cutoff)| keys_of.get(&recorded).map(|key| (key.clone(), cutoff)))
                .collect();
            let bound = values::bind(&release.parameters);
            let mut arguments = vec![array.argument()];
            arguments.extend(bound.iter().map(|v| v.as_str().into()));
            arguments.push(release.retain_for.as_str().into());
            arguments.push(pgrx::JsonB(Value::Object(cutoffs)).into());
            for row in spi(client.update(&release.statement, None, &arguments)) {
                let key: String = spi(row.get(1)).unwrap_or_default();
                let count: i64 = spi(row.get(2)).unwrap_or_default();
                let through: String = spi(row.get(3)).unwrap_or_default();
                let start_through: String = spi(row.get(4)).unwrap_or_default();
                rows += count;
                per_key.entry(key).or_default().push(json!({
                    "table": release.table, "oid": release.oid.to_u32(), "action": "masked", "rows": count,
                    "through": through, "start_through": start_through,
                }));
            }
        }
        totals.push((release.table.clone(), rows));
    }
    let entries: Vec<(String, &str, Value)> =
        per_key.into_iter().map(|(key, tables)| (key, "released", Value::Array(tables))).collect();
    if !entries.is_empty() {
        ledger::record(client, plan, "release", None, &entries);
    }
    totals
}

/// For each key, the latest retention start among its released rows of the release's table,
/// in seconds since 1970: `{"42": "1767225600"}`. Entries recorded before `start_through`
/// existed give it through their `through`.
fn previous_cutoffs(client: &SpiClient<'_>, plan: &Plan, release: &ReleasePlan) -> Map<String, Value> {
    let sql = format!(
        "SELECT l.key, CAST(pg_catalog.max(COALESCE(CAST(t ->> 'start_through' AS pg_catalog.numeric), {}))
                            AS pg_catalog.text)
           FROM erasure.ledger l, pg_catalog.jsonb_array_elements(l.tables) AS t
          WHERE l.subject = $1 AND l.status = 'released'
            AND (t ->> 'table' = $3 OR t ->> 'oid' = CAST(CAST($4 AS pg_catalog.oid) AS pg_catalog.text))
          GROUP BY l.key",
        release.start_of_older_entry
    );
    spi(ledger::as_ledger_owner(plan, || {
        client.select(
            sql.as_str(),
            None,
            &[
                plan.subject.as_str().into(),
                release.retain_for.as_str().into(),
                release.table.as_str().into(),
                release.oid.into(),
            ],
        )
    }))
    .map(|row| (spi(row.get::<String>(1)).unwrap_or_default(), json!(spi(row.get::<String>(2)).unwrap_or_default())))
    .collect()
}
