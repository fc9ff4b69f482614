//! Settings (GUCs) of pg_erasure, registered when the library loads.
//!
//! - `erasure.lock_timeout`: how long an erasure waits for a row lock before giving up with
//!   SQLSTATE 55P03; applied only while the erasure runs, the session's own lock_timeout is
//!   left as it was.
//! - `erasure.response_days`: how many days a request may wait before it is overdue (GDPR:
//!   one month; LGPD users set 15).
//! - `erasure.require_complete`: strict mode; erasures refuse while `erasure.check()` reports an
//!   error for their subject. Only superusers change it (the server's configuration, ALTER
//!   DATABASE or ALTER ROLE): an operator cannot switch it off for its own session.
//!
//! The secret of the `hmac` strategy is not a setting (`keyed_hash`).

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

pub static LOCK_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(5000);
pub static RESPONSE_DAYS: GucSetting<i32> = GucSetting::<i32>::new(30);
pub static REQUIRE_COMPLETE: GucSetting<bool> = GucSetting::<bool>::new(false);

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
