//! Lock waits: bounded by `erasure.lock_timeout` (set by `security::as_owner` for everything an
//! erasure runs) and reported with the table that waited.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::error::*;
use crate::gucs;
use crate::plan::{Plan, RowLocks};

/// Runs a locking statement on `table`; a lock timeout becomes a 55P03 naming the table and
/// whose rows (`who`: `customer "42"`), any other error passes unchanged.
pub fn run<R>(who: &str, table: &str, f: impl FnOnce() -> R) -> R {
    rewrap_code(ERRCODE_LOCK_NOT_AVAILABLE, f, |_| timed_out(who, &format!("table \"{table}\"")))
}

/// Locks the rows of every table the erasure changes (`key`: the key or the batch's keys), by
/// the plan's one statement. A lock timeout names the table that waited: the statement reads
/// its tables in lock order, and locks each table's rows as it reads them, so it was the last
/// one whose rows the transaction has read so far (PostgreSQL's per-transaction counters,
/// compared with those before the statement). When none was read yet (a lock on a whole table
/// held by a migration), every table is named.
pub fn run_all(client: &mut SpiClient<'_>, plan: &Plan, locks: &RowLocks, who: &str, key: DatumWithOid<'_>) {
    let before = reads(plan, locks);
    rewrap_code(
        ERRCODE_LOCK_NOT_AVAILABLE,
        || spi(client.update(&locks.statement, None, &[key])),
        |_| {
            let after = reads(plan, locks);
            let waited = (0..locks.tables.len()).rev().find(|&i| after[i] != before[i]);
            let name = |i: usize| format!("\"{}\"", plan.tables[i].table);
            let place = match waited {
                Some(i) => format!("table {}", name(locks.tables[i])),
                None => {
                    let all: Vec<String> = locks.tables.iter().map(|&i| name(i)).collect();
                    format!("one of the tables {}", all.join(", "))
                }
            };
            timed_out(who, &place)
        },
    );
}

/// `place`: `table "shop.orders"`, or `one of the tables "a", "b"`.
fn timed_out(who: &str, place: &str) -> ErasureError {
    ErasureError::new(ERRCODE_LOCK_NOT_AVAILABLE, format!("could not lock the rows of {who} in {place}"))
        .detail(format!(
            "Another transaction held them longer than erasure.lock_timeout ({} ms); nothing was changed.",
            gucs::LOCK_TIMEOUT_MS.get()
        ))
        .hint("Retry when that transaction has ended, or raise erasure.lock_timeout.")
}

/// Per locked table, how many rows the transaction has read from it (with its partitions and
/// children) so far, by scan or by index.
fn reads(plan: &Plan, locks: &RowLocks) -> Vec<i64> {
    locks
        .tables
        .iter()
        .map(|&i| {
            plan.watched[i]
                .iter()
                .map(|&oid| {
                    super::writes::counter(pg_sys::F_PG_STAT_GET_XACT_TUPLES_FETCHED, oid)
                        + super::writes::counter(pg_sys::F_PG_STAT_GET_XACT_TUPLES_RETURNED, oid)
                })
                .sum()
        })
        .collect()
}
