//! What each column of a table of the plan becomes: the SET list of a masked table from its
//! policies (re-checked against the table as it is now), the columns never masked because
//! they tie rows to the subject, and the text the erasure leaves for the residual scan.

use std::collections::HashSet;

use pgrx::spi::SpiClient;

use super::statements;
use super::tree::{row_subject_key, Keys, Node};
use super::values::{self, Parameters};
use crate::catalog::entries::{self, Action};
use crate::catalog::schema::{self, Column, Relation};
use crate::catalog::strategy::Strategy;
use crate::error::*;

/// The masking assignments of every table of the plan for one form of its statements (one
/// key or a batch): per table in plan order its SET list (empty unless masked), the `$n`
/// parameters they take, and the columns of masked tables without a policy.
pub(super) struct Assignments {
    pub lists: Vec<Vec<String>>,
    pub parameters: Parameters,
    pub unreviewed: Vec<String>,
}

/// The assignments of every table, written for the key(s) of form `keys`.
pub(super) fn assignments_of(client: &SpiClient<'_>, nodes: &[Node], key_column: &str, keys: Keys) -> Assignments {
    let mut all = Assignments { lists: Vec::new(), parameters: Parameters::default(), unreviewed: Vec::new() };
    for (i, node) in nodes.iter().enumerate() {
        let list = match node.action() {
            Action::Mask => {
                let subject_key = row_subject_key(nodes, i, key_column, keys);
                assignments(client, nodes, i, key_column, &subject_key, &mut all.parameters, &mut all.unreviewed)
            }
            _ => Vec::new(),
        };
        all.lists.push(list);
    }
    all
}

/// Columns that tie rows to the subject: the key, this table's via columns and the columns
/// its children's via columns reference. They are never masked.
fn structural_columns(nodes: &[Node], i: usize, key_column: &str) -> HashSet<String> {
    let node = &nodes[i];
    let mut columns: HashSet<String> = match &node.entry {
        None => HashSet::from([key_column.to_string()]),
        Some(entry) => entry.via.iter().cloned().collect(),
    };
    for child in nodes.iter().filter_map(|n| n.entry.as_ref()).filter(|e| e.parent == node.relation.oid) {
        columns.extend(child.parent_columns.iter().cloned());
    }
    columns
}

/// The subject's text columns whose policy masks them: the values that identify the person.
pub(super) fn identifying_columns(client: &SpiClient<'_>, root: &Node) -> Vec<String> {
    let columns = schema::columns(client, root.relation.oid);
    entries::policies(client, root.relation.oid)
        .into_iter()
        .filter(|p| p.strategy != "keep")
        .filter(|p| columns.iter().any(|c| c.name == p.col && c.is_text()))
        .map(|p| p.col)
        .collect()
}

/// The text, text[] and jsonb columns of `nodes[i]` that an anonymization leaves as they are: all of
/// a retained table's, and a masked table's kept or unreviewed ones.
pub(super) fn text_left_as_is(client: &SpiClient<'_>, nodes: &[Node], i: usize, key_column: &str) -> Vec<String> {
    let node = &nodes[i];
    let policies = entries::policies(client, node.relation.oid);
    let structural = structural_columns(nodes, i, key_column);
    schema::columns(client, node.relation.oid)
        .into_iter()
        .filter(|c| (c.is_text() || c.is_jsonb() || c.is_text_array()) && !structural.contains(&c.name))
        .filter(|c| {
            node.action() == Action::Retain
                || policies.iter().find(|p| p.col == c.name).is_none_or(|p| p.strategy == "keep")
        })
        .map(|c| c.name)
        .collect()
}

/// The SET assignments of a masked table, from its column policies, re-checked against the
/// table as it is now (a column may have been dropped, retyped or made NOT NULL since).
pub(super) fn assignments(
    client: &SpiClient<'_>,
    nodes: &[Node],
    i: usize,
    key_column: &str,
    subject_key: &str,
    parameters: &mut Parameters,
    unreviewed: &mut Vec<String>,
) -> Vec<String> {
    let relation = &nodes[i].relation;
    let columns = schema::columns(client, relation.oid);
    let structural = structural_columns(nodes, i, key_column);
    let policies = entries::policies(client, relation.oid);
    let row_key = values::row_key(&relation.name, &schema::primary_key(client, relation.oid));
    let mut assignments = Vec::new();
    for policy in &policies {
        let Some(column) = columns.iter().find(|c| c.name == policy.col) else {
            ErasureError::new(
                ERRCODE_UNDEFINED_COLUMN,
                format!(
                    "column \"{}\" of relation \"{}\" has a masking policy but no longer exists",
                    policy.col, relation.name
                ),
            )
            .hint(format!("Remove the policy with erasure.drop_policy('{}', '{}').", relation.name, policy.col))
            .raise();
        };
        let strategy = policy_strategy(relation, column, &policy.strategy, &policy.params);
        if strategy != Strategy::Keep && structural.contains(&column.name) {
            ErasureError::new(
                ERRCODE_INVALID_COLUMN_REFERENCE,
                format!("column \"{}\" of relation \"{}\" cannot be masked", column.name, relation.name),
            )
            .detail("It ties the subject to its rows (key or via column).")
            .hint(format!(
                "Set its policy to keep, or remove it with erasure.drop_policy('{}', '{}').",
                relation.name, column.name
            ))
            .raise();
        }
        let target = statements::qualified(&relation.name, &column.name);
        if let Some(value) = values::masked_value(&target, column, &strategy, subject_key, &row_key, parameters) {
            assignments.push(format!("{} = {value}", pgrx::spi::quote_identifier(&column.name)));
        }
    }
    unreviewed.extend(
        columns
            .iter()
            .filter(|c| !c.generated && !structural.contains(&c.name) && !policies.iter().any(|p| p.col == c.name))
            .map(|c| format!("{}.{}", relation.name, pgrx::spi::quote_identifier(&c.name))),
    );
    assignments
}

/// The SET list marking the subject's restriction (GDPR art. 18) in its own table's columns
/// with policy `restricted_at`: each set to now() when `$2` is true, NULL otherwise; None when
/// it has none.
pub(super) fn restriction_markers(client: &SpiClient<'_>, root: &Node) -> Option<Vec<String>> {
    let columns = schema::columns(client, root.relation.oid);
    let set: Vec<String> = entries::policies(client, root.relation.oid)
        .into_iter()
        .filter(|p| p.strategy == "restricted_at")
        .filter_map(|p| columns.iter().find(|c| c.name == p.col))
        .map(|c| {
            format!(
                "{} = CAST(CASE WHEN $2 THEN pg_catalog.now() END AS {})",
                pgrx::spi::quote_identifier(&c.name),
                c.type_sql
            )
        })
        .collect();
    (!set.is_empty()).then_some(set)
}

/// What `erasure.verify()` checks of a masked table's columns: per column whose policy leaves
/// something to check (`values::looks_masked`), its name, strategy and the condition its rows
/// must meet. Run after `assignments` validated the same policies.
pub(super) fn verifications(
    client: &SpiClient<'_>,
    relation: &Relation,
    subject_key: &str,
    parameters: &mut Parameters,
) -> Vec<(String, String, String)> {
    let columns = schema::columns(client, relation.oid);
    entries::policies(client, relation.oid)
        .into_iter()
        .filter_map(|policy| {
            let column = columns.iter().find(|c| c.name == policy.col)?;
            let strategy = policy_strategy(relation, column, &policy.strategy, &policy.params);
            let target = statements::qualified(&relation.name, &column.name);
            let condition = values::looks_masked(&target, column, &strategy, subject_key, parameters)?;
            Some((policy.col, policy.strategy, condition))
        })
        .collect()
}

fn policy_strategy(relation: &Relation, column: &Column, name: &str, params: &serde_json::Value) -> Strategy {
    let invalid = |why: String| -> ! {
        ErasureError::new(
            ERRCODE_INVALID_PARAMETER_VALUE,
            format!(
                "masking policy of column \"{}\" of relation \"{}\" is no longer valid",
                column.name, relation.name
            ),
        )
        .detail(why)
        .hint(format!("Set it again with erasure.set_policy('{}', '{}', ...).", relation.name, column.name))
        .raise()
    };
    let strategy =
        Strategy::parse(name, params).unwrap_or_else(|_| invalid(format!("Strategy {name} with params {params}.")));
    if let Some(why) = strategy.misfit(column) {
        invalid(format!("{why} (strategy {name})."));
    }
    strategy
}
