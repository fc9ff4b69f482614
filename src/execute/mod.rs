//! Execute: running a plan for one subject.
//!
//! ```sql
//! SELECT * FROM erasure.erasure_blockers(42);          -- why customer 42 cannot go yet
//! SELECT erasure.erasure_preview(42);                  -- what an erasure would do
//! SELECT erasure.anonymize_customer(42);               -- erase it, get the report
//! SELECT erasure.anonymize('customer', 42, 'auto');    -- delete if it has no kept rows
//! ```
//!
//! - `key`: the caller's id (any type) to the subject's key type;
//! - `locks`: the lock timeout, and lock waits reported with the table that waited;
//! - `blockers`: the business rules that forbid an erasure;
//! - `ledger`: the record of every erasure, and the notification of it;
//! - `residual`: where the subject's values remain in text the erasure keeps;
//! - `restriction`: the subject's `restricted_at` marker while a request of it waits;
//! - `verify`: whether an erased subject is still as its ledger row says;
//! - `writes`: what the erasure's triggers write meanwhile (retained tables, copies);
//! - `cleanup`: ANALYZE and REFRESH after erasures;
//! - `report`: the jsonb reports.

pub mod blockers;
pub mod bulk;
pub mod cleanup;
pub mod key;
pub mod ledger;
pub mod locks;
pub mod release;
pub mod replay;
pub mod report;
pub mod residual;
pub mod restriction;
pub mod verify;
pub mod writes;

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::catalog::entries::Action;
use crate::error::*;
use crate::plan::{cache, values, Plan};
use key::Key;

/// How the caller wants a subject erased.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Mask the subject and its rows, delete the `delete` rows, keep the retained ones.
    Anonymize,
    /// Delete the subject and every registered row; refused while retained rows exist.
    Delete,
    /// Delete when the subject has rows only in `delete` tables, anonymize otherwise.
    Auto,
}

impl Mode {
    pub fn parse(mode: &str) -> Mode {
        match mode {
            "anonymize" => Mode::Anonymize,
            "delete" => Mode::Delete,
            "auto" => Mode::Auto,
            _ => ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, format!("unknown erasure mode \"{mode}\""))
                .hint("Use anonymize, delete or auto.")
                .raise(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Anonymize => "anonymize",
            Mode::Delete => "delete",
            Mode::Auto => "auto",
        }
    }
}

/// What an erasure does once allowed, and why.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Anonymize,
    Delete,
}

/// Whether an erasure checks the blockers: always, except when a replay re-applies an erasure
/// that was decided, and allowed, before a backup was restored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BlockerCheck {
    Run,
    Skip,
}

/// What became of one subject's erasure.
pub enum Outcome {
    /// Erased now: the report.
    Erased(serde_json::Value),
    /// Erased before: the report pointing at the original erasure; nothing changed.
    AlreadyErased(serde_json::Value),
    /// Blockers forbid it; nothing changed.
    Blocked(Vec<blockers::Item>),
    /// Mode delete while rows must be kept: why; nothing changed.
    Refused(String),
    NotFound,
}

/// Erases one subject: locks its row, returns the earlier result if it was already erased,
/// locks the rows of every table it may change, refuses while blockers exist, decides between
/// anonymizing and deleting, changes them all in one statement, records the erasure in the
/// ledger, and returns the report.
pub fn erase(subject: &str, id: &str, mode: Mode, reference: Option<&str>) -> pgrx::JsonB {
    require_can_erase();
    cache::with_plan(subject, |plan| {
        require_tables(plan);
        require_complete(plan);
        let key = Key::parse(plan, id);
        let outcome = Spi::connect_mut(|client| erase_one(client, plan, &key, mode, reference, BlockerCheck::Run));
        match outcome {
            Outcome::Erased(report) | Outcome::AlreadyErased(report) => pgrx::JsonB(report),
            Outcome::Blocked(items) => blockers::refuse(plan, &key, &items),
            Outcome::Refused(why) => ErasureError::new(
                ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!("{} cannot be deleted: {why}", named(plan, &key.text)),
            )
            .hint("Anonymize instead: erasure.anonymize(subject, id, 'anonymize') keeps retained rows untouched.")
            .raise(),
            Outcome::NotFound => not_found(plan, &key),
        }
    })
}

pub fn erase_one(
    client: &mut SpiClient<'_>,
    plan: &Plan,
    key: &Key,
    mode: Mode,
    reference: Option<&str>,
    check: BlockerCheck,
) -> Outcome {
    let who = named(plan, &key.text);
    let stored: Option<String> = locks::run(&who, &plan.subject_table, || {
        spi(client.update(&plan.lock_subject, None, &[key.argument()]))
            .next()
            .map(|row| spi(row.get(1)).unwrap_or_default())
    });
    let key = &match stored.as_ref() {
        Some(text) => key.stored_as(text.clone()),
        None => key.clone(),
    };
    // Checked after the lock: a concurrent erasure of the same subject has committed its
    // ledger row by the time this one gets the lock.
    if let Some(entry) = ledger::find(client, plan, key) {
        return Outcome::AlreadyErased(report::already_erased(plan, &key.text, &entry));
    }
    if stored.is_none() {
        return Outcome::NotFound;
    }
    // Every row the erasure may change is locked before the blockers run: a blocking state
    // written meanwhile to a locked table (an order set to awaiting payment) has committed, and
    // is seen, by the time the blockers look (each statement takes a new snapshot).
    if let Some(row_locks) = &plan.locks {
        locks::run_all(client, plan, row_locks, &who, key.argument());
    }
    if check == BlockerCheck::Run {
        let items = blockers::find(client, plan, key);
        if !items.is_empty() {
            return Outcome::Blocked(items);
        }
    }
    let census = if mode == Mode::Anonymize {
        Vec::new()
    } else {
        counts(client, plan.census_width(), &plan.census, &[key.argument()])
    };
    let (decision, why) = match decide(plan, mode, &census) {
        Ok(decided) => decided,
        Err(refusal) => return Outcome::Refused(refusal),
    };
    let run = || {
        applying(&who, || match decision {
            Decision::Anonymize => {
                let bound = values::bind(&plan.apply_parameters);
                let mut arguments = vec![key.argument()];
                arguments.extend(bound.iter().map(|v| v.as_str().into()));
                counts(client, plan.apply_width(), &plan.apply, &arguments)
            }
            Decision::Delete => counts(client, plan.apply_width(), &plan.delete_all, &[key.argument()]),
        })
    };
    let before = writes::so_far(plan);
    let mut rows = run();
    if writes::copies_made(plan, &who, &before) {
        let again = writes::so_far(plan);
        add_deleted(plan, decision, &mut rows, &run());
        writes::copies_made(plan, &who, &again);
    }
    let tables = report::tables(plan, decision, &rows);
    let status = report::status(decision);
    let request_id = ledger::record_one(client, plan, mode.as_str(), reference, (&key.text, status, &tables));
    Outcome::Erased(report::erased(plan, &key.text, status, mode, why, request_id, tables))
}

/// Adds the rows a second run of the erasure's statement deleted (copies that triggers made
/// during the first) to the counts of the first; masked rows were counted by the first already.
pub fn add_deleted(plan: &Plan, decision: Decision, rows: &mut [i64], again: &[i64]) {
    for ((outcome, rows), again) in plan.tables.iter().zip(rows.iter_mut()).zip(again) {
        let deleted =
            outcome.action == Action::Delete || decision == Decision::Delete && outcome.action == Action::Mask;
        if deleted {
            *rows += again;
        }
    }
}

/// What a preview shows on a confirmation screen; changes nothing and takes no write locks.
pub fn preview(subject: &str, id: &str) -> pgrx::JsonB {
    cache::with_plan(subject, |plan| {
        require_tables(plan);
        let key = Key::parse(plan, id);
        Spi::connect(|client| {
            let key = stored_key(client, plan, &key).unwrap_or(key);
            if let Some(entry) = ledger::find(client, plan, &key) {
                let mut report = report::already_erased(plan, &key.text, &entry);
                report["decision"] = "already_erased".into();
                return pgrx::JsonB(report);
            }
            let summary = spi(client.select(&plan.summary, None, &[key.argument()]));
            if summary.is_empty() {
                not_found(plan, &key);
            }
            let summary = spi(summary.first().get::<pgrx::JsonB>(1)).map_or(serde_json::Value::Null, |j| j.0);
            let items = blockers::find(client, plan, &key);
            let rows = counts(client, plan.census_width(), &plan.census, &[key.argument()]);
            let decision = items.is_empty().then(|| auto_decision(plan, &rows));
            let residuals = residual::scan(client, plan, &key);
            let acknowledged = residuals.iter().filter(|r| r.acknowledged).count();
            let mut preview = report::preview(plan, &key, summary, decision, &items, &rows);
            preview.0["residual_hits"] = (residuals.len() - acknowledged).into();
            preview.0["residual_acknowledged"] = acknowledged.into();
            preview
        })
    })
}

/// The blocking items of one subject, without locking or changing anything.
pub fn erasure_blockers(subject: &str, id: &str) -> Vec<blockers::Item> {
    cache::with_plan(subject, |plan| {
        let key = Key::parse(plan, id);
        Spi::connect(|client| {
            let key = stored_key(client, plan, &key).unwrap_or_else(|| not_found(plan, &key));
            blockers::find(client, plan, &key)
        })
    })
}

/// The key as the subject's row stores it (`7` for a numeric key given as `7.0`), None when no
/// row has it; read without locking.
fn stored_key(client: &SpiClient<'_>, plan: &Plan, key: &Key) -> Option<Key> {
    let row = spi(client.select(&plan.find_subject, None, &[key.argument()])).next();
    row.map(|row| key.stored_as(spi(row.get(1)).unwrap_or_default()))
}

/// The subject's key as its row stores it; P0002 when no row has it, 22P02 when the key type
/// does not accept it. What `erasure.request()` records, so a request names its subject the way
/// the ledger will.
pub fn canonical_key(subject: &str, id: &str) -> String {
    cache::with_plan(subject, |plan| {
        let key = Key::parse(plan, id);
        Spi::connect(|client| stored_key(client, plan, &key).unwrap_or_else(|| not_found(plan, &key)).text)
    })
}

/// Whether the ledger records an erasure of the subject.
pub fn is_erased(subject: &str, id: &str) -> bool {
    cache::with_plan(subject, |plan| {
        let key = Key::parse(plan, id);
        Spi::connect(|client| {
            let key = stored_key(client, plan, &key).unwrap_or(key);
            ledger::find(client, plan, &key).is_some()
        })
    })
}

/// Strict mode (`erasure.require_complete`): refuses while the catalog leaves something of
/// the subject uncovered.
pub fn require_complete(plan: &Plan) {
    if !crate::gucs::REQUIRE_COMPLETE.get() {
        return;
    }
    // check() reads the catalog and PostgreSQL's; the values it samples it reads as each
    // table's owner.
    let errors = plan.check_errors.get_or_init(|| {
        Spi::connect(|client| {
            ledger::as_ledger_owner(plan, || {
                spi(client.select(
                    "SELECT c.tbl::pg_catalog.text || COALESCE('.' || c.col, '') || ': ' || c.problem
                   FROM erasure.check($1) c WHERE c.severity = 'error' ORDER BY 1",
                    None,
                    &[plan.subject.as_str().into()],
                ))
            })
            .map(|row| spi(row.get::<String>(1)).unwrap_or_default())
            .collect()
        })
    });
    if !errors.is_empty() {
        ErasureError::new(
            ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("the erasure catalog of subject \"{}\" is incomplete: {} errors", plan.subject, errors.len()),
        )
        .detail(errors.join("\n"))
        .hint(format!(
            "SELECT * FROM erasure.check('{0}') shows how to fix each; erasure.suggest_policies('{0}') drafts the calls. \
             erasure.require_complete is on.",
            plan.subject.replace('\'', "''")
        ))
        .raise();
    }
}

/// An erasure must see every row that committed before it locked the subject: under
/// REPEATABLE READ or SERIALIZABLE its snapshot is the transaction's first, and rows committed
/// since (an order placed a moment ago) would stay unmasked and unblocked. The same holds for
/// a registration, which validates the catalog as a concurrent one committed it. Refused before
/// anything is read; `what` is "an erasure" or "a registration".
pub fn require_statement_snapshots(what: &str) {
    if unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32 {
        ErasureError::new(
            ERRCODE_INVALID_TRANSACTION_STATE,
            format!("{what} cannot run in a REPEATABLE READ or SERIALIZABLE transaction"),
        )
        .detail("Its snapshot would miss rows committed after the transaction began.")
        .hint("Run it in a READ COMMITTED transaction.")
        .raise();
    }
}

/// Where an erasure cannot run: from a transaction snapshot (`require_statement_snapshots`), or
/// on a hot standby, which cannot take row locks or write (said plainly, rather than
/// PostgreSQL's internal error about transaction ids during recovery).
pub fn require_can_erase() {
    require_statement_snapshots("an erasure");
    if unsafe { pg_sys::RecoveryInProgress() } {
        ErasureError::new(ERRCODE_READ_ONLY_SQL_TRANSACTION, "cannot erase on a hot standby")
            .detail("The server is in recovery: it cannot lock or change rows.")
            .hint("Run erasures on the primary; they reach standbys through replication. Previews work here.")
            .raise();
    }
}

pub fn require_tables(plan: &Plan) {
    if !plan.has_tables {
        ErasureError::new(
            ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("erasure subject \"{}\" has no registered tables", plan.subject),
        )
        .hint("Register the tables holding its rows with erasure.register_table(); retained tables count too.")
        .raise();
    }
}

/// Resolves the mode into a decision, with the reason for `auto`, given the subject's census
/// (`Plan::census`; not needed for mode anonymize). Delete is refused while the subject has
/// retained rows, which must be kept, or rows of others reference it (a customer it referred),
/// which would make the delete fail: such a subject can only be anonymized.
pub fn decide(plan: &Plan, mode: Mode, census: &[i64]) -> Result<(Decision, Option<String>), String> {
    let rows = |n: i64, what: &str| if n == 1 { format!("1 {what}row") } else { format!("{n} {what}rows") };
    let retained: Vec<String> = plan
        .tables
        .iter()
        .zip(census)
        .filter(|(o, &n)| o.action == Action::Retain && n > 0)
        .map(|(o, &n)| format!("{} in {} must be kept", rows(n, "retained "), o.table))
        .collect();
    let referencing: Vec<String> = plan
        .references
        .iter()
        .zip(census.iter().skip(plan.tables.len()))
        .filter(|(_, &n)| n > 0)
        .map(|(reference, &n)| {
            format!("{} of {reference} {}", rows(n, ""), if n == 1 { "references it" } else { "reference it" })
        })
        .collect();
    match mode {
        Mode::Anonymize => Ok((Decision::Anonymize, None)),
        Mode::Auto => Ok(match auto_decision(plan, census) {
            Decision::Delete => {
                (Decision::Delete, Some("no rows in masked or retained tables: nothing needs to be kept".into()))
            }
            Decision::Anonymize if referencing.is_empty() => {
                (Decision::Anonymize, Some("rows in masked or retained tables must be kept, without the person".into()))
            }
            Decision::Anonymize => {
                (Decision::Anonymize, Some(format!("it cannot be deleted: {}", referencing.join("; "))))
            }
        }),
        Mode::Delete if retained.is_empty() && referencing.is_empty() => Ok((Decision::Delete, None)),
        Mode::Delete => Err([retained, referencing].concat().join("; ")),
    }
}

/// Seed 004's rule: a subject whose only rows besides its own are in `delete` tables (logs)
/// is deleted; one with orders, invoices or anything else kept is anonymized, and so is one
/// that rows of others reference (it could not be deleted).
pub fn auto_decision(plan: &Plan, census: &[i64]) -> Decision {
    let kept = plan
        .tables
        .iter()
        .zip(census)
        .skip(1) // the subject's own row
        .any(|(o, &n)| o.action != Action::Delete && n > 0);
    let referenced = census.iter().skip(plan.tables.len()).any(|&n| n > 0);
    if kept || referenced {
        Decision::Anonymize
    } else {
        Decision::Delete
    }
}

/// Runs a statement of the plan that returns one row of `width` counts.
fn counts(
    client: &SpiClient<'_>,
    width: usize,
    statement: &pgrx::spi::OwnedPreparedStatement,
    arguments: &[pgrx::datum::DatumWithOid<'_>],
) -> Vec<i64> {
    let row = spi(client.select(statement, None, arguments)).first();
    (1..=width).map(|i| spi(row.get::<i64>(i)).unwrap_or(0)).collect()
}

/// Runs the statement that erases (`who`: `customer "42"`, or a batch). A constraint the
/// masked or deleted rows violate is reported as about the erasure, with the same SQLSTATE and
/// PostgreSQL's message (which names the table and constraint), but never its DETAIL: that
/// shows the row (`Failing row contains …`, `Key (email)=(…)`), values the caller may not see.
/// A row it deletes that a table outside the catalog still references gets the way out.
pub fn applying<R>(who: &str, f: impl FnOnce() -> R) -> R {
    rewrap_when(is_integrity_violation, f, |e| {
        let code = code_of(e);
        let error = ErasureError::new(code, format!("{who} cannot be erased: {}", e.message()));
        if code == ERRCODE_FOREIGN_KEY_VIOLATION {
            error.detail("A table the erasure catalog does not cover references its rows.").hint(
                "Register that table (erasure.check() lists it), or give its foreign key ON DELETE CASCADE or SET \
                 NULL; to keep the rows it references, anonymize instead of deleting.",
            )
        } else {
            error
                .detail("The masked rows break a constraint of the table; nothing was changed.")
                .hint("Choose a policy for the constrained columns whose values the constraint accepts.")
        }
    })
}

/// A subject as messages name it: `customer "42"`; for a personal key, its digest, since errors
/// reach the server log.
pub fn named(plan: &Plan, key: &str) -> String {
    format!("{} \"{}\"", plan.subject, ledger::recorded_key(plan, key))
}

pub fn not_found(plan: &Plan, key: &Key) -> ! {
    ErasureError::new(ERRCODE_NO_DATA_FOUND, format!("{} does not exist", named(plan, &key.text)))
        .detail(format!(
            "No row of {} has {} = {}.",
            plan.subject_table,
            plan.key_column,
            ledger::recorded_key(plan, &key.text)
        ))
        .raise()
}
