//! The release statements of retention: masking a retained table's rows once their period
//! has ended (`execute::release`).

use pgrx::prelude::*;

use super::columns::assignments;
use super::statements::{self, qualified};
use super::tree::{condition, parent_link, parent_of, subject_key, Keys, Node};
use super::values::{self, Parameters};
use super::{Preparer, ReleasePlan};
use crate::catalog::schema;
use crate::error::*;

/// The release statements of the retained tables that have a retention period. They work on
/// all erased subjects at once, so their tables must be reachable without `$1` filters.
pub(super) fn releases(
    p: &Preparer<'_, '_>,
    nodes: &[Node],
    key_column: &str,
    key_type: pg_sys::Oid,
    batchable: bool,
) -> Vec<ReleasePlan> {
    let client = p.client;
    let mut releases = Vec::new();
    // Children first: a child whose period runs from its parent's date reads that date before
    // the parent's own release may mask it.
    for (i, node) in nodes.iter().enumerate().rev() {
        let Some((retain_for, retain_from)) = node.entry.as_ref().and_then(|e| e.retention.clone()) else { continue };
        let table = &node.relation.name;
        if !batchable {
            ErasureError::new(
                ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("retention of table \"{table}\" cannot be released: a filter compares with a single key ($1)"),
            )
            .hint("Find the subject's rows through via columns, or drop the retention period.")
            .raise();
        }
        let mut parameters = Parameters::default();
        let subject_key = subject_key(nodes, i, key_column);
        let assignments = assignments(client, nodes, i, key_column, &subject_key, &mut parameters, &mut Vec::new());
        if assignments.is_empty() {
            continue;
        }
        // The row's retention start is compared, not its expiry (start + interval, STABLE for
        // a timestamptz): what a sharded cluster can run on a shard. `start <= now - interval`
        // never releases a row before `start + interval <= now`.
        let parent = &nodes[parent_of(nodes, node.entry.as_ref().expect("a registered table"))].relation;
        let start = schema::retention_start(client, &node.relation, parent, &retain_from);
        let start_column = &start.column;
        let start = match start.on_parent {
            false => qualified(table, &start_column.name),
            true => format!(
                "(SELECT {} FROM {} WHERE {})",
                qualified(&parent.name, &start_column.name),
                parent.name,
                parent_link(nodes, i)
            ),
        };
        let start_epoch = values::epoch(&start, start_column.base_type);
        let next = parameters.values.len() + 2;
        let interval = format!("CAST(${next} AS pg_catalog.interval)");
        let condition = format!(
            "{} AND {start} <= CAST(pg_catalog.now() OPERATOR(pg_catalog.-) {interval} AS {type_sql})
             AND {start_epoch} > COALESCE(CAST(${} OPERATOR(pg_catalog.->>) {subject_key} AS pg_catalog.numeric), '-Infinity')",
            condition(nodes, i, key_column, Keys::Batch),
            next + 1,
            type_sql = start_column.type_sql,
        );
        let returning = format!("{subject_key} AS k, {start} AS start, {start_epoch} AS start_epoch");
        let sql = statements::apply_by_key(
            &[statements::update_cte("t", &node.relation.target, &assignments, &condition, &returning)],
            &[format!(
                "SELECT k, pg_catalog.count(*),
                        CAST(CAST(pg_catalog.max(start) OPERATOR(pg_catalog.+) {interval} AS pg_catalog.timestamptz) AS pg_catalog.text),
                        CAST(pg_catalog.max(start_epoch) AS pg_catalog.text)
                   FROM t GROUP BY k"
            )],
        );
        let start_of_older_entry = values::epoch(
            &format!(
                "CAST(CAST(t OPERATOR(pg_catalog.->>) 'through' AS pg_catalog.timestamptz) OPERATOR(pg_catalog.-) \
                 CAST($2 AS pg_catalog.interval) AS {})",
                start_column.type_sql
            ),
            start_column.base_type,
        );
        let keys_type = unsafe { pg_sys::get_array_type(key_type) };
        let mut types = vec![keys_type];
        types.extend(parameters.values.iter().map(|_| pg_sys::TEXTOID));
        types.extend([pg_sys::TEXTOID, pg_sys::JSONBOID]);
        let statement = p.writing(sql, &types, format!("the release statement of table \"{table}\" is invalid"));
        releases.push(ReleasePlan {
            table: table.clone(),
            oid: node.relation.oid,
            statement,
            parameters: parameters.values,
            retain_for,
            start_of_older_entry,
        });
    }
    releases
}
