//! The jsonb reports of an erasure and of its preview. An erasure reports:
//!
//! ```json
//! {"subject": "customer", "key": "42", "status": "anonymized", "mode": "anonymize",
//!  "request_id": 17,
//!  "tables": [{"table": "shop.customers", "action": "masked", "rows": 1},
//!             {"table": "billing.invoices", "action": "retained", "rows": 2, "reason": "bookkeeping law"}],
//!  "unreviewed_columns": ["shop.customers.notes"]}
//! ```

use serde_json::{json, Value};

use super::blockers::Item;
use super::ledger::Entry;
use super::{key::Key, Decision, Mode};
use crate::catalog::entries::Action;
use crate::plan::Plan;

pub fn status(decision: Decision) -> &'static str {
    match decision {
        Decision::Anonymize => "anonymized",
        Decision::Delete => "deleted",
    }
}

/// What happened to each table: `rows[i]` counts `plan.tables[i]`. Under a delete, every
/// table but the retained ones is deleted.
/// The report's tables: `rows` has a count per table, then (`Plan::apply_width`) for each table
/// the subject points to the rows it points to, of which those not changed were shared.
pub fn tables(plan: &Plan, decision: Decision, rows: &[i64]) -> Value {
    let mut pointed_to = rows.iter().skip(plan.tables.len());
    Value::Array(
        plan.tables
            .iter()
            .zip(rows)
            .map(|(outcome, &rows)| {
                let action = match (outcome.action, decision) {
                    (Action::Retain, _) => "retained",
                    (Action::Delete, _) | (Action::Mask, Decision::Delete) => "deleted",
                    (Action::Mask, Decision::Anonymize) if outcome.writes => "masked",
                    (Action::Mask, Decision::Anonymize) => "kept",
                };
                let mut table = json!({"table": outcome.table, "action": action, "rows": rows});
                if let Some(reason) = &outcome.reason {
                    table["reason"] = json!(reason);
                }
                if outcome.shares {
                    table["shared"] = json!(pointed_to.next().map_or(0, |&all| all - rows));
                }
                table
            })
            .collect(),
    )
}

pub fn erased(
    plan: &Plan,
    key: &str,
    status: &str,
    mode: Mode,
    why: Option<String>,
    request_id: i64,
    tables: Value,
) -> Value {
    let mut report = json!({
        "subject": plan.subject,
        "key": key,
        "status": status,
        "mode": mode.as_str(),
        "request_id": request_id,
        "tables": tables,
        "unreviewed_columns": plan.unreviewed_columns,
    });
    if let Some(why) = why {
        report["decision_reason"] = json!(why);
    }
    report
}

/// A repeated request: nothing was changed; the report points at the original erasure.
pub fn already_erased(plan: &Plan, key: &str, entry: &Entry) -> Value {
    json!({
        "subject": plan.subject,
        "key": key,
        "status": "already_erased",
        "erased_as": entry.status,
        "request_id": entry.request_id,
        "executed_at": entry.executed_at,
    })
}

/// The confirmation screen: who (summary), what would happen (decision, tables), and what
/// stands in the way (blockers). `decision` is None when blockers forbid the erasure.
pub fn preview(
    plan: &Plan,
    key: &Key,
    summary: Value,
    decision: Option<Decision>,
    items: &[Item],
    rows: &[i64],
) -> pgrx::JsonB {
    let label = match decision {
        Some(Decision::Anonymize) => "anonymize",
        Some(Decision::Delete) => "delete",
        None => "blocked",
    };
    let tables: Vec<Value> = plan
        .tables
        .iter()
        .zip(rows)
        .map(|(o, &n)| json!({"table": o.table, "action": o.action.as_str(), "rows": n}))
        .collect();
    pgrx::JsonB(json!({
        "subject": plan.subject,
        "key": key.text,
        "summary": summary,
        "decision": label,
        "blockers": super::blockers::as_json(items),
        "tables": tables,
        "unreviewed_columns": plan.unreviewed_columns,
    }))
}
