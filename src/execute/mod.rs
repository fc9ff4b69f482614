//! Execute: running a plan for one subject.
//!
//! ```sql
//! SELECT * FROM erasure.erasure_blockers(42);          -- why customer 42 cannot go yet
//! SELECT erasure.erasure_preview(42);                  -- what an erasure would do
//! SELECT erasure.anonymize_customer(42);               -- erase it, get the report
//! SELECT erasure.anonymize('customer', 42, 'auto');    -- delete if it has no kept rows
//! ```
//!
//! - `key`: the caller's id (any type) to the subject's key type;
//! - `locks`: the lock timeout, and lock waits reported with the table that waited;
//! - `blockers`: the business rules that forbid an erasure;
//! - `ledger`: the record of every erasure, and the notification of it;
//! - `report`: the jsonb reports.

pub mod blockers;
pub mod key;
pub mod ledger;
pub mod locks;
pub mod report;

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::catalog::entries::Action;
use crate::error::*;
use crate::plan::{cache, Plan};
use key::Key;

/// How the caller wants a subject erased.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Mask the subject and its rows, delete the `delete` rows, keep the retained ones.
    Anonymize,
    /// Delete the subject and every registered row; refused while retained rows exist.
    Delete,
    /// Delete when the subject has rows only in `delete` tables, anonymize otherwise.
    Auto,
}

impl Mode {
    pub fn parse(mode: &str) -> Mode {
        match mode {
            "anonymize" => Mode::Anonymize,
            "delete" => Mode::Delete,
            "auto" => Mode::Auto,
            _ => ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, format!("unknown erasure mode \"{mode}\""))
                .hint("Use anonymize, delete or auto.")
                .raise(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Anonymize => "anonymize",
            Mode::Delete => "delete",
            Mode::Auto => "auto",
        }
    }
}

/// What an erasure does once allowed, and why.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Anonymize,
    Delete,
}

/// Erases one subject: locks its row, returns the earlier result if it was already erased,
/// refuses while blockers exist, decides between anonymizing and deleting, locks the rows of
/// every table it will change, changes them all in one statement, records the erasure in the
/// ledger, and returns the report.
pub fn erase(subject: &str, id: &str, mode: Mode, reference: Option<&str>) -> pgrx::JsonB {
    cache::with_plan(subject, |plan| {
        require_tables(plan);
        let key = Key::parse(plan, id);
        locks::with_lock_timeout(|| {
            Spi::connect_mut(|client| {
                let found = locks::run(plan, &key.text, &plan.subject_table, || {
                    spi(client.update(&plan.lock_subject, None, &[key.argument()])).len()
                });
                // Checked after the lock: a concurrent erasure of the same subject has committed
                // its ledger row by the time this one gets the lock.
                if let Some(entry) = ledger::find(client, plan, &key) {
                    return report::already_erased(plan, &key, &entry);
                }
                if found == 0 {
                    not_found(plan, &key);
                }
                let items = blockers::find(client, plan, &key);
                if !items.is_empty() {
                    blockers::refuse(plan, &key, &items);
                }
                let (decision, why) = decide(client, plan, &key, mode);
                for lock in &plan.locks {
                    locks::run(plan, &key.text, &lock.table, || spi(client.update(&lock.statement, None, &[key.argument()])));
                }
                let rows = match decision {
                    Decision::Anonymize => {
                        let mut arguments = vec![key.argument()];
                        arguments.extend(plan.apply_parameters.iter().map(|v| v.as_str().into()));
                        counts(client, plan, &plan.apply, &arguments)
                    }
                    Decision::Delete => counts(client, plan, &plan.delete_all, &[key.argument()]),
                };
                let tables = report::tables(plan, decision, &rows);
                let status = report::status(decision);
                let request_id =
                    ledger::record(client, plan, &key, status, mode.as_str(), tables.clone(), reference);
                report::erased(plan, &key, status, mode, why, request_id, tables)
            })
        })
    })
}

/// What a preview shows on a confirmation screen; changes nothing and takes no write locks.
pub fn preview(subject: &str, id: &str) -> pgrx::JsonB {
    cache::with_plan(subject, |plan| {
        require_tables(plan);
        let key = Key::parse(plan, id);
        Spi::connect(|client| {
            if let Some(entry) = ledger::find(client, plan, &key) {
                let mut report = report::already_erased(plan, &key, &entry);
                report.0["decision"] = "already_erased".into();
                return report;
            }
            let summary = spi(client.select(&plan.summary, None, &[key.argument()]));
            if summary.is_empty() {
                not_found(plan, &key);
            }
            let summary = spi(summary.first().get::<pgrx::JsonB>(1)).map_or(serde_json::Value::Null, |j| j.0);
            let items = blockers::find(client, plan, &key);
            let rows = counts(client, plan, &plan.census, &[key.argument()]);
            let decision = items.is_empty().then(|| auto_decision(plan, &rows));
            report::preview(plan, &key, summary, decision, &items, &rows)
        })
    })
}

/// The blocking items of one subject, without locking or changing anything.
pub fn erasure_blockers(subject: &str, id: &str) -> Vec<blockers::Item> {
    cache::with_plan(subject, |plan| {
        let key = Key::parse(plan, id);
        Spi::connect(|client| {
            if spi(client.select(&plan.find_subject, None, &[key.argument()])).is_empty() {
                not_found(plan, &key);
            }
            blockers::find(client, plan, &key)
        })
    })
}

/// Whether the ledger records an erasure of the subject.
pub fn is_erased(subject: &str, id: &str) -> bool {
    cache::with_plan(subject, |plan| {
        let key = Key::parse(plan, id);
        Spi::connect(|client| ledger::find(client, plan, &key).is_some())
    })
}

fn require_tables(plan: &Plan) {
    if !plan.has_tables {
        ErasureError::new(
            ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("erasure subject \"{}\" has no registered tables", plan.subject),
        )
        .hint("Register the tables holding its rows with erasure.register_table(); retained tables count too.")
        .raise();
    }
}

/// Resolves the mode into a decision, with the reason for `auto`. Delete is refused while
/// the subject has retained rows: those must be kept, so the subject can only be anonymized.
fn decide(client: &SpiClient<'_>, plan: &Plan, key: &Key, mode: Mode) -> (Decision, Option<String>) {
    if mode == Mode::Anonymize {
        return (Decision::Anonymize, None);
    }
    let rows = counts(client, plan, &plan.census, &[key.argument()]);
    if mode == Mode::Auto {
        let decision = auto_decision(plan, &rows);
        let why = match decision {
            Decision::Delete => "no rows in masked or retained tables: nothing needs to be kept",
            Decision::Anonymize => "rows in masked or retained tables must be kept, without the person",
        };
        return (decision, Some(why.to_string()));
    }
    let retained: Vec<String> = plan
        .outcomes
        .iter()
        .zip(&rows)
        .filter(|(o, &n)| o.action == Action::Retain && n > 0)
        .map(|(o, &n)| format!("{n} retained {} in {}", if n == 1 { "row" } else { "rows" }, o.table))
        .collect();
    if !retained.is_empty() {
        ErasureError::new(
            ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("{} \"{}\" cannot be deleted: {} must be kept", plan.subject, key.text, retained.join(", ")),
        )
        .hint("Anonymize instead: erasure.anonymize(subject, id, 'anonymize') keeps retained rows untouched.")
        .raise();
    }
    (Decision::Delete, None)
}

/// Seed 004's rule: a subject whose only rows besides its own are in `delete` tables (logs)
/// is deleted; one with orders, invoices or anything else kept is anonymized.
fn auto_decision(plan: &Plan, rows: &[i64]) -> Decision {
    let kept = plan
        .outcomes
        .iter()
        .zip(rows)
        .skip(1) // the subject's own row
        .any(|(o, &n)| o.action != Action::Delete && n > 0);
    if kept {
        Decision::Anonymize
    } else {
        Decision::Delete
    }
}

/// Runs a statement of the plan that returns one count per table.
fn counts(client: &SpiClient<'_>, plan: &Plan, statement: &pgrx::spi::OwnedPreparedStatement, arguments: &[pgrx::datum::DatumWithOid<'_>]) -> Vec<i64> {
    let row = spi(client.select(statement, None, arguments)).first();
    (1..=plan.outcomes.len()).map(|i| spi(row.get::<i64>(i)).unwrap_or(0)).collect()
}

fn not_found(plan: &Plan, key: &Key) -> ! {
    ErasureError::new(ERRCODE_NO_DATA_FOUND, format!("{} \"{}\" does not exist", plan.subject, key.text))
        .detail(format!("No row of {} has {} = {}.", plan.subject_table, plan.key_column, key.text))
        .raise()
}
