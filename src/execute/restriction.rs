//! GDPR art. 18: while an erasure request waits (approved, in its cooling-off window or
//! blocked), the subject's columns with policy `restricted_at` hold the time the restriction
//! began, for the application to filter on; the request functions set and lift them.
//!
//! ```sql
//! SELECT erasure.approve_request(7);   -- marks the subject's row
//! SELECT erasure.cancel_request(7);    -- lifts it (the erasure lifts it too: the policy writes NULL)
//! ```

use pgrx::prelude::*;

use super::key::Key;
use crate::error::*;
use crate::plan::cache;

/// Marks the subject's row as restricted since now, or lifts the mark; nothing when the subject
/// has no `restricted_at` column or no row with the key. Runs as the subject's owner.
pub fn mark(subject: &str, id: &str, restricted: bool) {
    cache::with_plan(subject, |plan| {
        let Some(statement) = &plan.restriction else { return };
        let key = Key::parse(plan, id);
        Spi::connect_mut(|client| {
            spi(client.update(statement, None, &[key.argument(), restricted.into()]));
        });
    })
}
