//! What an erasure's statement writes besides its own UPDATEs and DELETEs: whatever its
//! triggers, rules and foreign key actions do. The erasure compares what its transaction has
//! written to each table of the plan (with its partitions and inheritance children) before and
//! after the statement, from PostgreSQL's per-transaction table statistics — the counters
//! behind `pg_stat_get_xact_tuples_inserted()` and the like, which include live
//! subtransactions — and each table's file (a TRUNCATE gives it a new one).
//!
//! - Retained means enforced: a retained table written to (an invoice rewritten by a trigger on
//!   the customers, an ON UPDATE CASCADE) fails the erasure with 27000, changing nothing.
//! - Copies are erased too: rows inserted into a masked or deleted table (an audit trigger
//!   copying `OLD` into a registered history table) are copies of what the statement erased,
//!   made after its own DELETE of that table ran. The statement then runs once more, which
//!   deletes or masks them like the others; what that second run's triggers copy are the masked
//!   values.

use pgrx::prelude::*;

use crate::catalog::entries::Action;
use crate::error::*;
use crate::plan::Plan;

/// What the transaction has written to one table of the plan (with its descendants).
#[derive(PartialEq, Eq)]
struct Table {
    inserted: i64,
    updated: i64,
    deleted: i64,
    files: Vec<u32>,
}

/// Per table of the plan, in plan order.
pub struct Written(Vec<Table>);

pub fn so_far(plan: &Plan) -> Written {
    Written(plan.watched.iter().map(|oids| table(oids)).collect())
}

fn table(oids: &[pg_sys::Oid]) -> Table {
    let mut written = Table { inserted: 0, updated: 0, deleted: 0, files: Vec::with_capacity(oids.len()) };
    for &oid in oids {
        written.inserted += counter(pg_sys::F_PG_STAT_GET_XACT_TUPLES_INSERTED, oid);
        written.updated += counter(pg_sys::F_PG_STAT_GET_XACT_TUPLES_UPDATED, oid);
        written.deleted += counter(pg_sys::F_PG_STAT_GET_XACT_TUPLES_DELETED, oid);
        written.files.push(file_of(oid));
    }
    written
}

/// One of PostgreSQL's per-transaction counters of a table, by its built-in function's OID (an
/// int8 it never returns NULL for).
pub(super) fn counter(function: u32, oid: pg_sys::Oid) -> i64 {
    let function = pg_sys::Oid::from(function);
    unsafe { pg_sys::OidFunctionCall1Coll(function, pg_sys::InvalidOid, pg_sys::Datum::from(oid)).value() as i64 }
}

/// The table's file number (`pg_class.relfilenode`; 0 for one without storage).
fn file_of(oid: pg_sys::Oid) -> u32 {
    unsafe {
        let tuple = pg_sys::SearchSysCache1(pg_sys::SysCacheIdentifier::RELOID as i32, pg_sys::Datum::from(oid));
        if tuple.is_null() {
            return 0;
        }
        let form = pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_class>(tuple);
        let file = (*form).relfilenode.to_u32();
        pg_sys::ReleaseSysCache(tuple);
        file
    }
}

/// After the erasure's statement (`who` erased): raises 27000 naming the first retained table
/// that was written to, and says whether rows were inserted into a table the erasure masks or
/// deletes.
pub fn copies_made(plan: &Plan, who: &str, before: &Written) -> bool {
    let after = so_far(plan);
    let mut copies = false;
    for (outcome, (before, after)) in plan.tables.iter().zip(before.0.iter().zip(&after.0)) {
        match outcome.action {
            Action::Retain if before != after => ErasureError::new(
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
            _ => copies |= after.inserted > before.inserted,
        }
    }
    copies
}
