//! Settings (GUCs) of pg_erasure, registered when the library loads.
//!
//! - `erasure.lock_timeout`: how long an erasure waits for a row lock before giving up with
//!   SQLSTATE 55P03; applied only while the erasure runs, the session's own lock_timeout is
//!   left as it was.
//! - `erasure.response_days`: how many days a request may wait before it is overdue (GDPR:
//!   one month; LGPD users set 15).
//! - `erasure.cooling_off`: how long an approved request waits before `process_requests()`
//!   erases it, during which it can still be cancelled (0: none).
//! - `erasure.keep_requests`: how long finished requests keep their details before
//!   `purge_requests()` removes them; the ledger keeps the proof of each erasure for good.
//! - `erasure.require_complete`: strict mode; erasures refuse while `erasure.check()` reports an
//!   error for their subject. Only superusers change it (the server's configuration, ALTER
//!   DATABASE or ALTER ROLE): an operator cannot switch it off for its own session.
//!
//! The two periods are settings of time (`7d`, `36h`, `0`) that the request functions read as
//! intervals; like strict mode, only superusers change them, so that no operator shortens a
//! window or purges early from its own session.
//!
//! The secret of the `hmac` strategy is not a setting (`keyed_hash`).

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

use crate::error::*;

pub static LOCK_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(5000);
pub static RESPONSE_DAYS: GucSetting<i32> = GucSetting::<i32>::new(30);
pub static COOLING_OFF_S: GucSetting<i32> = GucSetting::<i32>::new(0);
pub static KEEP_REQUESTS_S: GucSetting<i32> = GucSetting::<i32>::new(3 * 365 * 86_400);
pub static REQUIRE_COMPLETE: GucSetting<bool> = GucSetting::<bool>::new(false);

/// A setting of time as an interval, for the request functions in SQL: `cooling_off` or
/// `keep_requests` (whole days as days, the rest as time). Read through this function, the
/// library is loaded and the setting defined even in a session that called nothing else yet.
pub fn period(name: &str) -> pgrx::datum::Interval {
    let seconds = match name {
        "cooling_off" => COOLING_OFF_S.get(),
        "keep_requests" => KEEP_REQUESTS_S.get(),
        _ => ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, format!("\"{name}\" is not a period of pg_erasure"))
            .hint("Use cooling_off or keep_requests.")
            .raise(),
    };
    pgrx::datum::Interval::new(0, seconds / 86_400, i64::from(seconds % 86_400) * 1_000_000)
        .unwrap_or_else(|_| ErasureError::new(ERRCODE_INTERNAL_ERROR, "invalid period").raise())
}

pub fn init() {
    GucRegistry::define_int_guc(
        c"erasure.lock_timeout",
        c"How long an erasure waits for a row lock (0 waits forever).",
        c"Past it the erasure fails with SQLSTATE 55P03 naming the table, and nothing is changed.",
        &LOCK_TIMEOUT_MS,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"erasure.response_days",
        c"Days within which an erasure request must be answered.",
        c"erasure.request() sets each request's due date this many days after it was received.",
        &RESPONSE_DAYS,
        1,
        3650,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"erasure.cooling_off",
        c"How long an approved erasure request waits before it is erased (0: not at all).",
        c"During the window the request can be cancelled; erasure.process_requests() erases it afterwards.",
        &COOLING_OFF_S,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"erasure.keep_requests",
        c"How long finished erasure requests keep their details.",
        c"erasure.purge_requests() removes requests that ended longer ago; the ledger keeps the proof of each erasure.",
        &KEEP_REQUESTS_S,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_bool_guc(
        c"erasure.require_complete",
        c"Refuse erasures while erasure.check() reports an error for their subject.",
        c"Recommended in production: an incomplete catalog would leave personal data behind.",
        &REQUIRE_COMPLETE,
        GucContext::Suset,
        GucFlags::default(),
    );
    // Reject misspelled erasure.* settings instead of keeping them as silent placeholders.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"erasure".as_ptr()) };
}
