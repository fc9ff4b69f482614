//! Blockers: registered business rules (orders awaiting payment, active subscriptions, unpaid
//! invoices, a running contract) that forbid erasing a subject yet.

use pgrx::spi::SpiClient;
use serde_json::Value;

use super::key::Key;
use crate::error::*;
use crate::plan::Plan;

/// One blocking item: a row returned by a blocker's query.
pub struct Item {
    pub blocker: String,
    pub message: String,
    pub details: Value,
}

/// Runs every blocker of the plan for `key`, in blocker-name order.
pub fn find(client: &SpiClient<'_>, plan: &Plan, key: &Key) -> Vec<Item> {
    let mut items = Vec::new();
    for blocker in &plan.blockers {
        let rows = spi(client.select(&blocker.statement, None, &[key.argument()]));
        for row in rows {
            items.push(Item {
                blocker: blocker.name.clone(),
                message: blocker.message.clone().unwrap_or_else(|| blocker.name.clone()),
                details: spi(row.get::<pgrx::JsonB>(1)).map_or(Value::Null, |j| j.0),
            });
        }
    }
    items
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

/// Refuses the erasure: 55000, naming the subject and the count, each item in DETAIL.
pub fn refuse(plan: &Plan, key: &Key, items: &[Item]) -> ! {
    let detail: Vec<String> = items.iter().map(|i| format!("{}: {}", i.blocker, i.details)).collect();
    let noun = if items.len() == 1 { "blocking item" } else { "blocking items" };
    ErasureError::new(
        ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("{} \"{}\" cannot be erased yet: {} {noun}", plan.subject, key.text, items.len()),
    )
    .detail(detail.join("\n"))
    .hint(format!(
        "SELECT * FROM erasure.erasure_blockers('{}', '{}') lists them; resolve them and retry.",
        key.text.replace('\'', "''"),
        plan.subject.replace('\'', "''")
    ))
    .raise()
}
