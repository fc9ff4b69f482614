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

pub fn find(client: &SpiClient<'_>, plan: &Plan, key: &Key) -> Option<Entry> {
    find_many(client, plan, std::slice::from_ref(&key.text)).pop().map(|(_, entry)| entry)
}

/// The ledger entries of those of `keys` that were erased, with their keys.
pub fn find_many(client: &SpiClient<'_>, plan: &Plan, keys: &[String]) -> Vec<(String, Entry)> {
    let rows = as_ledger_owner(plan, || {
        spi(client.select(&plan.ledger.find, None, &[plan.subject.as_str().into(), keys.to_vec().into()]))
    });
    rows.map(|row| {
        let key: String = spi(row.get(1)).unwrap_or_default();
        let entry = Entry {
            request_id: spi(row.get(2)).unwrap_or_default(),
            status: spi(row.get(3)).unwrap_or_default(),
            executed_at: spi::<Option<String>>(row.get(4)).unwrap_or_default().trim_matches('"').to_string(),
        };
        (key, entry)
    })
    .collect()
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
    let keys: Vec<String> = erasures.iter().map(|e| e.0.clone()).collect();
    let statuses: Vec<String> = erasures.iter().map(|e| e.1.to_string()).collect();
    let tables: Vec<String> = erasures.iter().map(|e| e.2.to_string()).collect();
    as_ledger_owner(plan, || {
        spi(client.update(
            &plan.ledger.record,
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
