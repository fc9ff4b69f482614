//! Bulk erasure: many subjects in one transaction, one statement per table for the whole batch.
//!
//! ```sql
//! SELECT * FROM erasure.anonymize_many('customer', ARRAY[17, 42, 99]);
//! ```
//!
//! Subjects that cannot be erased are skipped, each with its reason (`blocked` with its
//! blockers, `already_erased`, `not_found`, `refused` for a delete while rows must be kept);
//! the others are erased together, each with its own ledger row. The blocker queries run once
//! for the whole batch, each joined to the keys. On a Citus cluster sharded by the subject key,
//! the batch is split by shard group (`citus::shard_groups`) and each group erased as a batch
//! of its own, routed to one worker; its blockers run key by key there. A catalog with a filter that compares with one
//! key (`$1`) cannot be erased set-based: its subjects are then erased one by one, still in one
//! transaction.

use std::collections::{HashMap, HashSet};

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use serde_json::{json, Value};

use super::key::Key;
use super::{
    blockers, decide, erase_one, ledger, locks, report, require_complete, require_tables, writes, BlockerCheck,
    Decision, Mode, Outcome,
};
use crate::citus;
use crate::error::*;
use crate::plan::{cache, values, BatchPlan, Plan};

/// One subject's line of a bulk erasure.
pub struct Line {
    pub key: String,
    pub status: String,
    pub report: Value,
}

pub fn erase_many(subject: &str, ids: &[String], mode: Mode) -> Vec<Line> {
    super::require_can_erase();
    cache::with_plan(subject, |plan| {
        require_tables(plan);
        require_complete(plan);
        let mut seen = HashSet::new();
        let keys: Vec<Key> =
            ids.iter().map(|id| Key::parse(plan, id)).filter(|key| seen.insert(key.text.clone())).collect();
        if keys.is_empty() {
            return Vec::new();
        }
        Spi::connect_mut(|client| match &plan.batch {
            Some(batch) => {
                // One batch per shard group on a sharded cluster, so that each runs on one worker.
                let texts: Vec<String> = keys.iter().map(|k| k.text.clone()).collect();
                let groups = citus::shard_groups(client, plan.sharded, plan.routing[0].0, &texts);
                let mut lines = Vec::with_capacity(keys.len());
                for group in groups {
                    let group: Vec<Key> = group.into_iter().map(|i| keys[i].clone()).collect();
                    lines.extend(erase_batch(client, plan, batch, &group, mode));
                }
                lines
            }
            None => keys
                .iter()
                .map(|key| line(&key.text, erase_one(client, plan, key, mode, None, BlockerCheck::Run)))
                .collect(),
        })
    })
}

fn line(key: &str, outcome: Outcome) -> Line {
    let (status, report) = match outcome {
        Outcome::Erased(report) => (report["status"].as_str().unwrap_or_default().to_string(), report),
        Outcome::AlreadyErased(report) => ("already_erased".to_string(), report),
        Outcome::Blocked(items) => ("blocked".to_string(), json!({"blockers": blockers::as_json(&items)})),
        Outcome::Refused(why) => ("refused".to_string(), json!({"reason": why})),
        Outcome::NotFound => ("not_found".to_string(), json!({})),
    };
    Line { key: key.to_string(), status, report }
}

/// A batch of keys as one array datum of the key's array type, for `= ANY ($1)`.
pub struct KeyArray {
    datum: pg_sys::Datum,
    type_oid: pg_sys::Oid,
    len: usize,
}

impl KeyArray {
    pub fn new(client: &SpiClient<'_>, plan: &Plan, keys: &[String]) -> KeyArray {
        let cast = format!("SELECT CAST($1 AS {}[])", plan.key_type_sql);
        let rows = spi(client.select(cast.as_str(), None, &[keys.to_vec().into()]));
        // The datum lives in SPI's memory until the connection ends, as long as it is used.
        let datum = spi(rows.first().get_datum_by_ordinal(1)).unwrap_or_else(|| {
            ErasureError::new(ERRCODE_INTERNAL_ERROR, "pg_erasure could not build the key array").raise()
        });
        KeyArray { datum, type_oid: unsafe { pg_sys::get_array_type(plan.key_type) }, len: keys.len() }
    }

    pub fn argument(&self) -> DatumWithOid<'static> {
        unsafe { DatumWithOid::new(self.datum, self.type_oid) }
    }
}

fn erase_batch(client: &mut SpiClient<'_>, plan: &Plan, batch: &BatchPlan, keys: &[Key], mode: Mode) -> Vec<Line> {
    let texts: Vec<String> = keys.iter().map(|k| k.text.clone()).collect();
    let all = KeyArray::new(client, plan, &texts);
    let who = format!("a batch of {} {} subjects", all.len, plan.subject);
    // Each key found, as given and as its row stores it (`7.0` and `7` for a numeric key).
    let stored: HashMap<String, String> = locks::run(&who, &plan.subject_table, || {
        spi(client.update(&batch.lock_subjects, None, &[all.argument()]))
            .map(|row| (spi(row.get::<String>(1)).unwrap_or_default(), spi(row.get::<String>(2)).unwrap_or_default()))
            .collect()
    });
    // From here on, one key per subject: the stored text, or the given one when no row has it.
    let mut seen = HashSet::new();
    let keys: Vec<Key> = keys
        .iter()
        .map(|k| stored.get(&k.text).map_or_else(|| k.clone(), |text| k.stored_as(text.clone())))
        .filter(|k| seen.insert(k.text.clone()))
        .collect();
    let found: HashSet<&String> = stored.values().collect();
    let texts: Vec<String> = keys.iter().map(|k| k.text.clone()).collect();
    let erased: HashMap<String, ledger::Entry> = ledger::find_many(client, plan, &texts).into_iter().collect();

    let mut lines: HashMap<String, Line> = HashMap::new();
    let mut candidates = Vec::new();
    for key in &keys {
        let outcome = if let Some(entry) = erased.get(&key.text) {
            Outcome::AlreadyErased(report::already_erased(plan, &key.text, entry))
        } else if !found.contains(&key.text) {
            Outcome::NotFound
        } else {
            candidates.push(key.text.clone());
            continue;
        };
        lines.insert(key.text.clone(), line(&key.text, outcome));
    }
    // As for one subject: every row the batch may change is locked before the blockers run.
    if let (Some(row_locks), false) = (&batch.locks, candidates.is_empty()) {
        locks::run_all(client, plan, row_locks, &who, KeyArray::new(client, plan, &candidates).argument());
    }
    if let (Some(statement), false) = (&batch.blockers, candidates.is_empty()) {
        // A blocker query compares with one key: on a sharded cluster it is routed to one
        // shard only when it runs for one key, so there it runs key by key.
        let mut blocked: HashMap<String, Vec<blockers::Item>> = match plan.sharded {
            false => blockers::find_many(client, plan, statement, KeyArray::new(client, plan, &candidates).argument()),
            true => keys
                .iter()
                .filter(|key| candidates.contains(&key.text))
                .map(|key| (key.text.clone(), blockers::find(client, plan, key)))
                .filter(|(_, items)| !items.is_empty())
                .collect(),
        };
        candidates.retain(|key| match blocked.remove(key) {
            Some(items) => {
                lines.insert(key.clone(), line(key, Outcome::Blocked(items)));
                false
            }
            None => true,
        });
    }

    let census = match mode {
        Mode::Anonymize => HashMap::new(),
        _ => by_key(client, plan.census_width(), &batch.census, &[KeyArray::new(client, plan, &candidates).argument()]),
    };
    let mut decided: Vec<(String, Decision, Option<String>)> = Vec::new();
    for key in candidates {
        let counts = census.get(&key).cloned().unwrap_or_else(|| vec![0; plan.census_width()]);
        match decide(plan, mode, &counts) {
            Ok((decision, why)) => decided.push((key, decision, why)),
            Err(refusal) => {
                lines.insert(key.clone(), line(&key, Outcome::Refused(refusal)));
            }
        }
    }

    if !decided.is_empty() {
        let run = |decision: Decision| -> HashMap<String, Vec<i64>> {
            let group: Vec<String> = decided.iter().filter(|d| d.1 == decision).map(|d| d.0.clone()).collect();
            if group.is_empty() {
                return HashMap::new();
            }
            let statement = if decision == Decision::Anonymize { &batch.apply } else { &batch.delete_all };
            let bound = match decision {
                Decision::Anonymize => values::bind(&plan.apply_parameters),
                Decision::Delete => Vec::new(),
            };
            let mut arguments = vec![KeyArray::new(client, plan, &group).argument()];
            arguments.extend(bound.iter().map(|v| v.as_str().into()));
            super::applying(&who, || by_key(client, plan.apply_width(), statement, &arguments))
        };
        let before = writes::so_far(plan);
        let mut rows: HashMap<String, Vec<i64>> = HashMap::new();
        for decision in [Decision::Anonymize, Decision::Delete] {
            rows.extend(run(decision));
        }
        // Copies that triggers made of what the statements erased: the statements once more.
        if writes::copies_made(plan, &who, &before) {
            let again = writes::so_far(plan);
            for decision in [Decision::Anonymize, Decision::Delete] {
                for (key, swept) in run(decision) {
                    if let Some(counts) = rows.get_mut(&key) {
                        super::add_deleted(plan, decision, counts, &swept);
                    }
                }
            }
            writes::copies_made(plan, &who, &again);
        }
        let erasures: Vec<(String, &str, Value)> = decided
            .iter()
            .map(|(key, decision, _)| {
                let counts = rows.get(key).cloned().unwrap_or_else(|| vec![0; plan.apply_width()]);
                (key.clone(), report::status(*decision), report::tables(plan, *decision, &counts))
            })
            .collect();
        let request_ids = ledger::record(client, plan, mode.as_str(), None, &erasures);
        for (((key, status, tables), id), (_, _, why)) in erasures.into_iter().zip(request_ids).zip(&decided) {
            let report = report::erased(plan, &key, status, mode, why.clone(), id, tables);
            lines.insert(key.clone(), line(&key, Outcome::Erased(report)));
        }
    }
    keys.iter().filter_map(|k| lines.remove(&k.text)).collect()
}

/// Runs a batch statement and gathers its (position, key, rows) lines into `width` counts per key.
fn by_key(
    client: &SpiClient<'_>,
    width: usize,
    statement: &OwnedPreparedStatement,
    arguments: &[DatumWithOid<'_>],
) -> HashMap<String, Vec<i64>> {
    let mut counts: HashMap<String, Vec<i64>> = HashMap::new();
    for row in spi(client.select(statement, None, arguments)) {
        let position = spi(row.get::<i32>(1)).unwrap_or_default() as usize;
        let key: String = spi(row.get(2)).unwrap_or_default();
        let rows = spi(row.get::<i64>(3)).unwrap_or_default();
        counts.entry(key).or_insert_with(|| vec![0; width])[position] = rows;
    }
    counts
}
