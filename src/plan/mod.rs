//! Plan: from the catalog to the prepared statements that erase one subject.
//!
//! A plan holds, in the order execution runs them:
//! 1. `lock_subject`: `SELECT … FOR UPDATE` of the subject's row;
//! 2. `blockers`: one query per registered blocker;
//! 3. `locks`: `SELECT … ORDER BY key FOR UPDATE` per `mask`/`delete` table, parents before
//!    children, tables by name within a level: every erasure locks in the same order;
//! 4. `apply`: one statement holding one UPDATE or DELETE per table and the row counts of the
//!    report, retained tables only counted.
//!
//! Plans are built once per session and subject and kept (`cache`) until the catalog or a
//! registered table changes. Building also validates: registration builds the plan of every
//! subject it touches and so refuses entries that would make an erasure fail.

pub mod cache;
pub mod statements;

use std::collections::HashSet;

use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};

use crate::catalog::entries::{self, Action, TableEntry};
use crate::catalog::schema::{self, Column, Relation};
use crate::catalog::strategy::Strategy;
use crate::error::*;
use crate::security;
use statements::{equals, qualified, Parameter, Parameters};

pub struct BlockerPlan {
    pub name: String,
    pub message: Option<String>,
    pub statement: OwnedPreparedStatement,
}

pub struct TableLock {
    pub table: String,
    pub statement: OwnedPreparedStatement,
}

/// The batch form of a plan: `$1` is an array of keys, and every statement returns one row
/// per table and subject: (table's position in `Plan::outcomes`, key, rows).
pub struct BatchPlan {
    /// Locks the subjects' rows; returns (key as given, key as stored) per key found.
    pub lock_subjects: OwnedPreparedStatement,
    /// Every blocker for every key at once: (blocker's position in `Plan::blockers`, key,
    /// details); None when the subject has no blockers.
    pub blockers: Option<OwnedPreparedStatement>,
    pub locks: Vec<TableLock>,
    pub apply: OwnedPreparedStatement,
    pub delete_all: OwnedPreparedStatement,
    pub census: OwnedPreparedStatement,
}

/// Masking a retained table's rows once their retention period has ended. Arguments: `$1`
/// the keys (array), then `parameters`, then the retention interval (text) and, as a jsonb
/// object, for each key the latest retention start among its rows released before (seconds
/// since 1970, `statements::epoch`). Returns (key, rows, latest expiry released, latest start
/// released).
pub struct ReleasePlan {
    pub table: String,
    pub statement: OwnedPreparedStatement,
    pub parameters: Vec<Parameter>,
    pub retain_for: String,
    /// The latest start released, in the same seconds, of a ledger entry `t` recorded before
    /// releases recorded it (`$2` the retention interval): derived from its `through`.
    pub start_of_older_entry: String,
}

/// Where the residual scan looks in one table: its text, text[] and jsonb columns that the erasure
/// leaves as they are. Arguments: `$1` the key, `$2` a jsonb object {identifier: value};
/// returns (row key, column, identifier) per hit.
pub struct ScanTarget {
    pub tbl: pg_sys::Oid,
    pub statement: OwnedPreparedStatement,
}

/// Reading and writing the ledger; the arguments are described in `execute::ledger`.
pub struct LedgerStatements {
    pub find: OwnedPreparedStatement,
    pub record: OwnedPreparedStatement,
}

/// One line of the erasure report: what happened to a table's rows.
pub struct Outcome {
    pub table: String,
    pub action: Action,
    pub reason: Option<String>,
}

pub struct Plan {
    pub subject: String,
    /// The owner of the subject's table: every statement of the plan runs as this role.
    pub owner: pg_sys::Oid,
    /// The extension's owner: the ledger's statements run as this role.
    pub extension_owner: pg_sys::Oid,
    /// For a subject whose key is personal, the hmac key the ledger's digests of it are made
    /// with (`execute::ledger::recorded_key`), and the statement finding subjects by digest:
    /// `$1` the hmac key, `$2` digests (text[]); returns (digest, key).
    pub digest_key: Option<String>,
    pub by_digest: Option<OwnedPreparedStatement>,
    pub subject_table: String,
    pub key_column: String,
    pub key_type: pg_sys::Oid,
    pub key_type_sql: String,
    /// Whether any table besides the subject's own is registered.
    pub has_tables: bool,
    pub find_subject: OwnedPreparedStatement,
    pub lock_subject: OwnedPreparedStatement,
    pub blockers: Vec<BlockerPlan>,
    pub locks: Vec<TableLock>,
    pub apply: OwnedPreparedStatement,
    /// Values of the apply statement's parameters $2, $3, ...
    pub apply_parameters: Vec<Parameter>,
    /// Deletes the subject and every registered row but the retained ones (mode delete).
    pub delete_all: OwnedPreparedStatement,
    /// Counts the subject's rows in every table, then the rows of others referencing them
    /// (`references`), without locking or changing them.
    pub census: OwnedPreparedStatement,
    /// The subject's summary columns as one jsonb object, for confirmation screens.
    pub summary: OwnedPreparedStatement,
    /// The statements erasing many subjects at once; None when a filter compares with one key.
    pub batch: Option<BatchPlan>,
    /// One per retained table with a retention period.
    pub releases: Vec<ReleasePlan>,
    /// The subject's identifying values: its text columns that are masked, as a jsonb object.
    pub identifiers: OwnedPreparedStatement,
    /// The ledger's statements (`execute::ledger`), prepared with the rest: an erasure parses
    /// and plans no SQL.
    pub ledger: LedgerStatements,
    /// The residual scan's statements, one per table with text left as it is.
    pub scans: Vec<ScanTarget>,
    /// The tables in plan order; each count column of `apply`, `delete_all` and `census`
    /// reports the table at the same position.
    pub outcomes: Vec<Outcome>,
    /// The foreign keys of tables onto themselves (`referred_by`), described for messages;
    /// `census` counts, after the tables, the rows of others referencing the subject's through each.
    pub references: Vec<String>,
    /// `table.column` of every column of a masked table that has no policy.
    pub unreviewed_columns: Vec<String>,
    /// Relations whose change makes this plan stale.
    pub relations: Vec<pg_sys::Oid>,
    /// Per table of the plan, in plan order: it and its partitions and inheritance children,
    /// whose writes during an erasure `execute::writes` watches.
    pub watched: Vec<Vec<pg_sys::Oid>>,
    /// Whether the subject's table is distributed by its key on a Citus cluster: a batch is
    /// then erased one shard group at a time, and its blockers key by key (`execute::bulk`).
    pub sharded: bool,
    /// Per table in plan order: its oid, its name and the column of it holding the subject key,
    /// if one does (`key_carrier`): what routes its rows with the subject's on a sharded cluster.
    pub routing: Vec<(pg_sys::Oid, String, Option<String>)>,
    /// The errors `erasure.check()` reports for the subject, computed when strict mode first
    /// needs them; anything that could change them also makes the plan stale.
    pub check_errors: std::cell::OnceCell<Vec<String>>,
}

/// A table of the plan: the subject's own table (no `entry`) or a registered one.
struct Node {
    relation: Relation,
    entry: Option<TableEntry>,
    depth: usize,
}

impl Node {
    fn action(&self) -> Action {
        self.entry.as_ref().map_or(Action::Mask, |e| e.action)
    }
}

impl Plan {
    /// Builds the plan as the subject's owner: statements are prepared, and planning runs any
    /// catalog code it folds, with that role's rights only.
    pub fn build(subject: &str) -> Plan {
        Spi::connect(|client| {
            let entry = entries::require_subject(client, subject);
            let owner = security::relation_owner(client, entry.tbl);
            security::as_owner(owner, || build(client, entry, owner))
        })
    }

    /// How many counts the census gives: one per table, then one per reference.
    pub fn census_width(&self) -> usize {
        self.outcomes.len() + self.references.len()
    }
}

fn build(client: &SpiClient<'_>, subject: entries::SubjectEntry, owner: pg_sys::Oid) -> Plan {
    let subject_name = subject.subject.as_str();
    let root = schema::relation(client, subject.tbl);
    let root_columns = schema::columns(client, subject.tbl);
    let key = schema::column(&root, &root_columns, &subject.key_column);
    let (key_type, key_type_sql) = (key.type_oid, key.type_sql.clone());

    let nodes = order_tables(client, root, entries::tables(client, subject_name));
    check_kept_rows_survive_deletes(client, &nodes);
    check_retained_rows_survive_masking(client, &nodes);
    let references = self_references(client, &nodes);
    let conditions: Vec<String> =
        (0..nodes.len()).map(|i| condition(&nodes, i, &subject.key_column, Keys::One)).collect();

    let failing = |what: String| {
        move |e: &pgrx::pg_sys::panic::ErrorReportWithLevel| {
            ErasureError::new(code_of(e), format!("cannot plan the erasure of subject \"{subject_name}\": {what}"))
                .detail(e.message().to_string())
        }
    };
    // Statements that lock or write are prepared as mutating; blocker queries only read.
    let prepare_as = |mutating: bool, sql: String, types: &[pg_sys::Oid], what: String| -> OwnedPreparedStatement {
        let types: Vec<_> = types.iter().map(|t| PgOid::from_untagged(*t)).collect();
        let prepared = || match mutating {
            true => client.prepare_mut(sql.as_str(), &types),
            false => client.prepare(sql.as_str(), &types),
        };
        rewrap(|| spi(prepared()).keep(), failing(what))
    };
    let prepare = |sql: String, types: &[pg_sys::Oid], what: String| prepare_as(true, sql, types, what);

    let root_name = nodes[0].relation.name.clone();
    let find_subject = prepare(
        statements::stored_key(&root_name, &conditions[0], &subject.key_column, false),
        &[key_type],
        format!("the key column of \"{root_name}\" cannot be compared"),
    );
    let lock_subject = prepare(
        statements::stored_key(&root_name, &conditions[0], &subject.key_column, true),
        &[key_type],
        format!("table \"{root_name}\" cannot be locked"),
    );

    let blocker_entries = entries::blockers(client, subject_name);
    let blocker_queries: Vec<String> = blocker_entries.iter().map(|b| b.query.clone()).collect();
    let blockers = blocker_entries
        .into_iter()
        .map(|b| BlockerPlan {
            statement: prepare_as(
                false,
                statements::blocker(&b.query),
                &[key_type],
                format!("query of blocker \"{}\" is invalid", b.name),
            ),
            name: b.name,
            message: b.message,
        })
        .collect();

    // Per table: its masking assignments and the key its rows are locked in order of.
    let mut parameters = Parameters::default();
    let mut unreviewed_columns = Vec::new();
    let mut assignment_lists = Vec::new();
    let mut lock_orders = Vec::new();
    // A batch is possible unless a filter compares with a single key.
    let batchable = !(0..nodes.len()).any(|i| needs_one_key(&nodes, i));
    let mut batch_assignment_lists = Vec::new();
    // The batch form adds the same parameter values in the same order: one list serves both.
    let mut batch_parameters = Parameters::default();
    for (i, node) in nodes.iter().enumerate() {
        let assignments_keyed_by =
            |subject_key: &str, parameters: &mut Parameters, unreviewed: &mut Vec<String>| match node.action() {
                Action::Mask => {
                    assignments(client, &nodes, i, &subject.key_column, subject_key, parameters, unreviewed)
                }
                _ => Vec::new(),
            };
        if batchable {
            batch_assignment_lists.push(assignments_keyed_by(
                &subject_key(&nodes, i, &subject.key_column),
                &mut batch_parameters,
                &mut Vec::new(),
            ));
        }
        assignment_lists.push(assignments_keyed_by(
            "CAST($1 AS pg_catalog.text)",
            &mut parameters,
            &mut unreviewed_columns,
        ));
        lock_orders.push(schema::primary_key(client, node.relation.oid));
    }
    let outcomes = nodes
        .iter()
        .map(|node| Outcome {
            table: node.relation.name.clone(),
            action: node.action(),
            reason: node.entry.as_ref().and_then(|e| e.reason.clone()),
        })
        .collect();
    let changing = |i: usize| i > 0 && nodes[i].action() != Action::Retain;

    // The rows of every changed table, locked in key order; `$1` of type `keys_type`.
    let table_locks = |conditions: &[String], keys_type: pg_sys::Oid| -> Vec<TableLock> {
        (0..nodes.len())
            .filter(|&i| changing(i))
            .map(|i| {
                let (name, target) = (&nodes[i].relation.name, &nodes[i].relation.target);
                TableLock {
                    table: name.clone(),
                    statement: prepare(
                        statements::lock_rows(target, name, &conditions[i], &lock_orders[i]),
                        &[keys_type],
                        format!("the rows of table \"{name}\" cannot be selected (check its via columns and filter)"),
                    ),
                }
            })
            .collect()
    };
    // `$1` (the key, or keys) then the text parameters of the masking assignments.
    let apply_types = |keys_type: pg_sys::Oid| -> Vec<pg_sys::Oid> {
        std::iter::once(keys_type).chain(parameters.values.iter().map(|_| pg_sys::TEXTOID)).collect()
    };
    let locks = table_locks(&conditions, key_type);
    let one = Shape {
        nodes: &nodes,
        key_column: &subject.key_column,
        conditions: &conditions,
        assignments: &assignment_lists,
        references: &references,
        keys: Keys::One,
    };
    let apply = prepare(
        one.statement(Change::Anonymize),
        &apply_types(key_type),
        "its masking statement is invalid (check the column policies)".to_string(),
    );
    let delete_all = prepare(one.statement(Change::DeleteAll), &[key_type], "its deleting statement is invalid".into());
    let census =
        prepare_as(false, one.statement(Change::Count), &[key_type], "its counting statement is invalid".into());
    let summary = prepare_as(
        false,
        statements::summary(&root_name, &conditions[0], &subject.summary_columns),
        &[key_type],
        format!("the summary columns of \"{root_name}\" are invalid"),
    );

    // The same erasure for a batch of subjects, one statement per table.
    let batch = batchable.then(|| {
        let keys_type = unsafe { pg_sys::get_array_type(key_type) };
        let batch_conditions: Vec<String> =
            (0..nodes.len()).map(|i| condition(&nodes, i, &subject.key_column, Keys::Batch)).collect();
        let shape =
            Shape { conditions: &batch_conditions, assignments: &batch_assignment_lists, keys: Keys::Batch, ..one };
        BatchPlan {
            lock_subjects: prepare(
                statements::lock_keys(&root_name, &subject.key_column),
                &[keys_type],
                "its batch locking statement is invalid".into(),
            ),
            blockers: (!blocker_queries.is_empty()).then(|| {
                prepare_as(
                    false,
                    statements::blockers_by_key(&blocker_queries),
                    &[keys_type],
                    "its blocker queries cannot run for a batch of keys".into(),
                )
            }),
            locks: table_locks(&batch_conditions, keys_type),
            apply: prepare(
                shape.statement(Change::Anonymize),
                &apply_types(keys_type),
                "its batch masking statement is invalid".into(),
            ),
            delete_all: prepare(
                shape.statement(Change::DeleteAll),
                &[keys_type],
                "its batch deleting statement is invalid".into(),
            ),
            census: prepare_as(
                false,
                shape.statement(Change::Count),
                &[keys_type],
                "its batch counting statement is invalid".into(),
            ),
        }
    });

    let releases = releases(client, &nodes, &subject.key_column, key_type, batchable);
    let identifiers = prepare_as(
        false,
        statements::summary(&root_name, &conditions[0], &identifying_columns(client, &nodes[0])),
        &[key_type],
        format!("the identifying columns of \"{root_name}\" cannot be read"),
    );
    let scans = (0..nodes.len())
        .filter(|&i| nodes[i].action() != Action::Delete)
        .filter_map(|i| {
            let columns = text_left_as_is(client, &nodes, i, &subject.key_column);
            let table = &nodes[i].relation.name;
            (!columns.is_empty()).then(|| ScanTarget {
                tbl: nodes[i].relation.oid,
                statement: prepare_as(
                    false,
                    statements::residual_scan(table, &conditions[i], &columns, &lock_orders[i]),
                    &[key_type, pg_sys::JSONBOID],
                    format!("the residual scan of \"{table}\" is invalid"),
                ),
            })
        })
        .collect();

    let watched = nodes.iter().map(|n| schema::table_and_descendants(client, n.relation.oid)).collect();

    let mut relations: Vec<pg_sys::Oid> = nodes.iter().map(|n| n.relation.oid).collect();
    relations.push(entries::catalog_oid(client));
    // Prepared as mutating: run after the subject's lock, they must see what committed meanwhile.
    let text_array = unsafe { pg_sys::get_array_type(pg_sys::TEXTOID) };
    let ledger = LedgerStatements {
        find: prepare(statements::LEDGER_FIND.to_string(), &[pg_sys::TEXTOID, text_array], "the ledger".into()),
        record: prepare(
            statements::LEDGER_RECORD.to_string(),
            &[pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::TEXTOID, text_array, text_array, text_array, pg_sys::TEXTOID],
            "the ledger".into(),
        ),
    };

    let digest_key = subject.personal_key.then(crate::keyed_hash::key);
    let by_digest = digest_key.is_some().then(|| {
        let text_array = unsafe { pg_sys::get_array_type(pg_sys::TEXTOID) };
        prepare_as(
            false,
            statements::keys_by_digest(&root_name, &subject.key_column),
            &[pg_sys::TEXTOID, text_array],
            "its personal keys cannot be found by digest".into(),
        )
    });

    let sharded = crate::citus::sharded_by_key(client, subject.tbl, &subject.key_column);
    let routing = (0..nodes.len())
        .map(|i| (nodes[i].relation.oid, nodes[i].relation.name.clone(), key_carrier(&nodes, i, &subject.key_column)))
        .collect();

    Plan {
        subject: subject_name.to_string(),
        owner,
        extension_owner: security::extension_owner(client),
        digest_key,
        by_digest,
        subject_table: root_name,
        key_column: subject.key_column,
        key_type,
        key_type_sql,
        has_tables: nodes.len() > 1,
        find_subject,
        lock_subject,
        blockers,
        locks,
        apply,
        apply_parameters: parameters.values,
        delete_all,
        census,
        summary,
        batch,
        releases,
        identifiers,
        ledger,
        scans,
        outcomes,
        references: references
            .iter()
            .map(|r| format!("{} (foreign key {})", nodes[r.table].relation.name, r.fk.name))
            .collect(),
        unreviewed_columns,
        relations,
        watched,
        sharded,
        routing,
        check_errors: std::cell::OnceCell::new(),
    }
}

/// What a statement does to the subject's rows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Mask the mask tables, delete the delete tables.
    Anonymize,
    /// Delete the subject's row and every registered row but the retained ones.
    DeleteAll,
    /// Only count.
    Count,
}

/// Everything needed to write a changing statement for one subject or a batch.
#[derive(Clone, Copy)]
struct Shape<'a> {
    nodes: &'a [Node],
    key_column: &'a str,
    conditions: &'a [String],
    assignments: &'a [Vec<String>],
    references: &'a [Reference],
    keys: Keys,
}

impl Shape<'_> {
    /// One statement: an UPDATE or DELETE per table as a data-modifying CTE, and the row
    /// counts of every table, in plan order (per subject for a batch).
    fn statement(&self, change: Change) -> String {
        let mut changes = Vec::new();
        let mut counts = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let (table, condition) = (&node.relation.target, &self.conditions[i]);
            let subject_key = match self.keys {
                Keys::One => None,
                Keys::Batch => Some(subject_key(self.nodes, i, self.key_column)),
            };
            let returning = subject_key.as_ref().map_or("1".to_string(), |k| format!("{k} AS k"));
            let cte = format!("t{i}");
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
                (Some(_), Some(_)) => statements::count_cte_by_key(i, &cte),
                (None, None) => statements::count_rows(table, condition),
                (None, Some(key)) => statements::count_rows_by_key(i, table, condition, key),
            });
            changes.extend(sql);
        }
        // Children before parents: where the parts run as statements of their own (Citus runs
        // each part alone when they span shards), rows go before the rows they reference.
        changes.reverse();
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
struct Reference {
    /// The table's position in the plan.
    table: usize,
    fk: schema::ForeignKey,
}

/// The NO ACTION or RESTRICT foreign keys of the subject's table, or of a masked or deleted
/// one, onto itself (a customer's `referred_by`): the erasure keeps other subjects' rows, and
/// while one references the subject, deleting it would fail. Keys from unregistered tables are
/// `erasure.check()`'s to report; retained rows are counted already.
fn self_references(client: &SpiClient<'_>, nodes: &[Node]) -> Vec<Reference> {
    let mut references = Vec::new();
    for (table, node) in nodes.iter().enumerate().filter(|(_, n)| n.action() != Action::Retain) {
        for fk in schema::restricting_self_references(client, node.relation.oid) {
            references.push(Reference { table, fk });
        }
    }
    references
}

/// The release statements of the retained tables that have a retention period. They work on
/// all erased subjects at once, so their tables must be reachable without `$1` filters.
fn releases(
    client: &SpiClient<'_>,
    nodes: &[Node],
    key_column: &str,
    key_type: pg_sys::Oid,
    batchable: bool,
) -> Vec<ReleasePlan> {
    let mut releases = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
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
        let columns = schema::columns(client, node.relation.oid);
        let start_column = schema::column(&node.relation, &columns, &retain_from);
        let start = qualified(table, &retain_from);
        let start_epoch = statements::epoch(&start, start_column.base_type);
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
        let start_of_older_entry = statements::epoch(
            &format!(
                "CAST(CAST(t OPERATOR(pg_catalog.->>) 'through' AS pg_catalog.timestamptz) OPERATOR(pg_catalog.-) \
                 CAST($2 AS pg_catalog.interval) AS {})",
                start_column.type_sql
            ),
            start_column.base_type,
        );
        let keys_type = unsafe { pg_sys::get_array_type(key_type) };
        let mut types: Vec<PgOid> = vec![PgOid::from_untagged(keys_type)];
        types.extend(parameters.values.iter().map(|_| PgOid::from_untagged(pg_sys::TEXTOID)));
        types.extend([pg_sys::TEXTOID, pg_sys::JSONBOID].map(PgOid::from_untagged));
        let statement = rewrap(
            || spi(client.prepare_mut(sql.as_str(), &types)).keep(),
            |e| {
                ErasureError::new(code_of(e), format!("the release statement of table \"{table}\" is invalid"))
                    .detail(e.message().to_string())
            },
        );
        releases.push(ReleasePlan {
            table: table.clone(),
            statement,
            parameters: parameters.values,
            retain_for,
            start_of_older_entry,
        });
    }
    releases
}

/// The subject's table first, then every registered table after its parent, by depth and
/// then by name: the order rows are locked in.
fn order_tables(client: &SpiClient<'_>, root: Relation, mut pending: Vec<TableEntry>) -> Vec<Node> {
    let mut nodes = vec![Node { relation: root, entry: None, depth: 0 }];
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
                Node { relation: schema::relation(client, entry.tbl), entry: Some(entry), depth }
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
enum Keys {
    One,
    Batch,
}

impl Keys {
    fn matcher(self) -> &'static str {
        match self {
            Keys::One => "$1",
            Keys::Batch => "ANY ($1)",
        }
    }
}

/// The SQL condition selecting the subject's rows of `nodes[i]`, given the key(s) as `$1`.
fn condition(nodes: &[Node], i: usize, key_column: &str, keys: Keys) -> String {
    let node = &nodes[i];
    let table = &node.relation.name;
    let Some(entry) = &node.entry else {
        return equals(&qualified(table, key_column), keys.matcher());
    };
    let mut parts = Vec::new();
    if !entry.via.is_empty() {
        let parent_index = nodes.iter().position(|n| n.relation.oid == entry.parent).unwrap_or(0);
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
            let links: Vec<String> = entry
                .via
                .iter()
                .zip(&entry.parent_columns)
                .map(|(v, p)| equals(&qualified(&parent.relation.name, p), &qualified(table, v)))
                .collect();
            parts.push(format!(
                "EXISTS (SELECT FROM {} WHERE {} AND {})",
                parent.relation.name,
                links.join(" AND "),
                condition(nodes, parent_index, key_column, keys)
            ));
        }
    }
    if let Some(filter) = &entry.filter {
        parts.push(statements::embedded(filter));
    }
    parts.join(" AND ")
}

/// The subject key of a row of `nodes[i]`, as text: how a batch statement tells which
/// subject each changed row belonged to. Only for tables reached through `via` columns.
fn subject_key(nodes: &[Node], i: usize, key_column: &str) -> String {
    let node = &nodes[i];
    let table = &node.relation.name;
    let Some(entry) = &node.entry else {
        return format!("CAST({} AS pg_catalog.text)", qualified(table, key_column));
    };
    let parent_index = nodes.iter().position(|n| n.relation.oid == entry.parent).unwrap_or(0);
    let parent = &nodes[parent_index];
    if let Some(carrier) = key_carrier(nodes, i, key_column) {
        return format!("CAST({} AS pg_catalog.text)", qualified(table, &carrier));
    }
    let links: Vec<String> = entry
        .via
        .iter()
        .zip(&entry.parent_columns)
        .map(|(v, p)| equals(&qualified(&parent.relation.name, p), &qualified(table, v)))
        .collect();
    format!(
        "(SELECT {} FROM {} WHERE {} AND {})",
        subject_key(nodes, parent_index, key_column),
        parent.relation.name,
        links.join(" AND "),
        condition(nodes, parent_index, key_column, Keys::Batch)
    )
}

/// The column of `nodes[i]` that holds the subject's key, if one does: the key column of the
/// subject's table, and down the tree the via column linked to the parent's carrier
/// (`order_items.customer_id` when its via columns `(customer_id, order_id)` reference
/// `orders (customer_id, id)` and `orders.customer_id` references the customer).
fn key_carrier(nodes: &[Node], i: usize, key_column: &str) -> Option<String> {
    let Some(entry) = &nodes[i].entry else { return Some(key_column.to_string()) };
    let parent = nodes.iter().position(|n| n.relation.oid == entry.parent)?;
    let parent_carrier = key_carrier(nodes, parent, key_column)?;
    entry.parent_columns.iter().position(|p| *p == parent_carrier).map(|j| entry.via[j].clone())
}

/// Whether the rows of `nodes[i]` are found through a filter that uses `$1` (its own or an
/// ancestor's). Such a filter compares with one key, so it cannot serve a batch of keys.
fn needs_one_key(nodes: &[Node], i: usize) -> bool {
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
    own || nodes.iter().position(|n| n.relation.oid == entry.parent).is_some_and(|p| needs_one_key(nodes, p))
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
fn identifying_columns(client: &SpiClient<'_>, root: &Node) -> Vec<String> {
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
fn text_left_as_is(client: &SpiClient<'_>, nodes: &[Node], i: usize, key_column: &str) -> Vec<String> {
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
fn assignments(
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
    let row_key = statements::row_key(&relation.name, &schema::primary_key(client, relation.oid));
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
        if let Some(value) = statements::masked_value(&target, column, &strategy, subject_key, &row_key, parameters) {
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

/// A retained table whose foreign key follows changes of the columns it references (ON UPDATE
/// CASCADE, SET NULL, SET DEFAULT) would be rewritten when the erasure masks those columns
/// (`invoices.customer_email REFERENCES customers(email) ON UPDATE CASCADE`): refuse it.
fn check_retained_rows_survive_masking(client: &SpiClient<'_>, nodes: &[Node]) {
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
fn check_kept_rows_survive_deletes(client: &SpiClient<'_>, nodes: &[Node]) {
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
