//! Acknowledged findings: what the subject's owner reviewed and accepts, so that `check()` and
//! the preview stop reporting it as a problem.
//!
//! ```sql
//! SELECT erasure.acknowledge('customer', 'trigger', 'public.customer', 'last_updated',
//!                            reason => 'sets last_update = now(), copies nothing');
//! SELECT erasure.acknowledge('customer', 'reference', 'public.staff', 'staff_address_id_fkey',
//!                            reason => 'staff addresses are not customer data');
//! SELECT erasure.acknowledge('customer', 'residual', 'billing.invoices', 'billing_address',
//!                            reason => 'invoices keep the billing address by law');
//! ```
//!
//! Each records a fingerprint of its object (`erasure.fingerprint()`); `erasure.acknowledged()`
//! holds only while the object is unchanged, so a redefined trigger or a retyped column is
//! reported again.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::register::hold;
use super::{entries, schema};
use crate::error::*;
use crate::security;

/// The findings that can be acknowledged, and what `object` names for each.
const FINDINGS: [(&str, &str); 3] = [
    ("trigger", "a trigger on a masked or deleted table"),
    ("reference", "the foreign key of an unregistered table onto a registered one"),
    ("residual", "a column of a registered table where the residual scan finds identifying values"),
];

pub fn acknowledge(subject: &str, finding: &str, tbl: pg_sys::Oid, object: &str, reason: &str) {
    if reason.trim().is_empty() {
        ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, "the reason of an acknowledgement must not be empty")
            .hint("Say why the finding is acceptable: what the trigger does, the law that keeps the column.")
            .raise();
    }
    Spi::connect_mut(|client| {
        hold_finding(client, subject, finding, tbl, "acknowledge findings");
        require_finding(client, subject, finding, tbl, object);
        let by = security::caller();
        security::as_extension_owner(security::extension_owner(client), || {
            spi(client.update(
                "INSERT INTO erasure.acknowledgements
                        (subject, finding, tbl, object, fingerprint, reason, acknowledged_by, acknowledged_at)
                 SELECT $1, $2, $3, $4::pg_catalog.name, erasure.fingerprint($2, $3, $4::pg_catalog.name), $5,
                        $6::pg_catalog.name, pg_catalog.now()
                 ON CONFLICT (subject, finding, tbl, object) DO UPDATE
                    SET fingerprint = excluded.fingerprint, reason = excluded.reason,
                        acknowledged_by = excluded.acknowledged_by, acknowledged_at = excluded.acknowledged_at",
                None,
                &[subject.into(), finding.into(), tbl.into(), object.into(), reason.into(), by.into()],
            ))
        });
    });
    // Strict mode caches check()'s errors with the plan: an acknowledged one no longer counts.
    crate::plan::cache::invalidate_all_sessions();
}

pub fn unacknowledge(subject: &str, finding: &str, tbl: pg_sys::Oid, object: &str) {
    let removed = Spi::connect_mut(|client| {
        hold_finding(client, subject, finding, tbl, "take back acknowledgements");
        security::as_extension_owner(security::extension_owner(client), || {
            !spi(client.update(
                "DELETE FROM erasure.acknowledgements
                  WHERE subject = $1 AND finding = $2 AND tbl = $3 AND object = $4::pg_catalog.name",
                None,
                &[subject.into(), finding.into(), tbl.into(), object.into()],
            ))
            .is_empty()
        })
    });
    if removed {
        crate::plan::cache::invalidate_all_sessions();
    }
}

/// Checks the finding kind, locks the subject's registrations and checks that the caller owns
/// the subject's table, as registration does. `what` says what the caller tried.
fn hold_finding(client: &SpiClient<'_>, subject: &str, finding: &str, tbl: pg_sys::Oid, what: &str) {
    if !FINDINGS.iter().any(|(kind, _)| *kind == finding) {
        ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, format!("unknown finding \"{finding}\""))
            .detail(FINDINGS.iter().map(|(kind, object)| format!("{kind}: {object}")).collect::<Vec<_>>().join("; "))
            .hint("Name one of them, with its object on the table.")
            .raise();
    }
    hold(client, &[subject], &[]);
    let entry = entries::require_subject(client, subject);
    hold(client, &[], &[entry.tbl, tbl]);
    security::require_owner(
        client,
        &schema::relation(client, entry.tbl),
        &format!("{what} of erasure subject \"{subject}\""),
    );
}

/// Refuses what `check()` (or the residual scan) does not report for the subject: the object
/// must exist on `tbl`, and `tbl` must be where the finding is reported.
fn require_finding(client: &SpiClient<'_>, subject: &str, finding: &str, tbl: pg_sys::Oid, object: &str) {
    let relation = schema::relation(client, tbl);
    let entry = entries::require_subject(client, subject);
    let tables = entries::tables(client, subject);
    // A partition is erased with its registered parent: what check() says of the parent holds
    // for it (pg_partition_ancestors() lists a partition's ancestors and the partition itself,
    // nothing for a table outside a partition tree).
    let entry_of = |oid: pg_sys::Oid| -> Option<&entries::TableEntry> {
        let mut tree: Vec<pg_sys::Oid> = spi(client
            .select(
                "SELECT pg_catalog.array_agg(relid)::pg_catalog.oid[] FROM pg_catalog.pg_partition_ancestors($1)",
                None,
                &[oid.into()],
            )
            .and_then(|rows| rows.first().get_one()))
        .unwrap_or_default();
        tree.push(oid);
        tables.iter().find(|t| tree.contains(&t.tbl))
    };
    let registered = |oid: pg_sys::Oid| oid == entry.tbl || entry_of(oid).is_some();
    let one = |sql: &str| -> Option<pg_sys::Oid> {
        let rows = spi(client.select(sql, None, &[tbl.into(), object.into()]));
        if rows.is_empty() {
            None
        } else {
            spi(rows.first().get_one())
        }
    };
    let reported = match finding {
        "trigger" => {
            one("SELECT t.oid FROM pg_catalog.pg_trigger t
                  WHERE t.tgrelid = $1 AND t.tgname = $2::pg_catalog.name AND NOT t.tgisinternal")
            .unwrap_or_else(|| missing(&format!("trigger \"{object}\" of table {}", relation.name)));
            tbl == entry.tbl
                || entry_of(tbl).is_some_and(|t| matches!(t.action, entries::Action::Mask | entries::Action::Delete))
        }
        "reference" => {
            let referenced = one("SELECT c.confrelid FROM pg_catalog.pg_constraint c
                  WHERE c.conrelid = $1 AND c.conname = $2::pg_catalog.name AND c.contype = 'f'")
            .unwrap_or_else(|| missing(&format!("foreign key \"{object}\" of table {}", relation.name)));
            // rows pointing to a row the subject points to are reported as shared, not as an error
            !registered(tbl) && (referenced == entry.tbl || entry_of(referenced).is_some_and(|t| !t.referenced))
        }
        _ => {
            schema::column(&relation, &schema::columns(client, tbl), object);
            registered(tbl)
        }
    };
    if !reported {
        ErasureError::new(
            ERRCODE_UNDEFINED_OBJECT,
            format!(
                "no finding \"{finding}\" about \"{object}\" of table {} for erasure subject \"{subject}\"",
                relation.name
            ),
        )
        .detail(match finding {
            "trigger" => "Only triggers on the subject's masked or deleted tables are reported.",
            "reference" => {
                "Only foreign keys of unregistered tables onto the subject's registered tables are reported."
            }
            _ => "Only columns of the subject's registered tables are scanned for residuals.",
        })
        .hint(format!("SELECT * FROM erasure.check('{}') lists the findings.", subject.replace('\'', "''")))
        .raise();
    }
}

fn missing(what: &str) -> ! {
    ErasureError::new(ERRCODE_UNDEFINED_OBJECT, format!("{what} does not exist")).raise()
}
