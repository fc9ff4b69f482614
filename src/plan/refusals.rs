//! What may not be registered because the erasure could not keep its promise: a kept table
//! losing rows to a deleted one, a retained table rewritten by a foreign key's ON UPDATE.
//! Planning refuses such a catalog, and registration plans every subject it touches.

use pgrx::spi::SpiClient;

use super::tree::Node;
use crate::catalog::entries::{self, Action};
use crate::catalog::schema;
use crate::error::*;

/// A retained table whose foreign key follows changes of the columns it references (ON UPDATE
/// CASCADE, SET NULL, SET DEFAULT) would be rewritten when the erasure masks those columns
/// (`invoices.customer_email REFERENCES customers(email) ON UPDATE CASCADE`): refuse it.
pub(super) fn check_retained_rows_survive_masking(client: &SpiClient<'_>, nodes: &[Node]) {
    for retained in nodes.iter().filter(|n| n.action() == Action::Retain) {
        for masked in nodes.iter().filter(|n| n.action() == Action::Mask) {
            let masked_columns: Vec<String> = entries::policies(client, masked.relation.oid)
                .into_iter()
                .filter(|p| p.strategy != "keep")
                .map(|p| p.col)
                .collect();
            let updating = schema::updating_foreign_keys(client, retained.relation.oid, masked.relation.oid);
            if let Some(fk) = updating.iter().find(|fk| fk.referenced.iter().any(|c| masked_columns.contains(c))) {
                ErasureError::new(
                    ERRCODE_INVALID_FOREIGN_KEY,
                    format!(
                        "retained table \"{}\" follows changes of masked columns of \"{}\"",
                        retained.relation.name, masked.relation.name
                    ),
                )
                .detail(format!(
                    "Foreign key {} {} has an ON UPDATE action: masking {} would rewrite retained rows.",
                    fk.name,
                    schema::column_list(&fk.columns),
                    schema::column_list(&fk.referenced)
                ))
                .hint(format!(
                    "Let the foreign key reference the key of \"{}\" instead, or keep the columns it references.",
                    masked.relation.name
                ))
                .raise();
            }
        }
    }
}

/// A table the erasure keeps (retained, masked, or the subject's own) whose foreign key points
/// at a deleted table would lose rows (CASCADE), have them changed (SET NULL) or fail every
/// erasure (NO ACTION, RESTRICT): refuse such a catalog.
pub(super) fn check_kept_rows_survive_deletes(client: &SpiClient<'_>, nodes: &[Node]) {
    for kept in nodes.iter().filter(|n| n.action() != Action::Delete) {
        for deleted in nodes.iter().filter(|n| n.action() == Action::Delete) {
            if let Some(fk) = schema::foreign_keys(client, kept.relation.oid, deleted.relation.oid).first() {
                let kind = match (&kept.entry, kept.action()) {
                    (None, _) => "subject table",
                    (_, Action::Retain) => "retained table",
                    _ => "masked table",
                };
                ErasureError::new(
                    ERRCODE_INVALID_FOREIGN_KEY,
                    format!("{kind} \"{}\" references deleted table \"{}\"", kept.relation.name, deleted.relation.name),
                )
                .detail(format!(
                    "Foreign key {}: deleting the subject's rows of \"{}\" would fail, or reach rows of \"{}\" that \
                     the erasure keeps.",
                    fk.name, deleted.relation.name, kept.relation.name
                ))
                .hint(format!(
                    "Register \"{}\" with action mask or retain instead of delete, or \"{}\" with action delete.",
                    deleted.relation.name, kept.relation.name
                ))
                .raise();
            }
        }
    }
}
