//! Which tables an erasure touches and in what order, and how each one's rows are found from
//! the subject key: the tree of parents (`via` columns, filters) below the subject's table.

use pgrx::pg_sys;
use pgrx::spi::SpiClient;

use super::statements::{self, equals, qualified};
use crate::catalog::entries::{Action, TableEntry};
use crate::catalog::schema::{self, ForeignKey, Relation};
use crate::error::*;

/// A table of the plan: the subject's own table (no `entry`) or a registered one.
pub(super) struct Node {
    pub relation: Relation,
    pub entry: Option<TableEntry>,
    depth: usize,
    /// For a table the subject points to: every other way a row may point to its rows (each
    /// foreign key referencing it, with the referencing table's name), read when the plan is
    /// built. A row pointed to by someone else is shared and never changed.
    referrers: Vec<(String, ForeignKey)>,
}

impl Node {
    pub fn action(&self) -> Action {
        self.entry.as_ref().map_or(Action::Mask, |e| e.action)
    }

    /// Whether the subject points to this table's rows (`customer.address_id` → `address`).
    pub fn referenced(&self) -> bool {
        self.entry.as_ref().is_some_and(|e| e.referenced)
    }
}

/// The subject's table first, then every registered table after its parent, by depth and
/// then by name: the order rows are locked in.
pub(super) fn order_tables(client: &SpiClient<'_>, root: Relation, mut pending: Vec<TableEntry>) -> Vec<Node> {
    let mut nodes = vec![Node { relation: root, entry: None, depth: 0, referrers: Vec::new() }];
    while !pending.is_empty() {
        let (ready, rest): (Vec<_>, Vec<_>) =
            pending.into_iter().partition(|e| nodes.iter().any(|n| n.relation.oid == e.parent));
        if ready.is_empty() {
            ErasureError::new(
                ERRCODE_INVALID_TABLE_DEFINITION,
                "registered tables form a cycle or hang from an unregistered parent",
            )
            .detail(format!("{} tables cannot be reached from the subject's table.", rest.len()))
            .raise();
        }
        let mut level: Vec<Node> = ready
            .into_iter()
            .map(|entry| {
                let depth = nodes.iter().find(|n| n.relation.oid == entry.parent).map_or(0, |n| n.depth) + 1;
                let referrers = match entry.referenced {
                    true => schema::referencing(client, entry.tbl)
                        .into_iter()
                        .filter(|fk| fk.table != entry.tbl)
                        .map(|fk| (schema::relation(client, fk.table).name, fk))
                        .collect(),
                    false => Vec::new(),
                };
                Node { relation: schema::relation(client, entry.tbl), entry: Some(entry), depth, referrers }
            })
            .collect();
        level.sort_by(|a, b| a.relation.name.cmp(&b.relation.name));
        nodes.extend(level);
        pending = rest;
    }
    nodes
}

/// How statements receive the key: one subject (`$1` is a key) or a batch (`$1` is an array
/// of keys, matched with `= ANY`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Keys {
    One,
    Batch,
}

impl Keys {
    pub fn matcher(self) -> &'static str {
        match self {
            Keys::One => "$1",
            Keys::Batch => "ANY ($1)",
        }
    }
}

/// The SQL condition selecting the subject's rows of `nodes[i]`, given the key(s) as `$1`.
pub(super) fn condition(nodes: &[Node], i: usize, key_column: &str, keys: Keys) -> String {
    condition_of(nodes, i, key_column, keys, true)
}

/// For a table the subject points to: every row of it the subject points to, shared with
/// someone else or not (`condition` selects the unshared ones); the report counts the others.
pub(super) fn linked(nodes: &[Node], i: usize, key_column: &str, keys: Keys) -> String {
    condition_of(nodes, i, key_column, keys, false)
}

fn condition_of(nodes: &[Node], i: usize, key_column: &str, keys: Keys, unshared_only: bool) -> String {
    let node = &nodes[i];
    let table = &node.relation.name;
    let Some(entry) = &node.entry else {
        return equals(&qualified(table, key_column), keys.matcher());
    };
    let mut parts = Vec::new();
    if !entry.via.is_empty() {
        let parent_index = parent_of(nodes, entry);
        let parent = &nodes[parent_index];
        if parent.entry.is_none() && entry.parent_columns == [key_column] {
            // A direct reference to the subject's key: filter by the key itself.
            parts.push(equals(&qualified(table, &entry.via[0]), keys.matcher()));
        } else {
            // A column of the row carrying the subject key filters by the key directly as well:
            // an index on it serves, and a sharded cluster routes the statement by it.
            if let Some(carrier) = key_carrier(nodes, i, key_column) {
                parts.push(equals(&qualified(table, &carrier), keys.matcher()));
            }
            parts.push(format!(
                "EXISTS (SELECT FROM {} WHERE {} AND {})",
                parent.relation.name,
                parent_link(nodes, i),
                condition(nodes, parent_index, key_column, keys)
            ));
        }
    }
    if let Some(filter) = &entry.filter {
        parts.push(statements::embedded(filter));
    }
    if entry.referenced && unshared_only {
        parts.extend(unshared(nodes, i, key_column, keys));
    }
    parts.join(" AND ")
}

/// For a table the subject points to (its address): the conditions that no one else points to
/// the row — no row of the parent but the subject's own, and no row of any other referencing
/// table (staff, stores) but those the subject's erasure covers. A shared row stays as it is.
fn unshared(nodes: &[Node], i: usize, key_column: &str, keys: Keys) -> Vec<String> {
    let (table, entry) = (&nodes[i].relation.name, nodes[i].entry.as_ref().expect("a registered table"));
    let parent_index = parent_of(nodes, entry);
    let not_the_subjects = |j: usize| format!("NOT COALESCE(({}), false)", condition(nodes, j, key_column, keys));
    let mut parts = vec![format!(
        "NOT EXISTS (SELECT FROM {} WHERE {} AND {})",
        nodes[parent_index].relation.name,
        parent_link(nodes, i),
        not_the_subjects(parent_index)
    )];
    for (name, fk) in &nodes[i].referrers {
        if fk.table == nodes[parent_index].relation.oid && fk.columns == entry.parent_columns {
            continue; // the registered link itself, above
        }
        let link: Vec<String> = fk
            .columns
            .iter()
            .zip(&fk.referenced)
            .map(|(c, r)| equals(&qualified(name, c), &qualified(table, r)))
            .collect();
        let mut part = format!("NOT EXISTS (SELECT FROM {name} WHERE {}", link.join(" AND "));
        // A registered table's rows of this subject do not make the row shared; those below
        // this table (its own children) are the subject's by construction.
        match nodes.iter().position(|n| n.relation.oid == fk.table) {
            Some(j) if descends_from(nodes, j, i) => continue,
            Some(j) => part += &format!(" AND {}", not_the_subjects(j)),
            None => {}
        }
        parts.push(part + ")");
    }
    parts
}

/// Whether `nodes[j]` hangs, through its parents, from `nodes[i]`.
fn descends_from(nodes: &[Node], j: usize, i: usize) -> bool {
    match &nodes[j].entry {
        None => false,
        Some(entry) => {
            let parent = parent_of(nodes, entry);
            parent == i || descends_from(nodes, parent, i)
        }
    }
}

/// The position in the plan of a registered table's parent (the subject's table when it is).
pub(super) fn parent_of(nodes: &[Node], entry: &TableEntry) -> usize {
    nodes.iter().position(|n| n.relation.oid == entry.parent).unwrap_or(0)
}

/// The join of a row of `nodes[i]` to its parent's row: each via column equal to the parent
/// column it references.
pub(super) fn parent_link(nodes: &[Node], i: usize) -> String {
    parent_link_of(nodes, i, &nodes[i].relation.name)
}

/// `parent_link` for rows of `nodes[i]` read as `rows` (a statement's returned rows).
fn parent_link_of(nodes: &[Node], i: usize, rows: &str) -> String {
    let entry = nodes[i].entry.as_ref().expect("a registered table");
    let parent = &nodes[parent_of(nodes, entry)].relation.name;
    let pairs: Vec<String> = entry
        .via
        .iter()
        .zip(&entry.parent_columns)
        .map(|(v, p)| equals(&qualified(parent, p), &qualified(rows, v)))
        .collect();
    pairs.join(" AND ")
}

/// The subject key of a row of `nodes[i]`, as text: how a batch statement tells which
/// subject each changed row belonged to. Only for tables reached through `via` columns.
pub(super) fn subject_key(nodes: &[Node], i: usize, key_column: &str) -> String {
    let node = &nodes[i];
    let table = &node.relation.name;
    let Some(entry) = &node.entry else {
        return format!("CAST({} AS pg_catalog.text)", qualified(table, key_column));
    };
    let parent_index = parent_of(nodes, entry);
    let parent = &nodes[parent_index];
    if let Some(carrier) = key_carrier(nodes, i, key_column) {
        return format!("CAST({} AS pg_catalog.text)", qualified(table, &carrier));
    }
    // Two subjects of one batch may point to the same row (a shared address both erasures
    // free): it is counted for one of them.
    format!(
        "(SELECT {} FROM {} WHERE {} AND {}{})",
        subject_key(nodes, parent_index, key_column),
        parent.relation.name,
        parent_link(nodes, i),
        condition(nodes, parent_index, key_column, Keys::Batch),
        if entry.referenced { " LIMIT 1" } else { "" }
    )
}

/// How a batch statement counts the changed rows of a table whose rows do not carry the subject
/// key: its changing statement returns the row's via columns, and the count joins them to the
/// parent's rows of the batch (one per row: via columns reference the parent's key), one hash
/// join for the batch where `subject_key` would look the parent up again for every changed row.
pub(super) struct ParentJoin {
    /// What the changing statement returns: the via columns.
    pub returning: Vec<String>,
    /// The subject key of the joined parent row, as text.
    pub key: String,
    /// The returned rows joined to the parent.
    pub rows: String,
    /// The parent's condition for the batch.
    pub condition: String,
}

/// The `ParentJoin` of `nodes[i]`, whose changed rows a statement returns as `rows`; None where
/// `subject_key` serves: a row carrying the key, or one the subject points to (a shared row is
/// counted once, for one of its subjects).
pub(super) fn parent_join(nodes: &[Node], i: usize, key_column: &str, rows: &str) -> Option<ParentJoin> {
    let entry = nodes[i].entry.as_ref()?;
    if entry.via.is_empty() || entry.referenced || key_carrier(nodes, i, key_column).is_some() {
        return None;
    }
    let parent_index = parent_of(nodes, entry);
    let parent = &nodes[parent_index].relation.name;
    Some(ParentJoin {
        returning: entry.via.iter().map(|v| qualified(&nodes[i].relation.name, v)).collect(),
        key: subject_key(nodes, parent_index, key_column),
        rows: format!("{rows} JOIN {parent} ON {}", parent_link_of(nodes, i, rows)),
        condition: condition(nodes, parent_index, key_column, Keys::Batch),
    })
}

/// The column of `nodes[i]` that holds the subject's key, if one does: the key column of the
/// subject's table, and down the tree the via column linked to the parent's carrier
/// (`order_items.customer_id` when its via columns `(customer_id, order_id)` reference
/// `orders (customer_id, id)` and `orders.customer_id` references the customer).
pub(super) fn key_carrier(nodes: &[Node], i: usize, key_column: &str) -> Option<String> {
    let Some(entry) = &nodes[i].entry else { return Some(key_column.to_string()) };
    let parent_carrier = key_carrier(nodes, parent_of(nodes, entry), key_column)?;
    entry.parent_columns.iter().position(|p| *p == parent_carrier).map(|j| entry.via[j].clone())
}

/// Whether the rows of `nodes[i]` are found through a filter that uses `$1` (its own or an
/// ancestor's). Such a filter compares with one key, so it cannot serve a batch of keys.
pub(super) fn needs_one_key(nodes: &[Node], i: usize) -> bool {
    let Some(entry) = &nodes[i].entry else { return false };
    let own = entry.filter.as_ref().is_some_and(|filter| {
        let table = &nodes[i].relation.name;
        let probe = format!("SELECT FROM {table} WHERE {}", statements::embedded(filter));
        let count = rewrap(
            || crate::catalog::sql_check::parameter_count(&probe),
            |e| {
                ErasureError::new(code_of(e), format!("filter of table \"{table}\" is invalid"))
                    .detail(format!("{} (filter: {filter})", e.message()))
            },
        );
        count > 0
    });
    own || needs_one_key(nodes, parent_of(nodes, entry))
}

/// The SQL giving, as text, the subject key of a row of `nodes[i]` in a statement of form
/// `keys`: `$1` itself for one key, the row's own link to it for a batch.
pub(super) fn row_subject_key(nodes: &[Node], i: usize, key_column: &str, keys: Keys) -> String {
    match keys {
        Keys::One => "CAST($1 AS pg_catalog.text)".to_string(),
        Keys::Batch => subject_key(nodes, i, key_column),
    }
}

/// Per table in plan order: its oid, its name and the column carrying the subject key.
pub(super) fn routing(nodes: &[Node], key_column: &str) -> Vec<(pg_sys::Oid, String, Option<String>)> {
    (0..nodes.len())
        .map(|i| (nodes[i].relation.oid, nodes[i].relation.name.clone(), key_carrier(nodes, i, key_column)))
        .collect()
}
