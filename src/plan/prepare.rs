//! Preparing a plan's statements: as the subject's owner, errors worded as the plan's, and
//! the forms (one key, a batch of keys) whose statements share conditions and assignments.

use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};

use super::columns::{self, Assignments};
use super::shape::{Reference, Shape};
use super::statements;
use super::tree::{self, Keys, Node};
use super::RowLocks;
use crate::catalog::entries::Action;
use crate::error::*;

/// Prepares a plan's statements (as the subject's owner, who is building it); a statement that
/// does not prepare is an error naming the subject and what failed.
pub(super) struct Preparer<'a, 'c> {
    pub client: &'a SpiClient<'c>,
    pub subject: &'a str,
}

impl Preparer<'_, '_> {
    /// A statement that locks or writes, prepared as mutating: run after locks were waited
    /// for, it must see what committed meanwhile.
    pub fn writing(&self, sql: String, types: &[pg_sys::Oid], what: impl Into<String>) -> OwnedPreparedStatement {
        self.prepare(true, sql, types, what.into())
    }

    /// A statement that only reads (blocker queries, counts, scans).
    pub fn reading(&self, sql: String, types: &[pg_sys::Oid], what: impl Into<String>) -> OwnedPreparedStatement {
        self.prepare(false, sql, types, what.into())
    }

    fn prepare(&self, mutating: bool, sql: String, types: &[pg_sys::Oid], what: String) -> OwnedPreparedStatement {
        let types: Vec<_> = types.iter().map(|t| PgOid::from_untagged(*t)).collect();
        let prepared = || match mutating {
            true => self.client.prepare_mut(sql.as_str(), &types),
            false => self.client.prepare(sql.as_str(), &types),
        };
        rewrap(
            || spi(prepared()).keep(),
            |e| {
                ErasureError::new(
                    code_of(e),
                    format!("cannot plan the erasure of subject \"{}\": {what}", self.subject),
                )
                .detail(e.message().to_string())
            },
        )
    }
}

/// What the statements of one form (one key, or a batch of keys) share: per table the
/// condition selecting the subject's rows and the masking assignments.
pub(super) struct Form {
    pub keys: Keys,
    /// `$1`'s type: the key type, or its array type for a batch.
    pub keys_type: pg_sys::Oid,
    pub conditions: Vec<String>,
    pub assignments: Assignments,
}

impl Form {
    pub fn new(client: &SpiClient<'_>, nodes: &[Node], key_column: &str, key_type: pg_sys::Oid, keys: Keys) -> Form {
        Form {
            keys,
            keys_type: match keys {
                Keys::One => key_type,
                Keys::Batch => unsafe { pg_sys::get_array_type(key_type) },
            },
            conditions: (0..nodes.len()).map(|i| tree::condition(nodes, i, key_column, keys)).collect(),
            assignments: columns::assignments_of(client, nodes, key_column, keys),
        }
    }

    pub fn shape<'a>(&'a self, nodes: &'a [Node], key_column: &'a str, references: &'a [Reference]) -> Shape<'a> {
        Shape {
            nodes,
            key_column,
            conditions: &self.conditions,
            assignments: &self.assignments.lists,
            references,
            keys: self.keys,
        }
    }

    /// The types of the masking statement's parameters: `$1`, then its text parameters.
    pub fn apply_types(&self) -> Vec<pg_sys::Oid> {
        std::iter::once(self.keys_type)
            .chain(self.assignments.parameters.values.iter().map(|_| pg_sys::TEXTOID))
            .collect()
    }

    /// The rows of every table the erasure changes, locked in key order, parents first, by one
    /// statement; None when there is no such table besides the subject's.
    pub fn table_locks(&self, p: &Preparer<'_, '_>, nodes: &[Node], lock_orders: &[Vec<String>]) -> Option<RowLocks> {
        let tables: Vec<usize> = (1..nodes.len()).filter(|&i| nodes[i].action() != Action::Retain).collect();
        let locks: Vec<String> = tables
            .iter()
            .map(|&i| {
                let (name, target) = (&nodes[i].relation.name, &nodes[i].relation.target);
                statements::lock_rows(target, name, &self.conditions[i], &lock_orders[i])
            })
            .collect();
        (!tables.is_empty()).then(|| RowLocks {
            statement: p.writing(
                statements::lock_all(&locks),
                &[self.keys_type],
                "the rows of its tables cannot be locked (check their via columns and filters)",
            ),
            tables,
        })
    }
}
