//! The registration functions that migrations call:
//!
//! ```sql
//! SELECT erasure.register_subject('customer', 'shop.customers', summary_columns => '{name,email}');
//! SELECT erasure.register_table('customer', 'shop.orders');            -- via its foreign key
//! SELECT erasure.register_table('customer', 'billing.invoices', 'retain', reason => 'bookkeeping law');
//! SELECT erasure.set_policy('shop.customers', 'name', 'constant', '{"value": "Xxxx"}');
//! SELECT erasure.register_blocker('customer', 'unpaid_orders',
//!        $$SELECT id FROM shop.orders WHERE customer_id = $1 AND status = 'awaiting_payment'$$);
//! ```
//!
//! Each is idempotent (an upsert), validates its input against the live schema first, and ends
//! by building the erasure plan of every subject it touches, so a registration that would make
//! an erasure fail is refused at once rather than on the day a customer asks to be erased.

use pgrx::pg_sys::panic::ErrorReportWithLevel;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use serde_json::Value;

use super::entries::{self, Action};
use super::schema::{self, column_list, Relation};
use super::sql_check;
use super::strategy::{self, Strategy, StrategyError};
use crate::error::*;
use crate::plan;
use crate::security;

pub fn register_subject(
    subject: &str,
    tbl: pg_sys::Oid,
    key_column: Option<String>,
    summary_columns: Vec<String>,
    personal_key: bool,
) {
    if subject.is_empty() {
        ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, "subject name must not be empty").raise();
    }
    Spi::connect_mut(|client| {
        hold(client, &[subject], &[tbl]);
        let relation = schema::relation(client, tbl);
        security::require_owner(client, &relation, "register it for erasure");
        security::require_privileges(client, security::relation_owner(client, tbl), &relation, "mask");
        let columns = schema::columns(client, tbl);
        let key_column = match key_column {
            Some(key) => schema::column(&relation, &columns, &key).name.clone(),
            None => match schema::primary_key(client, tbl).as_slice() {
                [key] => key.clone(),
                _ => ErasureError::new(
                    ERRCODE_INVALID_COLUMN_REFERENCE,
                    format!("table \"{}\" has no single-column primary key", relation.name),
                )
                .hint("Name the column that identifies a subject with key_column => '...'.")
                .raise(),
            },
        };
        if !schema::identifies_rows(client, tbl, &key_column) {
            ErasureError::new(
                ERRCODE_INVALID_COLUMN_REFERENCE,
                format!("key column \"{key_column}\" of relation \"{}\" does not identify one row", relation.name),
            )
            .detail("Without a unique index over exactly that column, one key could name several people, and an erasure would erase them all.")
            .hint(format!(
                "Create one (CREATE UNIQUE INDEX ON {} ({})), or name a column that is unique.",
                relation.name,
                pgrx::spi::quote_identifier(&key_column)
            ))
            .raise();
        }
        for col in &summary_columns {
            schema::column(&relation, &columns, col);
        }
        if personal_key {
            // The digest is keyed: without the key, none can be made (55000).
            crate::keyed_hash::key();
        }
        if let Some(existing) = entries::subject(client, subject).filter(|e| e.personal_key != personal_key) {
            let recorded: bool = security::as_extension_owner(security::extension_owner(client), || {
                spi(client
                    .select("SELECT EXISTS (SELECT FROM erasure.ledger WHERE subject = $1)", None, &[subject.into()])
                    .and_then(|rows| rows.first().get_one::<bool>()))
            })
            .unwrap_or(false);
            if recorded {
                ErasureError::new(
                    ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!("erasure subject \"{subject}\" already has erasures in the ledger"),
                )
                .detail(format!(
                    "They record its keys {}; changing personal_key would make repeats and replays miss them.",
                    if existing.personal_key { "as digests" } else { "as they are" }
                ))
                .hint("Register the subject under a new name for the new setting.")
                .raise();
            }
        }
        if let Some(existing) = entries::subject(client, subject) {
            if existing.tbl != tbl && !entries::tables(client, subject).is_empty() {
                ErasureError::new(
                    ERRCODE_DUPLICATE_OBJECT,
                    format!("erasure subject \"{subject}\" is already registered on another table"),
                )
                .detail("Its registered tables are found through that table.")
                .raise();
            }
        }
        if let Some(other) = entries::subject_of_table(client, tbl).filter(|s| s != subject) {
            ErasureError::new(
                ERRCODE_DUPLICATE_OBJECT,
                format!("table \"{}\" is already the table of erasure subject \"{other}\"", relation.name),
            )
            .raise();
        }
        security::as_extension_owner(security::extension_owner(client), || {
            spi(client.update(
                "INSERT INTO erasure.subjects (subject, tbl, key_column, summary_columns, personal_key)
                 VALUES ($1, $2, $3, $4::pg_catalog.name[], $5)
                 ON CONFLICT (subject) DO UPDATE
                    SET tbl = excluded.tbl, key_column = excluded.key_column,
                        summary_columns = excluded.summary_columns, personal_key = excluded.personal_key",
                None,
                &[subject.into(), tbl.into(), key_column.as_str().into(), summary_columns.into(), personal_key.into()],
            ));
        });
    });
    catalog_changed(&[subject.to_string()]);
}

pub struct TableRegistration {
    pub subject: String,
    pub tbl: pg_sys::Oid,
    pub action: String,
    pub via: Option<Vec<String>>,
    pub parent: Option<pg_sys::Oid>,
    pub filter: Option<String>,
    pub reason: Option<String>,
    pub retain_for: Option<pgrx::datum::Interval>,
    pub retain_from: Option<String>,
    /// Columns of the parent pointing to this table's rows (`customer.address_id`), instead
    /// of `via` columns of this table pointing to the parent's.
    pub referenced_by: Option<Vec<String>>,
}

pub fn register_table(r: TableRegistration) {
    let action = Action::parse(&r.action).unwrap_or_else(|| {
        ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, format!("unknown table action \"{}\"", r.action))
            .hint("Use mask, delete or retain.")
            .raise()
    });
    Spi::connect_mut(|client| {
        hold(client, &[&r.subject], &[r.tbl]);
        let subject = entries::require_subject(client, &r.subject);
        hold(client, &[], &[subject.tbl, r.parent.unwrap_or(subject.tbl)]);
        let relation = schema::relation(client, r.tbl);
        security::require_owner(client, &relation, "register it for erasure");
        let subject_table = schema::relation(client, subject.tbl);
        security::require_owner(
            client,
            &subject_table,
            &format!("register tables of erasure subject \"{}\"", subject.subject),
        );
        let owner = security::relation_owner(client, subject.tbl);
        security::require_privileges(client, owner, &relation, action.as_str());
        if r.tbl == subject.tbl {
            ErasureError::new(
                ERRCODE_INVALID_PARAMETER_VALUE,
                format!("table \"{}\" is the own table of erasure subject \"{}\"", relation.name, subject.subject),
            )
            .detail(
                "The subject's table is registered by erasure.register_subject() and masked by its column policies.",
            )
            .raise();
        }
        let parent = schema::relation(client, r.parent.unwrap_or(subject.tbl));
        if parent.oid == r.tbl {
            ErasureError::new(
                ERRCODE_INVALID_PARAMETER_VALUE,
                format!("table \"{}\" cannot be its own parent", relation.name),
            )
            .raise();
        }
        if parent.oid != subject.tbl && !entries::tables(client, &subject.subject).iter().any(|t| t.tbl == parent.oid) {
            ErasureError::new(
                ERRCODE_UNDEFINED_OBJECT,
                format!("parent table \"{}\" is not registered for erasure subject \"{}\"", parent.name, subject.subject),
            )
            .hint("Register the parent first with erasure.register_table(); chains are registered from the subject outwards.")
            .raise();
        }
        refuse_partition_overlap(client, &relation, &subject);
        let (via, parent_columns) = match &r.referenced_by {
            None => resolve_link(client, &relation, &parent, r.via.clone(), &subject),
            Some(referencing) => {
                refuse_referenced_misuse(&relation, &parent, &r, action);
                let (referencing, referenced) =
                    resolve_link(client, &parent, &relation, Some(referencing.clone()), &subject);
                refuse_unreadable_referrers(client, owner, &relation);
                (referenced, referencing)
            }
        };
        if via.is_empty() && r.filter.is_none() {
            ErasureError::new(
                ERRCODE_INVALID_PARAMETER_VALUE,
                format!("table \"{}\" has neither via columns nor a filter", relation.name),
            )
            .hint("With via => '{}', pass a filter that selects the subject's rows using $1.")
            .raise();
        }
        match (&r.retain_for, &r.retain_from) {
            (None, None) => {}
            (Some(_), Some(column)) if action == Action::Retain => {
                schema::retention_start(client, &relation, &parent, column);
            }
            _ => ErasureError::new(
                ERRCODE_INVALID_PARAMETER_VALUE,
                format!(
                    "retention of table \"{}\" needs action retain, retain_for and retain_from together",
                    relation.name
                ),
            )
            .hint("E.g. action => 'retain', retain_for => '5 years', retain_from => 'issued_at'.")
            .raise(),
        }
        if let Some(filter) = &r.filter {
            let invalid = |e: &ErrorReportWithLevel| {
                ErasureError::new(code_of(e), format!("filter of table \"{}\" is invalid", relation.name))
                    .detail(format!("{} (filter: {filter})", e.message()))
            };
            let single = rewrap(|| sql_check::is_single_expression(filter), invalid);
            if !single {
                ErasureError::new(
                    ERRCODE_SYNTAX_ERROR,
                    format!("filter of table \"{}\" is not a single SQL condition", relation.name),
                )
                .detail(format!("filter: {filter}"))
                .raise();
            }
            let probe = format!("SELECT FROM {} WHERE {}", relation.name, plan::statements::embedded(filter));
            let subject_columns = schema::columns(client, subject.tbl);
            let key = schema::column(&subject_table, &subject_columns, &subject.key_column);
            let what = format!("the filter of table {}", relation.name);
            security::check_catalog_sql(owner, &probe, &[key.type_oid], security::Trial::Plan, &what, invalid);
        }
        security::as_extension_owner(security::extension_owner(client), || {
            write_table_entry(client, &r, action, parent.oid, via, parent_columns);
        });
    });
    let plans = catalog_changed(std::slice::from_ref(&r.subject));
    // On a sharded cluster a table whose rows are not in the subject's shard group would make
    // every erasure of the subject fail.
    if let Some((_, problem, hint)) = plans.iter().flat_map(crate::citus::problems).find(|(tbl, _, _)| *tbl == r.tbl) {
        let name = Spi::connect(|client| schema::relation(client, r.tbl).name);
        ErasureError::new(ERRCODE_FEATURE_NOT_SUPPORTED, format!("table \"{name}\" {problem}")).hint(hint).raise();
    }
}

fn write_table_entry(
    client: &mut SpiClient<'_>,
    r: &TableRegistration,
    action: Action,
    parent: pg_sys::Oid,
    via: Vec<String>,
    parent_columns: Vec<String>,
) {
    spi(client.update(
        "INSERT INTO erasure.tables
                    (subject, tbl, action, parent, via, parent_columns, filter, reason, retain_for, retain_from,
                     referenced)
             VALUES ($1, $2, $3, $4, $5::pg_catalog.name[], $6::pg_catalog.name[], $7, $8, $9, $10, $11)
             ON CONFLICT (subject, tbl) DO UPDATE
                SET action = excluded.action, parent = excluded.parent, via = excluded.via,
                    parent_columns = excluded.parent_columns, filter = excluded.filter,
                    reason = excluded.reason, retain_for = excluded.retain_for,
                    retain_from = excluded.retain_from, referenced = excluded.referenced",
        None,
        &[
            r.subject.as_str().into(),
            r.tbl.into(),
            action.as_str().into(),
            parent.into(),
            via.into(),
            parent_columns.into(),
            r.filter.clone().into(),
            r.reason.clone().into(),
            r.retain_for.into(),
            r.retain_from.clone().into(),
            r.referenced_by.is_some().into(),
        ],
    ));
}

/// The columns of `relation` that reference `parent`, and the parent columns they reference.
fn resolve_link(
    client: &SpiClient<'_>,
    relation: &Relation,
    parent: &Relation,
    via: Option<Vec<String>>,
    subject: &entries::SubjectEntry,
) -> (Vec<String>, Vec<String>) {
    let foreign_keys = schema::foreign_keys(client, relation.oid, parent.oid);
    let Some(via) = via else {
        return match foreign_keys.as_slice() {
            [fk] => (fk.columns.clone(), fk.referenced.clone()),
            [] => {
                let error = ErasureError::new(
                    ERRCODE_INVALID_FOREIGN_KEY,
                    format!("table \"{}\" has no foreign key to \"{}\"", relation.name, parent.name),
                );
                // The link may point the other way: the customer's row names its address.
                match schema::foreign_keys(client, parent.oid, relation.oid).first() {
                    Some(back) => error.hint(format!(
                        "{} points to it: register it with referenced_by => '{{{}}}'.",
                        parent.name,
                        back.columns.join(",")
                    )),
                    None => error.hint(
                        "Name the referencing columns with via => '{column}', or select the rows with via => '{}' and a filter.",
                    ),
                }
                .raise()
            }
            several => ErasureError::new(
                ERRCODE_INVALID_FOREIGN_KEY,
                format!("table \"{}\" has {} foreign keys to \"{}\"", relation.name, several.len(), parent.name),
            )
            .detail(format!(
                "Candidates: {}.",
                several
                    .iter()
                    .map(|fk| format!("{} {}", fk.name, column_list(&fk.columns)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .hint(format!("Choose one with via => '{{{}}}'.", several[0].columns.join(",")))
            .raise(),
        };
    };
    if via.is_empty() {
        return (vec![], vec![]);
    }
    let columns = schema::columns(client, relation.oid);
    for col in &via {
        schema::column(relation, &columns, col);
    }
    if let Some(fk) = foreign_keys.iter().find(|fk| fk.columns == via) {
        return (via, fk.referenced.clone());
    }
    // Without a declared foreign key, one column may still hold the parent's key.
    let parent_key = if parent.oid == subject.tbl {
        vec![subject.key_column.clone()]
    } else {
        schema::primary_key(client, parent.oid)
    };
    if via.len() == 1 && parent_key.len() == 1 {
        refuse_unlinked_key(client, relation, parent, &via[0], &parent_key[0], &columns);
        return (via, parent_key);
    }
    ErasureError::new(
        ERRCODE_INVALID_FOREIGN_KEY,
        format!("columns {} of \"{}\" do not reference \"{}\"", column_list(&via), relation.name, parent.name),
    )
    .hint("Declare a foreign key on those columns, or name a single column holding the parent's single-column key.")
    .raise()
}

/// A registered partitioned table covers its partitions, present and future: its statements
/// reach their rows. Registering a partition beside it (or it beside one of its partitions)
/// would erase, count and in mode delete refuse the same rows twice.
fn refuse_partition_overlap(client: &SpiClient<'_>, relation: &Relation, subject: &entries::SubjectEntry) {
    let related: Vec<(pg_sys::Oid, bool)> = spi(client.select(
        "SELECT a.relid::pg_catalog.oid, true FROM pg_catalog.pg_partition_ancestors($1) a WHERE a.relid <> $1
         UNION ALL
         SELECT p.relid::pg_catalog.oid, false FROM pg_catalog.pg_partition_tree($1) p WHERE p.relid <> $1",
        None,
        &[relation.oid.into()],
    ))
    .map(|row| (spi(row.get(1)).unwrap_or(pg_sys::InvalidOid), spi(row.get(2)).unwrap_or(false)))
    .collect();
    let registered: Vec<pg_sys::Oid> =
        entries::tables(client, &subject.subject).iter().map(|t| t.tbl).chain([subject.tbl]).collect();
    if let Some((other, is_ancestor)) = related.into_iter().find(|(oid, _)| registered.contains(oid)) {
        let other = schema::relation(client, other).name;
        let (message, hint) = match is_ancestor {
            true => (
                format!("table \"{}\" is a partition of {other}, which is registered for erasure subject \"{}\"", relation.name, subject.subject),
                "Its rows are erased with its parent's, by the parent's registration and policies: register nothing for it.".to_string(),
            ),
            false => (
                format!("partition {other} of table \"{}\" is registered for erasure subject \"{}\"", relation.name, subject.subject),
                format!(
                    "Registered, the partitioned table covers all its partitions: drop the partition's registration first (SELECT erasure.drop_table({}, {});).",
                    pgrx::spi::quote_literal(&subject.subject),
                    pgrx::spi::quote_literal(&other)
                ),
            ),
        };
        ErasureError::new(ERRCODE_DUPLICATE_OBJECT, message).hint(hint).raise();
    }
}

/// Rows the subject points to (its address) are masked or kept, never deleted: the subject's
/// own row, masked, still points to them. The link is the parent's columns or via's, not both.
fn refuse_referenced_misuse(relation: &Relation, parent: &Relation, r: &TableRegistration, action: Action) {
    if r.via.is_some() {
        ErasureError::new(
            ERRCODE_INVALID_PARAMETER_VALUE,
            format!("table \"{}\" is given both via and referenced_by", relation.name),
        )
        .hint("via names this table's columns pointing to the parent; referenced_by the parent's columns pointing to this table.")
        .raise();
    }
    if action == Action::Delete {
        ErasureError::new(
            ERRCODE_INVALID_PARAMETER_VALUE,
            format!("rows of \"{}\" that {} points to cannot be deleted", relation.name, parent.name),
        )
        .detail("The subject's row, anonymized, keeps pointing to them.")
        .hint("Register it with action mask, or retain.")
        .raise();
    }
}

/// A row the subject points to is changed only while no other row points to it (another
/// customer, a staff member, a store at the same address): the erasure reads every table
/// whose foreign key references it, with the subject owner's rights.
fn refuse_unreadable_referrers(client: &SpiClient<'_>, owner: pg_sys::Oid, relation: &Relation) {
    let unreadable: Option<String> = spi(client
        .select(
            "SELECT pg_catalog.string_agg(DISTINCT f.conrelid::pg_catalog.regclass::pg_catalog.text, ', ')
               FROM pg_catalog.pg_constraint f
              WHERE f.contype = 'f' AND f.confrelid = $1 AND f.conparentid = 0
                AND NOT pg_catalog.has_table_privilege($2, f.conrelid, 'SELECT')",
            None,
            &[relation.oid.into(), owner.into()],
        )
        .and_then(|rows| rows.first().get_one()));
    if let Some(tables) = unreadable {
        ErasureError::new(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("the subject's owner \"{}\" cannot read {tables}, which refer to rows of \"{}\"", security::role_name(owner), relation.name),
        )
        .detail("A row the subject points to is erased only when no other row points to it; the erasure must read those tables to know.")
        .hint(format!("GRANT SELECT ON {tables} TO {};", pgrx::spi::quote_identifier(security::role_name(owner))))
        .raise();
    }
}

/// A column named as a link without a foreign key must be able to hold the parent's key: not
/// the table's own primary key (`address.address_id` names an address, not a customer) and of
/// the parent key's type. Otherwise the erasure would match rows of other people by accident.
fn refuse_unlinked_key(
    client: &SpiClient<'_>,
    relation: &Relation,
    parent: &Relation,
    via: &str,
    parent_key: &str,
    columns: &[schema::Column],
) {
    let column = schema::column(relation, columns, via);
    let parent_columns = schema::columns(client, parent.oid);
    let key = schema::column(parent, &parent_columns, parent_key);
    let why = if schema::primary_key(client, relation.oid) == [via.to_string()] {
        Some(format!("It is the primary key of \"{}\": it identifies that table's own rows.", relation.name))
    } else if column.base_type != key.base_type {
        Some(format!(
            "It is of type {}, the key {}.{} of type {}.",
            column.type_sql, parent.name, parent_key, key.type_sql
        ))
    } else {
        None
    };
    if let Some(why) = why {
        ErasureError::new(
            ERRCODE_INVALID_FOREIGN_KEY,
            format!("column \"{via}\" of \"{}\" cannot hold the key of \"{}\"", relation.name, parent.name),
        )
        .detail(why)
        .hint(format!(
            "Declare the foreign key that links them (ALTER TABLE {} ADD FOREIGN KEY (...) REFERENCES {}), or name the column that holds the key.",
            relation.name, parent.name
        ))
        .raise();
    }
}

pub fn set_policy(tbl: pg_sys::Oid, col: &str, strategy_name: &str, params: Value) {
    let subjects = Spi::connect_mut(|client| {
        let relation = schema::relation(client, tbl);
        security::require_owner(client, &relation, "set its masking policies");
        let subjects = entries::subjects_using(client, tbl);
        hold(client, &subjects.iter().map(String::as_str).collect::<Vec<_>>(), &[tbl]);
        if subjects.is_empty() {
            ErasureError::new(ERRCODE_UNDEFINED_OBJECT, format!("table \"{}\" is not registered", relation.name))
                .hint("Register it first with erasure.register_subject() or erasure.register_table().")
                .raise();
        }
        validate_policy(client, &relation, col, strategy_name, &params, &subjects);
        security::as_extension_owner(security::extension_owner(client), || {
            spi(client.update(
                "INSERT INTO erasure.column_policies (tbl, col, strategy, params) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tbl, col) DO UPDATE SET strategy = excluded.strategy, params = excluded.params",
                None,
                &[tbl.into(), col.into(), strategy_name.into(), pgrx::JsonB(params).into()],
            ));
        });
        subjects
    });
    catalog_changed(&subjects);
}

/// Whether the policy `strategy_name` with `params` can mask `col` of `relation` at every
/// erasure of `subjects`, raising the error that says why not: the one rule that registration
/// (`set_policy`) and `erasure.check()` (`check_policy`, after the schema changed) apply.
fn validate_policy(
    client: &SpiClient<'_>,
    relation: &Relation,
    col: &str,
    strategy_name: &str,
    params: &Value,
    subjects: &[String],
) {
    let strategy = Strategy::parse(strategy_name, params).unwrap_or_else(|e| match e {
        StrategyError::Unknown => {
            ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, format!("unknown masking strategy \"{strategy_name}\""))
                .hint(format!("Use one of: {}.", strategy::NAMES))
                .raise()
        }
        StrategyError::Params(why) => ErasureError::new(
            ERRCODE_INVALID_PARAMETER_VALUE,
            format!("invalid params for masking strategy \"{strategy_name}\""),
        )
        .detail(format!("Params {params}: {why}."))
        .raise(),
    });
    let tbl = relation.oid;
    let columns = schema::columns(client, tbl);
    let column = schema::column(&relation, &columns, col);
    if column.generated {
        ErasureError::new(
            ERRCODE_GENERATED_ALWAYS,
            format!("column \"{col}\" of relation \"{}\" is a generated column", relation.name),
        )
        .detail("It is computed from other columns; mask those instead.")
        .raise();
    }
    if let Some(why) = strategy.misfit(column) {
        let code = if why.contains("NOT NULL") { ERRCODE_NOT_NULL_VIOLATION } else { ERRCODE_DATATYPE_MISMATCH };
        ErasureError::new(
            code,
            format!(
                "masking strategy \"{strategy_name}\" cannot be used on column \"{col}\" of relation \"{}\"",
                relation.name
            ),
        )
        .detail(format!("{why}."))
        .raise();
    }
    if strategy == Strategy::RestrictedAt && entries::subject_of_table(client, tbl).is_none() {
        ErasureError::new(
            ERRCODE_INVALID_PARAMETER_VALUE,
            format!("masking strategy \"restricted_at\" cannot be used on relation \"{}\"", relation.name),
        )
        .detail("It marks the subject's own row while an erasure request of it waits; this is not a subject's table.")
        .hint("Set it on a column of the subject's table (erasure.subjects.tbl).")
        .raise();
    }
    if strategy != Strategy::Keep {
        if let Some(use_) = entries::structural_use(client, tbl, col) {
            ErasureError::new(
                ERRCODE_INVALID_COLUMN_REFERENCE,
                format!("column \"{col}\" of relation \"{}\" cannot be masked", relation.name),
            )
            .detail(format!("It {use_}; masking it would cut the link between the subject and its rows."))
            .hint("Use the keep strategy, or mask another column.")
            .raise();
        }
    }
    let unique = strategy.writes_one_value().then(|| schema::unique_index_using(client, tbl, col)).flatten();
    if let Some(index) = unique {
        ErasureError::new(
            ERRCODE_INVALID_PARAMETER_VALUE,
            format!(
                "masking strategy \"{strategy_name}\" would write the same value into UNIQUE column \"{col}\" of relation \"{}\"",
                relation.name
            ),
        )
        .detail(format!("Index {index} would refuse the second erasure with a unique violation."))
        .hint("Use a placeholder with {key} or {uuid}, e.g. '{\"template\": \"erased-{key}@invalid.example\"}', or null.")
        .raise();
    }
    check_values(client, relation, column, &strategy, strategy_name, subjects);
}

/// `erasure.check_policy(tbl, col)`: raises what registering the column's policy again would
/// raise now (a column retyped, made NOT NULL, given a unique index since), for `check()`.
pub fn check_policy(tbl: pg_sys::Oid, col: &str) {
    Spi::connect(|client| {
        let relation = schema::relation(client, tbl);
        let Some(policy) = entries::policies(client, tbl).into_iter().find(|p| p.col == col) else { return };
        let subjects = entries::subjects_using(client, tbl);
        validate_policy(client, &relation, col, &policy.strategy, &policy.params, &subjects);
    })
}

/// Whether the strategy `strategy_name` (with `params`) fits the type of `col` of `tbl`, by the
/// rule registration applies (`Strategy::misfit`): for `erasure.suggest_policies()`, which
/// must not propose what `set_policy` would refuse.
pub fn strategy_fits(tbl: pg_sys::Oid, col: &str, strategy_name: &str, params: &Value) -> bool {
    Spi::connect(|client| {
        let relation = schema::relation(client, tbl);
        let columns = schema::columns(client, tbl);
        let column = schema::column(&relation, &columns, col);
        Strategy::parse(strategy_name, params).is_ok_and(|strategy| strategy.misfit(column).is_none())
    })
}

/// Checks the values a strategy writes, where they can be known before any erasure: they must
/// be accepted by the column's type and its domain's NOT NULL and CHECK constraints, and a text
/// value must fit a `varchar(n)` (an erasure refuses to cut it), tried as the table's owner (a
/// domain's CHECK is code tied to the table); `jsonb_remove` must apply to the values the
/// column holds (a path of keys fails on an array); an expression must be one expression that
/// PostgreSQL accepts for the column and that the owner of every subject using the table may
/// run.
fn check_values(
    client: &SpiClient<'_>,
    relation: &Relation,
    column: &schema::Column,
    strategy: &Strategy,
    strategy_name: &str,
    subjects: &[String],
) {
    let column_name = format!("column \"{}\" of relation \"{}\"", column.name, relation.name);
    let owner = security::relation_owner(client, relation.oid);
    // What the strategy writes (None: NULL); a placeholder's shape with a sample key.
    let written: Option<Option<String>> = match strategy {
        Strategy::Null => Some(None),
        Strategy::Blank => Some(Some(String::new())),
        Strategy::Constant(value) => Some(Strategy::constant_text(value)),
        Strategy::Placeholder(template) => {
            Some(Some(template.replace("{uuid}", "00000000-0000-0000-0000-000000000000").replace("{key}", "0")))
        }
        _ => None,
    };
    if let Some(value) = written {
        let sql = format!("SELECT CAST(CAST($1 AS {}) AS pg_catalog.text)", column.type_sql);
        let what = match strategy {
            Strategy::Constant(value) => format!("constant {value}"),
            _ => format!("the value of masking strategy \"{strategy_name}\""),
        };
        let stored: Option<String> = rewrap(
            || {
                security::as_owner(owner, || {
                    spi(client.select(sql.as_str(), None, &[value.clone().into()]).and_then(|r| r.first().get_one()))
                })
            },
            |e| {
                ErasureError::new(
                    code_of(e),
                    format!("{what} cannot be cast to type {} of {column_name}", column.type_sql),
                )
                .detail(e.message().to_string())
            },
        );
        let length = |text: &Option<String>| text.as_ref().map_or(0, |t| t.chars().count());
        if column.is_text() && length(&stored) < length(&value) {
            ErasureError::new(
                ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
                format!("{what} is too long for type {} of {column_name}", column.type_sql),
            )
            .detail("An erasure would fail on it rather than cut it short.")
            .raise();
        }
    }
    match strategy {
        Strategy::JsonbRemove(paths) => {
            let sql = format!(
                "SELECT pg_catalog.count(s.masked) FROM (SELECT {col} OPERATOR(pg_catalog.#-) pg_catalog.string_to_array($1, '.')
                          AS masked FROM {table} WHERE {col} IS NOT NULL LIMIT 1000) AS s",
                col = pgrx::spi::quote_identifier(&column.name),
                table = relation.name
            );
            for path in paths {
                rewrap(
                    || security::as_owner(owner, || spi(client.select(sql.as_str(), None, &[path.as_str().into()]))),
                    |e| {
                        ErasureError::new(
                            code_of(e),
                            format!("jsonb_remove path \"{path}\" does not apply to the values of {column_name}"),
                        )
                        .detail(format!("{} (the column holds documents that are not objects with keys)", e.message()))
                        .hint("Use a path for arrays (0.name), or expression with a jsonb function.")
                    },
                );
            }
        }
        Strategy::Expression(sql) => {
            if !sql_check::is_single_expression(sql) {
                ErasureError::new(
                    ERRCODE_SYNTAX_ERROR,
                    format!("expression for {column_name} is not a single SQL expression"),
                )
                .detail(format!("expression: {sql}"))
                .raise();
            }
            let probe = format!("SELECT CAST((\n{sql}\n) AS {}) FROM {} LIMIT 1", column.type_sql, relation.name);
            rewrap(
                || spi(client.prepare(probe.as_str(), &[])),
                |e| {
                    ErasureError::new(code_of(e), format!("expression for {column_name} is invalid"))
                        .detail(format!("{} (expression: {sql})", e.message()))
                },
            );
            // On a sharded cluster the expression runs on the shards, which refuse what would
            // give each copy of a row another value.
            if crate::citus::distribution(client, relation.oid).is_some() {
                if let Some(problem) = crate::citus::pushdown_problem(&probe, &[]) {
                    ErasureError::new(
                        ERRCODE_FEATURE_NOT_SUPPORTED,
                        format!("expression for {column_name} cannot run on the shards of a distributed table"),
                    )
                    .detail(format!("{problem} (expression: {sql})"))
                    .hint("Use IMMUTABLE functions of the row's columns; STABLE ones such as now() only on constants.")
                    .raise();
                }
            }
            let what = format!("the expression for {column_name}");
            for subject in subjects {
                let entry = entries::require_subject(client, subject);
                let owner = security::relation_owner(client, entry.tbl);
                security::check_catalog_sql(owner, &probe, &[], security::Trial::Run { arguments: None }, &what, |e| {
                    ErasureError::new(code_of(e), format!("expression for {column_name} is invalid"))
                        .detail(e.message().to_string())
                });
            }
        }
        _ => {}
    }
}

pub fn drop_policy(tbl: pg_sys::Oid, col: &str) {
    let subjects = Spi::connect_mut(|client| {
        let using = entries::subjects_using(client, tbl);
        hold(client, &using.iter().map(String::as_str).collect::<Vec<_>>(), &[tbl]);
        security::require_owner(client, &schema::relation(client, tbl), "drop its masking policies");
        security::as_extension_owner(security::extension_owner(client), || {
            spi(client.update(
                "DELETE FROM erasure.column_policies WHERE tbl = $1 AND col = $2",
                None,
                &[tbl.into(), col.into()],
            ))
        });
        entries::subjects_using(client, tbl)
    });
    catalog_changed(&subjects);
}

pub fn register_blocker(subject: &str, name: &str, query: &str, message: Option<String>) {
    if name.is_empty() {
        ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, "blocker name must not be empty").raise();
    }
    Spi::connect_mut(|client| {
        let (entry, subject_table) = hold_owned_subject(client, subject, "register blockers of");
        let subject_columns = schema::columns(client, entry.tbl);
        let invalid = |e: &ErrorReportWithLevel| {
            ErasureError::new(code_of(e), format!("query of blocker \"{name}\" is invalid"))
                .detail(e.message().to_string())
        };
        let single = rewrap(|| sql_check::is_single_select(query), invalid);
        if !single {
            ErasureError::new(
                ERRCODE_INVALID_PARAMETER_VALUE,
                format!("query of blocker \"{name}\" is not a single SELECT"),
            )
            .detail(format!("query: {query}"))
            .raise();
        }
        let parameters = rewrap(|| sql_check::parameter_count(query), invalid);
        if parameters != 1 {
            ErasureError::new(
                ERRCODE_INVALID_PARAMETER_VALUE,
                format!("query of blocker \"{name}\" must take the subject key as $1 and no other parameter"),
            )
            .detail(format!("It uses {parameters} parameters: {query}"))
            .raise();
        }
        let key = schema::column(&subject_table, &subject_columns, &entry.key_column);
        let what = format!("the query of blocker \"{name}\"");
        let owner = security::relation_owner(client, entry.tbl);
        // Tried on an existing subject when there is one: a blocker failing only for real keys
        // (a cast, a function's own query) fails here rather than at every erasure.
        let sample = format!("SELECT {} FROM {} LIMIT 1", pgrx::spi::quote_identifier(&key.name), subject_table.name);
        let trial = security::Trial::Run { arguments: Some(&sample) };
        security::check_catalog_sql(owner, query, &[key.type_oid], trial, &what, invalid);
        security::as_extension_owner(security::extension_owner(client), || {
            spi(client.update(
                "INSERT INTO erasure.blockers (subject, name, query, message) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (subject, name) DO UPDATE SET query = excluded.query, message = excluded.message",
                None,
                &[subject.into(), name.into(), query.into(), message.into()],
            ))
        });
    });
    catalog_changed(&[subject.to_string()]);
}

/// For a registration of catalog SQL tied to a subject (a blocker, a batch rule): serializes it
/// (`hold`) and checks that the caller owns the subject's table (`what`: "register blockers of").
pub(super) fn hold_owned_subject(
    client: &SpiClient<'_>,
    subject: &str,
    what: &str,
) -> (entries::SubjectEntry, Relation) {
    hold(client, &[subject], &[]);
    let entry = entries::require_subject(client, subject);
    hold(client, &[], &[entry.tbl]);
    let subject_table = schema::relation(client, entry.tbl);
    security::require_owner(client, &subject_table, &format!("{what} erasure subject \"{subject}\""));
    (entry, subject_table)
}

/// Serializes registrations: takes a transaction-level lock on each subject's registrations (an
/// advisory lock on its name, so a subject not registered yet is covered too), then on each
/// table a lock that conflicts with DROP and ALTER TABLE but not with reads and writes
/// (SHARE UPDATE EXCLUSIVE), and checks that the table still exists. Two registrations of one
/// subject therefore run one after the other, the second validating what the first committed,
/// and a table cannot be dropped or altered while it is validated. Locks are taken in one
/// order (subjects by name, then tables by OID), so registrations queue and never deadlock.
pub(super) fn hold(client: &SpiClient<'_>, subjects: &[&str], tables: &[pg_sys::Oid]) {
    crate::execute::require_statement_snapshots("a registration");
    // A transaction id from now on makes every later statement take a new snapshot, so what
    // is read after a lock wait includes what the registration waited for.
    unsafe { pg_sys::GetCurrentTransactionId() };
    let mut subjects = subjects.to_vec();
    subjects.sort_unstable();
    subjects.dedup();
    for subject in subjects {
        spi(client.select(
            "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pg_erasure registration'), pg_catalog.hashtext($1))",
            None,
            &[subject.into()],
        ));
    }
    let mut tables = tables.to_vec();
    tables.sort_unstable_by_key(|t| t.to_u32());
    tables.dedup();
    for table in tables {
        let exists = unsafe {
            pg_sys::LockRelationOid(table, pg_sys::ShareUpdateExclusiveLock as pg_sys::LOCKMODE);
            pg_sys::SearchSysCacheExists(
                pg_sys::SysCacheIdentifier::RELOID as i32,
                pg_sys::Datum::from(table),
                pg_sys::Datum::from(0),
                pg_sys::Datum::from(0),
                pg_sys::Datum::from(0),
            )
        };
        if !exists {
            ErasureError::new(ERRCODE_UNDEFINED_TABLE, format!("relation with OID {} does not exist", table.to_u32()))
                .detail("It was dropped while being registered.")
                .raise();
        }
    }
}

/// After a catalog write: builds each touched subject's plan (raising if the catalog no longer
/// yields a working erasure) and tells every session to drop its cached plans at commit.
pub(super) fn catalog_changed(subjects: &[String]) -> Vec<plan::Plan> {
    let plans = subjects.iter().map(|subject| plan::Plan::build(subject)).collect();
    plan::cache::invalidate_all_sessions();
    plans
}
