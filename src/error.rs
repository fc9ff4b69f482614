//! Every error a user can cause goes through here, so each kind has one SQLSTATE and one wording.
//!
//! Messages follow PostgreSQL's style guide: lower case, the object named in quotes, the
//! explanation in DETAIL and the remedy in HINT. Raising aborts the transaction, so bad input
//! never leaves a half-written catalog or a half-erased subject behind.

use std::panic::AssertUnwindSafe;

use pgrx::pg_sys::panic::{CaughtError, ErrorReport, ErrorReportWithLevel};
use pgrx::pg_sys::PgTryBuilder;
use pgrx::{PgLogLevel, PgSqlErrorCode};

pub use PgSqlErrorCode::*;

/// An error about to be raised: SQLSTATE, message, and optional DETAIL and HINT.
#[must_use = "an ErasureError does nothing until raised"]
pub struct ErasureError {
    code: PgSqlErrorCode,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
}

impl ErasureError {
    pub fn new(code: PgSqlErrorCode, message: impl Into<String>) -> Self {
        ErasureError { code, message: message.into(), detail: None, hint: None }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Raises the error as a PostgreSQL ERROR; the current transaction is aborted.
    pub fn raise(self) -> ! {
        let mut report = ErrorReport::new(self.code, self.message, "pg_erasure");
        if let Some(detail) = self.detail {
            report = report.set_detail(detail);
        }
        if let Some(hint) = self.hint {
            report = report.set_hint(hint);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("an ERROR report does not return")
    }
}

/// Raises a NULL-argument error: every argument of the SQL API that has no default is required.
pub fn require<T>(value: Option<T>, argument: &str) -> T {
    value.unwrap_or_else(|| {
        ErasureError::new(ERRCODE_NULL_VALUE_NOT_ALLOWED, format!("{argument} must not be NULL")).raise()
    })
}

/// Unwraps a result of pgrx's SPI layer. Its errors (as opposed to PostgreSQL ERRORs, which
/// propagate by themselves) mean pg_erasure asked for something it should not have: a bug.
pub fn spi<T>(result: pgrx::spi::SpiResult<T>) -> T {
    result.unwrap_or_else(|e| {
        ErasureError::new(ERRCODE_INTERNAL_ERROR, format!("pg_erasure internal SPI error: {e}")).raise()
    })
}

/// Runs `body`; if PostgreSQL raises an ERROR inside it, raises `wrap(error)` instead, so that
/// the user sees which registration or which table the failure belongs to. Re-raising at once
/// is what makes catching safe here: the transaction aborts and PostgreSQL cleans up.
pub fn rewrap<R>(body: impl FnOnce() -> R, wrap: impl FnOnce(&ErrorReportWithLevel) -> ErasureError) -> R {
    rewrap_when(|_| true, body, wrap)
}

/// Like `rewrap`, for errors with SQLSTATE `code` only; other errors pass unchanged.
pub fn rewrap_code<R>(
    code: PgSqlErrorCode,
    body: impl FnOnce() -> R,
    wrap: impl FnOnce(&ErrorReportWithLevel) -> ErasureError,
) -> R {
    rewrap_when(|c| c == code, body, wrap)
}

/// Like `rewrap`, for errors whose SQLSTATE satisfies `matches`; other errors pass unchanged.
pub fn rewrap_when<R>(
    matches: impl Fn(PgSqlErrorCode) -> bool,
    body: impl FnOnce() -> R,
    wrap: impl FnOnce(&ErrorReportWithLevel) -> ErasureError,
) -> R {
    let body = AssertUnwindSafe(body);
    let mut wrap = AssertUnwindSafe(Some(wrap));
    let matches = AssertUnwindSafe(matches);
    let handler = move |caught: CaughtError| -> R {
        let (wrap, matches) = (&mut wrap, &matches);
        match (caught, wrap.0.take()) {
            (CaughtError::PostgresError(ref report), Some(wrap)) if (matches.0)(report.sql_error_code()) => {
                wrap(report).raise()
            }
            (other, _) => other.rethrow(),
        }
    };
    PgTryBuilder::new(move || {
        let body = body;
        (body.0)()
    })
    .catch_others(handler)
    .execute()
}

/// Whether `code` is in the integrity constraint violation class (23xxx).
pub fn is_integrity_violation(code: PgSqlErrorCode) -> bool {
    let class = code as i32 & 0xFFF; // the first two characters of the SQLSTATE, 6 bits each
    class == (ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION as i32 & 0xFFF)
}

/// The SQLSTATE of a caught PostgreSQL error, to keep it when re-raising with more context.
pub fn code_of(report: &ErrorReportWithLevel) -> PgSqlErrorCode {
    report.sql_error_code()
}
