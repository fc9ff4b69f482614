//! The ledger (`erasure.ledger`): one row per erasure, the proof it happened, holding nothing
//! personal; and the notification that tells other systems, sent by PostgreSQL only if the
//! erasure commits.

use pgrx::spi::SpiClient;
use serde_json::Value;

use super::key::Key;
use crate::error::*;
use crate::plan::Plan;

/// An erasure already recorded for a subject.
pub struct Entry {
    pub request_id: i64,
    pub status: String,
    pub executed_at: String,
}

/// The ledger is the extension's: its fixed statements run as the extension's owner, so no
/// subject owner (nor code of theirs) can write or forge it.
pub fn as_ledger_owner<R>(plan: &Plan, f: impl FnOnce() -> R) -> R {
    crate::security::as_extension_owner(plan.extension_owner, f)
}

/// The key as the ledger records it: the key, or for a subject with a personal key its keyed
/// digest `hmac:<hex>`, which identifies it to whoever holds the key and tells nobody else
/// anything.
pub fn recorded_key(plan: &Plan, key: &str) -> String {
    match &plan.digest_key {
        Some(secret) => format!("hmac:{}", crate::keyed_hash::hmac_sha256(key, secret)),
        None => key.to_string(),
    }
}

/// The keys that keys recorded in the ledger stand for, as (recorded, key): themselves, or for
/// a subject with a personal key, the keys of the subject rows whose digest they are (found by
/// a scan of the subject's table; digests of deleted subjects find nothing).
pub fn keys_of(client: &SpiClient<'_>, plan: &Plan, recorded: &[String]) -> Vec<(String, String)> {
    let (Some(statement), Some(secret)) = (&plan.by_digest, &plan.digest_key) else {
        return recorded.iter().map(|k| (k.clone(), k.clone())).collect();
    };
    spi(client.select(statement, None, &[secret.as_str().into(), recorded.to_vec().into()]))
        .map(|row| (spi(row.get(1)).unwrap_or_default(), spi(row.get(2)).unwrap_or_default()))
        .collect()
}

/// `erasure.ledger_key(subject, key)`: `recorded_key` for SQL (the request queue).
pub fn ledger_key(subject: &str, key: &str) -> String {
    crate::plan::cache::with_plan(subject, |plan| recorded_key(plan, key))
}

pub fn find(client: &SpiClient<'_>, plan: &Plan, key: &Key) -> Option<Entry> {
    let recorded = recorded_key(plan, &key.text);
    let rows = as_ledger_owner(plan, || {
        spi(client.select(&plan.ledger.find, None, &[plan.subject.as_str().into(), recorded.as_str().into()]))
    });
    rows.map(|row| entry_of(&row)).next()
}

/// The ledger entries of those of `keys` that were erased, with their keys.
pub fn find_many(client: &SpiClient<'_>, plan: &Plan, keys: &[String]) -> Vec<(String, Entry)> {
    let recorded: std::collections::HashMap<String, &String> =
        keys.iter().map(|k| (recorded_key(plan, k), k)).collect();
    let lookup: Vec<String> = recorded.keys().cloned().collect();
    let rows = as_ledger_owner(plan, || {
        spi(client.select(&plan.ledger.find_many, None, &[plan.subject.as_str().into(), lookup.into()]))
    });
    rows.map(|row| {
        let found: String = spi(row.get(1)).unwrap_or_default();
        let key = recorded.get(&found).map_or(found, |k| (*k).clone());
        (key, entry_of(&row))
    })
    .collect()
}

/// An entry from a row of `statements::ledger_find`: (key, request_id, status, executed_at).
fn entry_of(row: &pgrx::spi::SpiHeapTupleData<'_>) -> Entry {
    Entry {
        request_id: spi(row.get(2)).unwrap_or_default(),
        status: spi(row.get(3)).unwrap_or_default(),
        executed_at: spi::<Option<String>>(row.get(4)).unwrap_or_default().trim_matches('"').to_string(),
    }
}

/// Records one finished erasure (its per-table counts in `tables`) and queues its
/// notification on channel `erasure`; returns its request id.
pub fn record_one(
    client: &mut SpiClient<'_>,
    plan: &Plan,
    mode: &str,
    reference: Option<&str>,
    (key, status, tables): (&str, &str, &Value),
) -> i64 {
    let recorded = recorded_key(plan, key);
    let tables = tables.to_string();
    let row = as_ledger_owner(plan, || {
        spi(client.update(
            &plan.ledger.record,
            None,
            &[
                plan.subject.as_str().into(),
                mode.into(),
                reference.into(),
                recorded.as_str().into(),
                status.into(),
                tables.as_str().into(),
                crate::security::caller().into(),
            ],
        ))
    })
    .first();
    spi(row.get::<i64>(1)).unwrap_or_default()
}

/// Records finished erasures, one ledger row each (`(key, status, per-table counts)`), and
/// queues their notifications on channel `erasure`; returns the new request ids, in order.
/// One prepared statement, whatever the number of erasures.
pub fn record(
    client: &mut SpiClient<'_>,
    plan: &Plan,
    mode: &str,
    reference: Option<&str>,
    erasures: &[(String, &str, Value)],
) -> Vec<i64> {
    let keys: Vec<String> = erasures.iter().map(|e| recorded_key(plan, &e.0)).collect();
    let statuses: Vec<String> = erasures.iter().map(|e| e.1.to_string()).collect();
    let tables: Vec<String> = erasures.iter().map(|e| e.2.to_string()).collect();
    as_ledger_owner(plan, || {
        spi(client.update(
            &plan.ledger.record_many,
            None,
            &[
                plan.subject.as_str().into(),
                mode.into(),
                reference.into(),
                keys.into(),
                statuses.into(),
                tables.into(),
                crate::security::caller().into(),
            ],
        ))
    })
    .map(|row| spi(row.get::<i64>(1)).unwrap_or_default())
    .collect()
}
