//! The shape of an erasure statement: one UPDATE or DELETE per table as data-modifying CTEs
//! and the row counts of the report, for one key or a batch of keys alike.

use pgrx::spi::SpiClient;

use super::statements::{self, equals, qualified};
use super::tree::{condition, linked, parent_join, subject_key, Keys, Node};
use crate::catalog::entries::Action;
use crate::catalog::schema;

/// What a statement does to the subject's rows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// Mask the mask tables, delete the delete tables.
    Anonymize,
    /// Delete the subject's row and every registered row but the retained ones.
    DeleteAll,
    /// Only count.
    Count,
}

/// Everything needed to write a changing statement for one subject or a batch.
#[derive(Clone, Copy)]
pub(super) struct Shape<'a> {
    pub nodes: &'a [Node],
    pub key_column: &'a str,
    pub conditions: &'a [String],
    pub assignments: &'a [Vec<String>],
    pub references: &'a [Reference],
    pub keys: Keys,
}

impl Shape<'_> {
    /// One statement: an UPDATE or DELETE per table as a data-modifying CTE, and the row
    /// counts of every table, in plan order (per subject for a batch).
    pub fn statement(&self, change: Change) -> String {
        let mut changes = Vec::new();
        let mut counts = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let (table, condition) = (&node.relation.target, &self.conditions[i]);
            let cte = format!("t{i}");
            let joined = match self.keys {
                Keys::One => None,
                Keys::Batch => parent_join(self.nodes, i, self.key_column, &cte),
            };
            let subject_key = match self.keys {
                Keys::One => None,
                Keys::Batch => Some(subject_key(self.nodes, i, self.key_column)),
            };
            let returning = match (&joined, &subject_key) {
                (Some(join), _) => join.returning.join(", "),
                (None, Some(k)) => format!("{k} AS k"),
                (None, None) => "1".to_string(),
            };
            let sql = match (change, node.action()) {
                (Change::Anonymize, Action::Mask) if !self.assignments[i].is_empty() => {
                    Some(statements::update_cte(&cte, table, &self.assignments[i], condition, &returning))
                }
                (Change::Anonymize, Action::Delete) | (Change::DeleteAll, Action::Mask | Action::Delete) => {
                    Some(statements::delete_cte(&cte, table, condition, &returning))
                }
                _ => None,
            };
            counts.push(match (&sql, &subject_key) {
                (Some(_), None) => statements::count_cte(&cte),
                (Some(_), Some(_)) => match &joined {
                    Some(join) => statements::count_rows_by_key(i, &join.rows, &join.condition, &join.key),
                    None => statements::count_cte_by_key(i, &cte),
                },
                (None, None) => statements::count_rows(table, condition),
                (None, Some(key)) => statements::count_rows_by_key(i, table, condition, key),
            });
            changes.extend(sql);
        }
        // Children before parents: where the parts run as statements of their own (Citus runs
        // each part alone when they span shards), rows go before the rows they reference.
        changes.reverse();
        // After the tables' counts, for each table the subject points to, the rows it points
        // to, shared or not: the report shows how many were shared, and kept.
        if change != Change::Count {
            for (i, node) in self.nodes.iter().enumerate().filter(|(_, node)| node.referenced()) {
                let (table, linked) = (&node.relation.target, linked(self.nodes, i, self.key_column, self.keys));
                let position = counts.len();
                counts.push(match self.keys {
                    Keys::One => statements::count_rows(table, &linked),
                    Keys::Batch => statements::count_rows_by_key(
                        position,
                        table,
                        &linked,
                        &subject_key(self.nodes, i, self.key_column),
                    ),
                });
            }
        }
        if change == Change::Count {
            for (j, reference) in self.references.iter().enumerate() {
                counts.push(self.reference_count(self.nodes.len() + j, reference));
            }
        }
        match self.keys {
            Keys::One => statements::apply(&changes, &counts),
            Keys::Batch => statements::apply_by_key(&changes, &counts),
        }
    }

    /// Counts the rows of others that reference the subject's rows of a table through a
    /// foreign key of the table onto itself.
    fn reference_count(&self, position: usize, reference: &Reference) -> String {
        let (i, fk) = (reference.table, &reference.fk);
        let table = &self.nodes[i].relation.name;
        let alias = "\"pg_erasure referrer\"";
        let links = |referrer_columns: &[String]| -> String {
            let pairs: Vec<String> = fk
                .referenced
                .iter()
                .zip(referrer_columns)
                .map(|(referenced, column)| equals(&qualified(table, referenced), &qualified(alias, column)))
                .collect();
            pairs.join(" AND ")
        };
        // Written for one key even in a batch, where it runs for each: a referencing row goes
        // with the subject only when it is that subject's own.
        let condition = format!("({})", condition(self.nodes, i, self.key_column, Keys::One));
        let others =
            format!("{condition} AND NOT EXISTS (SELECT FROM {table} WHERE {condition} AND {})", links(&fk.referenced));
        statements::count_references(
            table,
            &format!("{table} AS {alias}"),
            &links(&fk.columns),
            &others,
            (self.keys == Keys::Batch).then_some(position),
        )
    }
}

/// A table's foreign key onto itself: deleting the subject's rows fails while rows of others
/// reference them.
pub(super) struct Reference {
    /// The table's position in the plan.
    pub table: usize,
    pub fk: schema::ForeignKey,
}

impl Reference {
    /// `table (foreign key name)`, for messages.
    pub fn describe(&self, nodes: &[Node]) -> String {
        format!("{} (foreign key {})", nodes[self.table].relation.name, self.fk.name)
    }
}

/// The NO ACTION or RESTRICT foreign keys of the subject's table, or of a masked or deleted
/// one, onto itself (a customer's `referred_by`): the erasure keeps other subjects' rows, and
/// while one references the subject, deleting it would fail. Keys from unregistered tables are
/// `erasure.check()`'s to report; retained rows are counted already.
pub(super) fn self_references(client: &SpiClient<'_>, nodes: &[Node]) -> Vec<Reference> {
    let mut references = Vec::new();
    for (table, node) in nodes.iter().enumerate().filter(|(_, n)| n.action() != Action::Retain) {
        for fk in schema::restricting_self_references(client, node.relation.oid) {
            references.push(Reference { table, fk });
        }
    }
    references
}
