//! Blockers: registered business rules (orders awaiting payment, active subscriptions, unpaid
//! invoices, a running contract) that forbid erasing a subject yet.

use std::collections::HashMap;

use pgrx::datum::DatumWithOid;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use serde_json::Value;

use super::key::Key;
use crate::error::*;
use crate::plan::{BlockerPlan, Plan};

/// One blocking item: a row returned by a blocker's query.
pub struct Item {
    pub blocker: String,
    pub message: String,
    pub details: Value,
}

impl Item {
    fn new(blocker: &BlockerPlan, details: Option<pgrx::JsonB>) -> Item {
        Item {
            blocker: blocker.name.clone(),
            message: blocker.message.clone().unwrap_or_else(|| blocker.name.clone()),
            details: details.map_or(Value::Null, |j| j.0),
        }
    }
}

/// Runs every blocker of the plan for `key`, in blocker-name order.
pub fn find(client: &SpiClient<'_>, plan: &Plan, key: &Key) -> Vec<Item> {
    let mut items = Vec::new();
    for blocker in &plan.blockers {
        let rows = failing_as(plan, &format!("blocker \"{}\"", blocker.name), || {
            spi(client.select(&blocker.statement, None, &[key.argument()]))
        });
        for row in rows {
            items.push(Item::new(blocker, spi(row.get(1))));
        }
    }
    items
}

/// Runs a blocker's query; an error it raises (its function's body naming a table the pinned
/// search_path does not find, a privilege the owner lost) names the blocker and its subject,
/// keeping its SQLSTATE, so the DBA knows which registration to fix.
fn failing_as<R>(plan: &Plan, what: &str, f: impl FnOnce() -> R) -> R {
    rewrap(f, |e| {
        let error = ErasureError::new(
            code_of(e),
            format!("{what} of erasure subject \"{}\" failed: {}", plan.subject, e.message()),
        )
        .hint("Blocker queries run as the owner of the subject's table with search_path pg_catalog, pg_temp.");
        match e.detail() {
            Some(detail) => error.detail(detail),
            None => error,
        }
    })
}

/// The blocking items of a batch of keys (`keys`, an array of them), found by one statement
/// for the whole batch: per key with any, in blocker-name order as `find` lists them.
pub fn find_many(
    client: &SpiClient<'_>,
    plan: &Plan,
    statement: &OwnedPreparedStatement,
    keys: DatumWithOid<'_>,
) -> HashMap<String, Vec<Item>> {
    let mut found: HashMap<String, Vec<(usize, Item)>> = HashMap::new();
    let rows = failing_as(plan, "a blocker", || spi(client.select(statement, None, &[keys])));
    for row in rows {
        let position = spi(row.get::<i32>(1)).unwrap_or_default() as usize;
        let key: String = spi(row.get(2)).unwrap_or_default();
        found.entry(key).or_default().push((position, Item::new(&plan.blockers[position], spi(row.get(3)))));
    }
    found
        .into_iter()
        .map(|(key, mut items)| {
            // Stable: a blocker's rows stay in the order its query returned them.
            items.sort_by_key(|(position, _)| *position);
            (key, items.into_iter().map(|(_, item)| item).collect())
        })
        .collect()
}

/// The items as the jsonb a report or preview shows.
pub fn as_json(items: &[Item]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|i| serde_json::json!({"blocker": i.blocker, "message": i.message, "details": i.details}))
            .collect(),
    )
}

/// Refuses the erasure: 55000, naming the subject and the count, and in DETAIL each blocker
/// with its number of items. The items themselves hold values of the shop's rows, which errors
/// and the server log must not: `erasure_blockers()` lists them.
pub fn refuse(plan: &Plan, key: &Key, items: &[Item]) -> ! {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for item in items {
        match counts.iter_mut().find(|(name, _)| *name == item.blocker) {
            Some((_, n)) => *n += 1,
            None => counts.push((&item.blocker, 1)),
        }
    }
    let detail: Vec<String> =
        counts.iter().map(|(name, n)| format!("{name}: {n} {}", if *n == 1 { "item" } else { "items" })).collect();
    let noun = if items.len() == 1 { "blocking item" } else { "blocking items" };
    ErasureError::new(
        ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("{} cannot be erased yet: {} {noun}", super::named(plan, &key.text), items.len()),
    )
    .detail(detail.join("\n"))
    .hint(format!(
        "SELECT * FROM erasure.erasure_blockers('{}', '{}') lists them; resolve them and retry.",
        if plan.digest_key.is_some() { "<key>".to_string() } else { key.text.replace('\'', "''") },
        plan.subject.replace('\'', "''")
    ))
    .raise()
}
