//! Retained means enforced: whatever runs during an erasure — a trigger on a masked table, a
//! foreign key's ON UPDATE CASCADE, a rule — must not change a retained table (invoices stay
//! byte-identical). The erasure compares what its transaction has written to each retained
//! table before and after its statement, and fails, changing nothing, if anything did.

use pgrx::spi::SpiClient;

use crate::error::*;
use crate::plan::Plan;

/// What the transaction has written so far to each retained table of the plan.
pub struct Written(Vec<String>);

pub fn before(client: &SpiClient<'_>, plan: &Plan) -> Option<Written> {
    let statement = plan.retained_changes.as_ref()?;
    Some(Written(
        spi(client.select(statement, None, &[])).map(|row| spi(row.get::<String>(1)).unwrap_or_default()).collect(),
    ))
}

/// Raises 27000 naming the first retained table the erasure (`who`) wrote to.
pub fn require_unchanged(client: &SpiClient<'_>, plan: &Plan, who: &str, before: Option<Written>) {
    let Some(Written(before)) = before else { return };
    let after = self::before(client, plan).map(|w| w.0).unwrap_or_default();
    let changed = plan.retained_tables.iter().zip(before.iter().zip(&after)).find(|(_, (b, a))| b != a);
    if let Some((table, _)) = changed {
        ErasureError::new(
            ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION,
            format!("the erasure of {who} changed rows of retained table \"{table}\""),
        )
        .detail(
            "A trigger, rule or foreign key action wrote to it during the erasure; retained rows must stay as they \
             are, so nothing was changed.",
        )
        .hint("erasure.check() lists the triggers and foreign keys of the registered tables.")
        .raise();
    }
}
