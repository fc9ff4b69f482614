//! Plan: from the catalog to the prepared statements that erase one subject.
//!
//! A plan holds, in the order execution runs them:
//! 1. `lock_subject`: `SELECT … FOR UPDATE` of the subject's row;
//! 2. `ledger.find`: whether it was erased before;
//! 3. `locks`: one statement holding a `SELECT … ORDER BY key FOR UPDATE` per `mask`/`delete`
//!    table, parents before children, tables by name within a level: every erasure locks in
//!    the same order;
//! 4. `blockers`: one query per registered blocker, after the locks;
//! 5. `apply`: one statement holding one UPDATE or DELETE per table and the row counts of the
//!    report, retained tables only counted;
//! 6. `ledger.record`: the ledger row and its notification.
//!
//! Plans are built once per session and subject and kept (`cache`) until the catalog or a
//! registered table changes. Building also validates: registration builds the plan of every
//! subject it touches and so refuses entries that would make an erasure fail.
//!
//! Each file answers one question:
//! - `tree`: which tables, in what order, and how each one's rows are found from the key;
//! - `columns`: what each column becomes (a masked table's SET list, the columns left as they are);
//! - `values`: a policy as an SQL expression, and the `$n` parameters carrying its values;
//! - `shape`: the statement that erases them, one builder for one key and for a batch;
//! - `statements`: the SQL text of each kind of statement;
//! - `retention`: the release statements of retained tables with a retention period;
//! - `refusals`: what may not be registered because an erasure could not keep its promise;
//! - `cache`: plans kept per session until something they depend on changes.

pub mod cache;
mod columns;
mod prepare;
mod refusals;
mod retention;
mod shape;
pub mod statements;
mod tree;
pub mod values;

use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};

use crate::catalog::entries::{self, Action};
use crate::catalog::schema;
use crate::security;
use prepare::{Form, Preparer};
use shape::{Change, Reference};
use tree::{Keys, Node};
use values::Parameter;

pub struct BlockerPlan {
    pub name: String,
    pub message: Option<String>,
    pub statement: OwnedPreparedStatement,
}

/// The statement locking the rows of every table an erasure changes (`statements::lock_all`),
/// and those tables in lock order as positions in `Plan::tables`.
pub struct RowLocks {
    pub tables: Vec<usize>,
    pub statement: OwnedPreparedStatement,
}

/// The batch form of a plan: `$1` is an array of keys, and every statement returns one row
/// per table and subject: (table's position in `Plan::tables`, key, rows).
pub struct BatchPlan {
    /// Locks the subjects' rows; returns (key as given, key as stored) per key found.
    pub lock_subjects: OwnedPreparedStatement,
    /// Every blocker for every key at once: (blocker's position in `Plan::blockers`, key,
    /// details); None when the subject has no blockers.
    pub blockers: Option<OwnedPreparedStatement>,
    /// None when the subject's table is the only one changed.
    pub locks: Option<RowLocks>,
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
    /// Recorded with each release, so that a renamed table finds its earlier releases (a
    /// restored one, whose OID changed, finds them by name).
    pub oid: pg_sys::Oid,
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

/// `erasure.verify()`'s look at the masked columns: one row of counts, per check the subject's
/// rows of its table whose column does not hold what its policy writes. Arguments: `$1` the
/// key, then `parameters`.
pub struct VerifyPlan {
    pub statement: OwnedPreparedStatement,
    pub parameters: Vec<Parameter>,
    /// Per count: the table's position in `Plan::tables`, the column and its strategy.
    pub checks: Vec<(usize, String, String)>,
}

/// Reading and writing the ledger, for one key and for a batch of keys; the arguments are
/// described in `execute::ledger`.
pub struct LedgerStatements {
    pub find: OwnedPreparedStatement,
    pub find_many: OwnedPreparedStatement,
    pub record: OwnedPreparedStatement,
    pub record_many: OwnedPreparedStatement,
}

/// A table of the plan as the report names it: what the catalog says happens to its rows.
pub struct PlannedTable {
    pub table: String,
    pub action: Action,
    pub reason: Option<String>,
    /// For a masked table, whether any of its policies changes a value: a table whose columns
    /// are all kept is not written, and the report says so.
    pub writes: bool,
    /// The subject points to its rows: a row someone else points to as well is kept, and the
    /// report counts it as shared.
    pub shares: bool,
}

impl PlannedTable {
    fn of(node: &Node, assignments: &[String]) -> PlannedTable {
        PlannedTable {
            table: node.relation.name.clone(),
            action: node.action(),
            reason: node.entry.as_ref().and_then(|e| e.reason.clone()),
            writes: node.action() == Action::Delete || !assignments.is_empty(),
            shares: node.referenced(),
        }
    }
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
    pub locks: Option<RowLocks>,
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
    /// None when no masked column has a policy whose result can be checked.
    pub verify: Option<VerifyPlan>,
    /// Sets the subject's `restricted_at` columns to now() (`$2` true) or NULL (`$2` false, the
    /// restriction lifted); None when it has none (`execute::restriction`).
    pub restriction: Option<OwnedPreparedStatement>,
    /// The tables in plan order; each count column of `apply`, `delete_all` and `census`
    /// reports the table at the same position.
    pub tables: Vec<PlannedTable>,
    /// The foreign keys of tables onto themselves (`referred_by`), described for messages;
    /// `census` counts, after the tables, the rows of others referencing the subject's through each.
    pub references: Vec<String>,
    /// `table.column` of every column of a masked table that has no policy.
    pub unreviewed_columns: Vec<String>,
    /// The definition of each of its tables when it was built (`schema::definitions`): the
    /// plan is rebuilt once one of them changes (`cache`).
    pub definitions: Vec<(pg_sys::Oid, String)>,
    /// The catalog table (`erasure.subjects`), whose invalidation means the catalog changed.
    pub catalog: pg_sys::Oid,
    /// The subject's registrations when it was built (`entries::registrations`).
    pub registrations: String,
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
        self.tables.len() + self.references.len()
    }

    /// How many counts `apply` and `delete_all` give: one per table, then for each table the
    /// subject points to, the rows it points to, shared or not.
    pub fn apply_width(&self) -> usize {
        self.tables.len() + self.tables.iter().filter(|t| t.shares).count()
    }
}

fn build(client: &SpiClient<'_>, subject: entries::SubjectEntry, owner: pg_sys::Oid) -> Plan {
    let p = Preparer { client, subject: &subject.subject };
    let root = schema::relation(client, subject.tbl);
    let root_columns = schema::columns(client, subject.tbl);
    let key = schema::column(&root, &root_columns, &subject.key_column);
    let (key_type, key_type_sql) = (key.type_oid, key.type_sql.clone());
    let key_column = subject.key_column.as_str();

    let registrations = entries::registrations(client, std::slice::from_ref(&subject.subject))
        .remove(&subject.subject)
        .unwrap_or_default();
    let entries = entries::tables(client, &subject.subject);
    // Read before anything else of the tables: a change committed while the plan is built
    // then differs from what was read, and the plan is built again.
    let tables: Vec<pg_sys::Oid> = std::iter::once(subject.tbl).chain(entries.iter().map(|e| e.tbl)).collect();
    let mut definitions = schema::definitions(client, &tables);
    let nodes = tree::order_tables(client, root, entries);
    refusals::check_kept_rows_survive_deletes(client, &nodes);
    refusals::check_retained_rows_survive_masking(client, &nodes);
    let references = shape::self_references(client, &nodes);
    let lock_orders: Vec<Vec<String>> = nodes.iter().map(|n| schema::primary_key(client, n.relation.oid)).collect();
    let one = Form::new(client, &nodes, key_column, key_type, Keys::One);
    let root_name = nodes[0].relation.name.clone();
    let blocker_entries = entries::blockers(client, &subject.subject);
    // A batch is possible unless a filter compares with a single key.
    let batchable = !(0..nodes.len()).any(|i| tree::needs_one_key(&nodes, i));
    let blocker_queries: Vec<String> = blocker_entries.iter().map(|b| b.query.clone()).collect();
    let shape = one.shape(&nodes, key_column, &references);
    let subject_statement = |lock: bool, what: String| {
        p.writing(statements::stored_key(&root_name, &one.conditions[0], key_column, lock), &[key_type], what)
    };
    let summary_of = |columns: &[String], what: String| {
        p.reading(statements::summary(&root_name, &one.conditions[0], columns), &[key_type], what)
    };
    let digest_key = subject.personal_key.then(crate::keyed_hash::key);
    let text_array = unsafe { pg_sys::get_array_type(pg_sys::TEXTOID) };

    Plan {
        subject: subject.subject.clone(),
        owner,
        extension_owner: security::extension_owner(client),
        by_digest: digest_key.is_some().then(|| {
            p.reading(
                statements::keys_by_digest(&root_name, key_column),
                &[pg_sys::TEXTOID, text_array],
                "its personal keys cannot be found by digest",
            )
        }),
        digest_key,
        find_subject: subject_statement(false, format!("the key column of \"{root_name}\" cannot be compared")),
        lock_subject: subject_statement(true, format!("table \"{root_name}\" cannot be locked")),
        blockers: blocker_plans(&p, blocker_entries, key_type),
        locks: one.table_locks(&p, &nodes, &lock_orders),
        apply: p.writing(
            shape.statement(Change::Anonymize),
            &one.apply_types(),
            "its masking statement is invalid (check the column policies)",
        ),
        delete_all: p.writing(shape.statement(Change::DeleteAll), &[key_type], "its deleting statement is invalid"),
        census: p.reading(shape.statement(Change::Count), &[key_type], "its counting statement is invalid"),
        batch: batchable
            .then(|| batch_plan(&p, &nodes, key_column, key_type, &lock_orders, &references, &blocker_queries)),
        summary: summary_of(&subject.summary_columns, format!("the summary columns of \"{root_name}\" are invalid")),
        identifiers: summary_of(
            &columns::identifying_columns(client, &nodes[0]),
            format!("the identifying columns of \"{root_name}\" cannot be read"),
        ),
        releases: retention::releases(&p, &nodes, key_column, key_type, batchable),
        ledger: ledger_statements(&p),
        scans: scan_targets(&p, &nodes, key_column, key_type, &one, &lock_orders),
        verify: verify_plan(&p, &nodes, key_column, key_type, &one),
        restriction: columns::restriction_markers(client, &nodes[0]).map(|set| {
            p.writing(
                statements::update(&nodes[0].relation.target, &set, &one.conditions[0]),
                &[key_type, pg_sys::BOOLOID],
                format!("its restricted_at columns of \"{}\" cannot be set", nodes[0].relation.name),
            )
        }),
        tables: nodes.iter().zip(&one.assignments.lists).map(|(node, list)| PlannedTable::of(node, list)).collect(),
        references: references.iter().map(|r| r.describe(&nodes)).collect(),
        apply_parameters: one.assignments.parameters.values,
        unreviewed_columns: one.assignments.unreviewed,
        watched: nodes.iter().map(|n| schema::table_and_descendants(client, n.relation.oid)).collect(),
        definitions: tables.iter().map(|t| (*t, definitions.remove(t).unwrap_or_default())).collect(),
        catalog: entries::catalog_oid(client),
        registrations,
        sharded: crate::citus::sharded_by_key(client, subject.tbl, key_column),
        routing: tree::routing(&nodes, key_column),
        has_tables: nodes.len() > 1,
        subject_table: root_name,
        key_column: subject.key_column,
        key_type,
        key_type_sql,
        check_errors: std::cell::OnceCell::new(),
    }
}

/// One statement per blocker, reading with the subject's key as `$1`.
fn blocker_plans(
    p: &Preparer<'_, '_>,
    blockers: Vec<entries::BlockerEntry>,
    key_type: pg_sys::Oid,
) -> Vec<BlockerPlan> {
    blockers
        .into_iter()
        .map(|b| BlockerPlan {
            statement: p.reading(
                statements::blocker(&b.query),
                &[key_type],
                format!("query of blocker \"{}\" is invalid", b.name),
            ),
            name: b.name,
            message: b.message,
        })
        .collect()
}

/// The same erasure for a batch of subjects, one statement per table for the whole batch.
fn batch_plan(
    p: &Preparer<'_, '_>,
    nodes: &[Node],
    key_column: &str,
    key_type: pg_sys::Oid,
    lock_orders: &[Vec<String>],
    references: &[Reference],
    blocker_queries: &[String],
) -> BatchPlan {
    let form = Form::new(p.client, nodes, key_column, key_type, Keys::Batch);
    let shape = form.shape(nodes, key_column, references);
    let keys = [form.keys_type];
    BatchPlan {
        lock_subjects: p.writing(
            statements::lock_keys(&nodes[0].relation.name, key_column),
            &keys,
            "its batch locking statement is invalid",
        ),
        blockers: (!blocker_queries.is_empty()).then(|| {
            p.reading(
                statements::blockers_by_key(blocker_queries),
                &keys,
                "its blocker queries cannot run for a batch of keys",
            )
        }),
        locks: form.table_locks(p, nodes, lock_orders),
        // The batch form takes the same parameters in the same order as the single one: the
        // plan's `apply_parameters` serve both.
        apply: p.writing(
            shape.statement(Change::Anonymize),
            &form.apply_types(),
            "its batch masking statement is invalid",
        ),
        delete_all: p.writing(shape.statement(Change::DeleteAll), &keys, "its batch deleting statement is invalid"),
        census: p.reading(shape.statement(Change::Count), &keys, "its batch counting statement is invalid"),
    }
}

/// The residual scan's statements: one per table whose text the erasure leaves as it is.
fn scan_targets(
    p: &Preparer<'_, '_>,
    nodes: &[Node],
    key_column: &str,
    key_type: pg_sys::Oid,
    one: &Form,
    lock_orders: &[Vec<String>],
) -> Vec<ScanTarget> {
    (0..nodes.len())
        .filter(|&i| nodes[i].action() != Action::Delete)
        .filter_map(|i| {
            let columns = columns::text_left_as_is(p.client, nodes, i, key_column);
            let table = &nodes[i].relation.name;
            (!columns.is_empty()).then(|| ScanTarget {
                tbl: nodes[i].relation.oid,
                statement: p.reading(
                    statements::residual_scan(table, &one.conditions[i], &columns, &lock_orders[i]),
                    &[key_type, pg_sys::JSONBOID],
                    format!("the residual scan of \"{table}\" is invalid"),
                ),
            })
        })
        .collect()
}

/// The statement of `erasure.verify()`: for every masked table, each column's check.
fn verify_plan(
    p: &Preparer<'_, '_>,
    nodes: &[Node],
    key_column: &str,
    key_type: pg_sys::Oid,
    one: &Form,
) -> Option<VerifyPlan> {
    let mut parameters = values::Parameters::default();
    let (mut checks, mut counts) = (Vec::new(), Vec::new());
    for (i, node) in nodes.iter().enumerate().filter(|(_, n)| n.action() == Action::Mask) {
        let subject_key = tree::row_subject_key(nodes, i, key_column, Keys::One);
        for (col, strategy, condition) in
            columns::verifications(p.client, &node.relation, &subject_key, &mut parameters)
        {
            let failing = format!("({}) AND NOT COALESCE({condition}, false)", one.conditions[i]);
            counts.push(statements::count_rows(&node.relation.target, &failing));
            checks.push((i, col, strategy));
        }
    }
    let types: Vec<pg_sys::Oid> =
        std::iter::once(key_type).chain(parameters.values.iter().map(|_| pg_sys::TEXTOID)).collect();
    (!checks.is_empty()).then(|| VerifyPlan {
        statement: p.reading(statements::apply(&[], &counts), &types, "its verification statement is invalid"),
        parameters: parameters.values,
        checks,
    })
}

/// The ledger's statements, prepared as mutating: run after the subject's lock, they must see
/// what committed meanwhile.
fn ledger_statements(p: &Preparer<'_, '_>) -> LedgerStatements {
    let text_array = unsafe { pg_sys::get_array_type(pg_sys::TEXTOID) };
    let text = pg_sys::TEXTOID;
    let find = |keys: Keys, keys_type| p.writing(statements::ledger_find(keys), &[text, keys_type], "the ledger");
    let record = |keys: Keys, list| {
        p.writing(statements::ledger_record(keys), &[text, text, text, list, list, list, text], "the ledger")
    };
    LedgerStatements {
        find: find(Keys::One, text),
        find_many: find(Keys::Batch, text_array),
        record: record(Keys::One, text),
        record_many: record(Keys::Batch, text_array),
    }
}
