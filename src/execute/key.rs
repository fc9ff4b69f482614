//! The subject key a caller passes: any type in (`42`, `'C-001'`, a uuid), converted through
//! text to the key column's type, so `anonymize_customer(42)` works on a bigint key and a
//! text literal works on a uuid key.

use std::ffi::{CStr, CString};

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

use crate::error::*;
use crate::plan::Plan;

#[derive(Clone)]
pub struct Key {
    datum: pg_sys::Datum,
    type_oid: pg_sys::Oid,
    /// The key in the key type's own text form (`42`, not `042`): for reports and messages.
    pub text: String,
}

impl Key {
    /// Converts `id` to the plan's key type; an id the type does not accept raises 22P02.
    pub fn parse(plan: &Plan, id: &str) -> Key {
        let invalid = |detail: String| -> ! {
            ErasureError::new(ERRCODE_INVALID_TEXT_REPRESENTATION, format!("invalid {} key \"{id}\"", plan.subject))
                .detail(detail)
                .hint(format!(
                    "The key column {}.{} is of type {}.",
                    plan.subject_table, plan.key_column, plan.key_type_sql
                ))
                .raise()
        };
        let text = CString::new(id).unwrap_or_else(|_| invalid("It contains a NUL byte.".into()));
        unsafe {
            let (mut input, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
            pg_sys::getTypeInputInfo(plan.key_type, &mut input, &mut ioparam);
            let datum = rewrap(
                || pg_sys::OidInputFunctionCall(input, text.as_ptr() as *mut _, ioparam, -1),
                |e| {
                    ErasureError::new(code_of(e), format!("invalid {} key \"{id}\"", plan.subject))
                        .detail(e.message().to_string())
                },
            );
            Key { datum, type_oid: plan.key_type, text: output(datum, plan.key_type) }
        }
    }

    /// The same key with the text its row stores (`7` for a `7.0` given for a numeric key), so
    /// that the ledger, reports and repeats know one subject by one text.
    pub fn stored_as(&self, text: String) -> Key {
        Key { text, ..self.clone() }
    }

    /// The key as the `$1` argument of a plan's statements.
    pub fn argument(&self) -> DatumWithOid<'static> {
        unsafe { DatumWithOid::new(self.datum, self.type_oid) }
    }
}

/// The elements of an array of any type, each in its type's text form (as a single id is
/// read), NULL elements as None.
pub fn array_texts(array: pg_sys::Datum, type_oid: pg_sys::Oid) -> Vec<Option<String>> {
    Spi::connect(|client| {
        let argument = unsafe { DatumWithOid::new(array, type_oid) };
        spi(client.select("SELECT CAST($1 AS pg_catalog.text[])", None, &[argument]).and_then(|r| r.first().get(1)))
            .unwrap_or_default()
    })
}

/// The text form of any value, by its type's output function.
pub fn output(datum: pg_sys::Datum, type_oid: pg_sys::Oid) -> String {
    unsafe {
        let (mut func, mut varlena) = (pg_sys::InvalidOid, false);
        pg_sys::getTypeOutputInfo(type_oid, &mut func, &mut varlena);
        CStr::from_ptr(pg_sys::OidOutputFunctionCall(func, datum)).to_string_lossy().into_owned()
    }
}
