//! Lock waits: bounded by `erasure.lock_timeout` (set by `security::as_owner` for everything an
//! erasure runs) and reported with the table that waited.

use crate::error::*;
use crate::gucs;

/// Runs a locking statement on `table`; a lock timeout becomes a 55P03 naming the table and
/// whose rows (`who`: `customer "42"`), any other error passes unchanged.
pub fn run<R>(who: &str, table: &str, f: impl FnOnce() -> R) -> R {
    rewrap_code(ERRCODE_LOCK_NOT_AVAILABLE, f, |_| {
        ErasureError::new(ERRCODE_LOCK_NOT_AVAILABLE, format!("could not lock the rows of {who} in table \"{table}\""))
            .detail(format!(
                "Another transaction held them longer than erasure.lock_timeout ({} ms); nothing was changed.",
                gucs::LOCK_TIMEOUT_MS.get()
            ))
            .hint("Retry when that transaction has ended, or raise erasure.lock_timeout.")
    })
}
