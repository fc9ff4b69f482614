//! What an erasure's statement writes besides its own UPDATEs and DELETEs: whatever its
//! triggers, rules and foreign key actions do. The erasure compares what its transaction has
//! written to each table of the plan before and after the statement.
//!
//! - Retained means enforced: a retained table written to (an invoice rewritten by a trigger on
//!   the customers, an ON UPDATE CASCADE) fails the erasure with 27000, changing nothing.
//! - Copies are erased too: rows inserted into a masked or deleted table (an audit trigger
//!   copying `OLD` into a registered history table) are copies of what the statement erased,
//!   made after its own DELETE of that table ran. The statement then runs once more, which
//!   deletes or masks them like the others; what that second run's triggers copy are the masked
//!   values.

use pgrx::spi::SpiClient;

use crate::catalog::entries::Action;
use crate::error::*;
use crate::plan::Plan;

/// Per table of the plan: the rows the transaction inserted so far, and a fingerprint of all
/// it wrote.
pub struct Written(Vec<(i64, String)>);

pub fn so_far(client: &SpiClient<'_>, plan: &Plan) -> Written {
    Written(
        spi(client.select(&plan.writes, None, &[]))
            .map(|row| (spi(row.get::<i64>(1)).unwrap_or(0), spi(row.get::<String>(2)).unwrap_or_default()))
            .collect(),
    )
}

/// After the erasure's statement (`who` erased): raises 27000 naming the first retained table
/// that was written to, and says whether rows were inserted into a table the erasure masks or
/// deletes.
pub fn copies_made(client: &SpiClient<'_>, plan: &Plan, who: &str, before: &Written) -> bool {
    let after = so_far(client, plan);
    let tables = plan.outcomes.iter().zip(before.0.iter().zip(&after.0));
    let mut copies = false;
    for (outcome, ((inserted_before, written_before), (inserted_after, written_after))) in tables {
        match outcome.action {
            Action::Retain if written_before != written_after => ErasureError::new(
                ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION,
                format!("the erasure of {who} changed rows of retained table \"{}\"", outcome.table),
            )
            .detail(
                "A trigger, rule or foreign key action wrote to it during the erasure; retained rows must stay as \
                 they are, so nothing was changed.",
            )
            .hint("erasure.check() lists the triggers and foreign keys of the registered tables.")
            .raise(),
            Action::Retain => {}
            _ => copies |= inserted_after > inserted_before,
        }
    }
    copies
}
