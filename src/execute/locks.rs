//! Lock waits: bounded by `erasure.lock_timeout` and reported with the table that waited.

use std::ffi::CString;

use pgrx::prelude::*;

use crate::error::*;
use crate::gucs;

/// Runs `f` with PostgreSQL's lock_timeout set to `erasure.lock_timeout`, then restores the
/// caller's value, the way a function's `SET` clause does (an error restores it too).
pub fn with_lock_timeout<R>(f: impl FnOnce() -> R) -> R {
    let value = CString::new(gucs::LOCK_TIMEOUT_MS.get().to_string()).unwrap_or_default();
    unsafe {
        let nest_level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"lock_timeout".as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        let result = f();
        pg_sys::AtEOXact_GUC(true, nest_level);
        result
    }
}

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
