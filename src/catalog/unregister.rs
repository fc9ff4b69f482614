//! Taking registrations back: what a reverse migration calls. Each is idempotent like the
//! registrations (dropping what is not registered does nothing), owner-checked like them, and
//! refuses to leave anything orphaned unless `cascade` says to drop it too:
//!
//! ```sql
//! SELECT erasure.drop_blocker('customer', 'order_awaiting_payment');
//! SELECT erasure.drop_table('customer', 'shop.orders', cascade => true);  -- and order_items
//! SELECT erasure.drop_subject('customer', cascade => true);
//! ```
//!
//! The ledger and the request queue are records, not configuration: they stay.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::register::{catalog_changed, hold};
use super::{entries, schema};
use crate::error::*;
use crate::security;

pub fn drop_table(subject: &str, tbl: pg_sys::Oid, cascade: bool) {
    let changed = Spi::connect_mut(|client| {
        hold(client, &[subject], &[tbl]);
        let entry = entries::require_subject(client, subject);
        hold(client, &[], &[entry.tbl]);
        let subject_table = schema::relation(client, entry.tbl);
        security::require_owner(client, &subject_table, &format!("drop tables of erasure subject \"{subject}\""));
        if tbl == entry.tbl {
            ErasureError::new(
                ERRCODE_INVALID_PARAMETER_VALUE,
                format!("table \"{}\" is the table of erasure subject \"{subject}\"", subject_table.name),
            )
            .hint(format!("Drop the subject instead: SELECT erasure.drop_subject('{subject}', cascade => true);"))
            .raise();
        }
        let registered = entries::tables(client, subject);
        if !registered.iter().any(|t| t.tbl == tbl) {
            return false;
        }
        security::require_owner(client, &schema::relation(client, tbl), "drop it from an erasure subject");
        // The table and every registered table below it, found through it.
        let mut dropped = vec![tbl];
        let mut i = 0;
        while i < dropped.len() {
            let parent = dropped[i];
            dropped.extend(registered.iter().filter(|t| t.parent == parent).map(|t| t.tbl));
            i += 1;
        }
        let name = schema::relation(client, tbl).name;
        if dropped.len() > 1 && !cascade {
            let below: Vec<String> = dropped[1..].iter().map(|t| schema::relation(client, *t).name).collect();
            ErasureError::new(
                ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop table \"{name}\" of erasure subject \"{subject}\": registered tables are found through it"),
            )
            .detail(format!("Registered below it: {}.", below.join(", ")))
            .hint(format!("Drop those first, or SELECT erasure.drop_table('{subject}', '{name}', cascade => true);"))
            .raise();
        }
        let orphaned = orphaned_policies(client, subject, &dropped, cascade, |table| {
            format!("SELECT erasure.drop_table('{subject}', '{table}', cascade => true);")
        });
        security::as_extension_owner(security::extension_owner(client), || {
            spi(client.update(
                "DELETE FROM erasure.tables WHERE subject = $1 AND tbl = ANY ($2)",
                None,
                &[subject.into(), dropped.clone().into()],
            ));
            drop_policies(client, &orphaned);
        });
        true
    });
    if changed {
        catalog_changed(&[subject.to_string()]);
    }
}

pub fn drop_blocker(subject: &str, name: &str) {
    let changed = Spi::connect_mut(|client| {
        hold(client, &[subject], &[]);
        let entry = entries::require_subject(client, subject);
        let subject_table = schema::relation(client, entry.tbl);
        security::require_owner(client, &subject_table, &format!("drop blockers of erasure subject \"{subject}\""));
        security::as_extension_owner(security::extension_owner(client), || {
            spi(client.update(
                "DELETE FROM erasure.blockers WHERE subject = $1 AND name = $2",
                None,
                &[subject.into(), name.into()],
            ))
            .len()
                > 0
        })
    });
    if changed {
        catalog_changed(&[subject.to_string()]);
    }
}

pub fn drop_subject(subject: &str, cascade: bool) {
    let dropped = Spi::connect_mut(|client| {
        hold(client, &[subject], &[]);
        let Some(entry) = entries::subject(client, subject) else { return false };
        hold(client, &[], &[entry.tbl]);
        let subject_table = schema::relation(client, entry.tbl);
        security::require_owner(client, &subject_table, &format!("drop erasure subject \"{subject}\""));
        let tables = entries::tables(client, subject);
        let blockers = entries::blockers(client, subject);
        if !cascade && !(tables.is_empty() && blockers.is_empty()) {
            ErasureError::new(
                ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop erasure subject \"{subject}\": it has registered tables or blockers"),
            )
            .detail(format!("{} registered tables, {} blockers.", tables.len(), blockers.len()))
            .hint(format!("Drop them first, or SELECT erasure.drop_subject('{subject}', cascade => true);"))
            .raise();
        }
        let open = open_requests(client, subject);
        if open > 0 {
            ErasureError::new(
                ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!("cannot drop erasure subject \"{subject}\" while erasure requests of it are open"),
            )
            .detail(format!("Open requests: {open}. A request is erased or closed before the rules that erase it go."))
            .hint(format!(
                "SELECT * FROM erasure.requests WHERE subject = '{subject}' lists them; erasure.process_requests() runs them."
            ))
            .raise();
        }
        let mut all: Vec<pg_sys::Oid> = vec![entry.tbl];
        all.extend(tables.iter().map(|t| t.tbl));
        let orphaned = orphaned_policies(client, subject, &all, cascade, |_| {
            format!("SELECT erasure.drop_subject('{subject}', cascade => true);")
        });
        security::as_extension_owner(security::extension_owner(client), || {
            // Its tables and blockers go with it (ON DELETE CASCADE).
            spi(client.update("DELETE FROM erasure.subjects WHERE subject = $1", None, &[subject.into()]));
            drop_policies(client, &orphaned);
        });
        true
    });
    if dropped {
        crate::plan::cache::invalidate_all_sessions();
    }
}

/// The tables among `dropped` whose column policies no other subject would use once `subject`
/// no longer uses them: refused unless `cascade`, when the caller, who must own each, drops
/// them too. `fix` words the hint for a table.
fn orphaned_policies(
    client: &SpiClient<'_>,
    subject: &str,
    dropped: &[pg_sys::Oid],
    cascade: bool,
    fix: impl Fn(&str) -> String,
) -> Vec<pg_sys::Oid> {
    let mut orphaned = Vec::new();
    for &tbl in dropped {
        let still_used = entries::subjects_using(client, tbl).iter().any(|s| s != subject);
        if still_used || entries::policies(client, tbl).is_empty() {
            continue;
        }
        let relation = schema::relation(client, tbl);
        if !cascade {
            ErasureError::new(
                ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
                format!("table \"{}\" has masking policies that no other erasure subject uses", relation.name),
            )
            .detail("Dropping its registration would leave them behind.")
            .hint(format!(
                "Drop them with erasure.drop_policy('{}', column), or {}",
                relation.name,
                fix(&relation.name)
            ))
            .raise();
        }
        security::require_owner(client, &relation, "drop its masking policies");
        orphaned.push(tbl);
    }
    orphaned
}

fn drop_policies(client: &mut SpiClient<'_>, tables: &[pg_sys::Oid]) {
    if !tables.is_empty() {
        spi(client.update("DELETE FROM erasure.column_policies WHERE tbl = ANY ($1)", None, &[tables.to_vec().into()]));
    }
}

/// Requests of the subject not erased and not closed.
fn open_requests(client: &SpiClient<'_>, subject: &str) -> i64 {
    security::as_extension_owner(security::extension_owner(client), || {
        spi(client
            .select(
                "SELECT pg_catalog.count(*) FROM erasure.request_queue
                  WHERE subject = $1 AND open",
                None,
                &[subject.into()],
            )
            .and_then(|rows| rows.first().get_one::<i64>()))
        .unwrap_or_default()
    })
}
