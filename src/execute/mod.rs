//! Execute: running a plan for one subject.
//!
//! ```sql
//! SELECT * FROM erasure.erasure_blockers(42);          -- why customer 42 cannot go yet
//! SELECT erasure.anonymize_customer(42);               -- erase it, get the report
//! ```
//!
//! - `key`: the caller's id (any type) to the subject's key type;
//! - `locks`: the lock timeout, and lock waits reported with the table that waited;
//! - `blockers`: the business rules that forbid an erasure;
//! - `report`: the jsonb report.

pub mod blockers;
pub mod key;
pub mod locks;
pub mod report;

use pgrx::prelude::*;

use crate::error::*;
use crate::plan::{cache, Plan};
use key::Key;

/// Erases one subject: locks its row, refuses while blockers exist, locks the rows of every
/// mask and delete table, applies all changes in one statement and returns the report.
pub fn anonymize(subject: &str, id: &str) -> pgrx::JsonB {
    cache::with_plan(subject, |plan| {
        if !plan.has_tables {
            ErasureError::new(
                ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!("erasure subject \"{subject}\" has no registered tables"),
            )
            .hint("Register the tables holding its rows with erasure.register_table(); retained tables count too.")
            .raise();
        }
        let key = Key::parse(plan, id);
        locks::with_lock_timeout(|| {
            Spi::connect_mut(|client| {
                let found = locks::run(plan, &key.text, &plan.subject_table, || {
                    spi(client.update(&plan.lock_subject, None, &[key.argument()])).len()
                });
                if found == 0 {
                    not_found(plan, &key);
                }
                let items = blockers::find(client, plan, &key);
                if !items.is_empty() {
                    blockers::refuse(plan, &key, &items);
                }
                for lock in &plan.locks {
                    locks::run(plan, &key.text, &lock.table, || spi(client.update(&lock.statement, None, &[key.argument()])));
                }
                let mut arguments = vec![key.argument()];
                arguments.extend(plan.apply_parameters.iter().map(|v| v.as_str().into()));
                let counts = spi(client.update(&plan.apply, None, &arguments));
                let counts = counts.first();
                let rows: Vec<i64> = (1..=plan.outcomes.len())
                    .map(|i| spi(counts.get::<i64>(i)).unwrap_or(0))
                    .collect();
                report::anonymized(plan, &key, &rows)
            })
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

fn not_found(plan: &Plan, key: &Key) -> ! {
    ErasureError::new(ERRCODE_NO_DATA_FOUND, format!("{} \"{}\" does not exist", plan.subject, key.text))
        .detail(format!("No row of {} has {} = {}.", plan.subject_table, plan.key_column, key.text))
        .raise()
}
