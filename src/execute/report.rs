//! The jsonb report an erasure returns:
//!
//! ```json
//! {"subject": "customer", "key": "42", "status": "anonymized",
//!  "tables": [{"table": "shop.customers", "action": "masked", "rows": 1},
//!             {"table": "billing.invoices", "action": "retained", "rows": 2, "reason": "bookkeeping law"}],
//!  "unreviewed_columns": ["shop.customers.notes"]}
//! ```

use serde::Serialize;

use super::key::Key;
use crate::catalog::entries::Action;
use crate::plan::Plan;

#[derive(Serialize)]
struct Report<'a> {
    subject: &'a str,
    key: &'a str,
    status: &'static str,
    tables: Vec<TableReport<'a>>,
    unreviewed_columns: &'a [String],
}

#[derive(Serialize)]
struct TableReport<'a> {
    table: &'a str,
    action: &'static str,
    rows: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// The report of a finished anonymization; `rows[i]` counts `plan.outcomes[i]`.
pub fn anonymized(plan: &Plan, key: &Key, rows: &[i64]) -> pgrx::JsonB {
    let tables = plan
        .outcomes
        .iter()
        .zip(rows)
        .map(|(outcome, &rows)| TableReport {
            table: &outcome.table,
            action: match outcome.action {
                Action::Mask => "masked",
                Action::Delete => "deleted",
                Action::Retain => "retained",
            },
            rows,
            reason: outcome.reason.as_deref(),
        })
        .collect();
    let report = Report {
        subject: &plan.subject,
        key: &key.text,
        status: "anonymized",
        tables,
        unreviewed_columns: &plan.unreviewed_columns,
    };
    pgrx::JsonB(serde_json::to_value(report).unwrap_or_default())
}
