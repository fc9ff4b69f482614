//! The ledger (`erasure.ledger`): one row per erasure, the proof it happened, holding nothing
//! personal; and the notification that tells other systems, sent by PostgreSQL only if the
//! erasure commits.

use pgrx::spi::SpiClient;
use serde_json::{json, Value};

use super::key::Key;
use crate::error::*;
use crate::plan::Plan;

/// An erasure already recorded for a subject.
pub struct Entry {
    pub request_id: i64,
    pub status: String,
    pub executed_at: String,
}

pub fn find(client: &SpiClient<'_>, plan: &Plan, key: &Key) -> Option<Entry> {
    find_many(client, plan, std::slice::from_ref(&key.text)).pop().map(|(_, entry)| entry)
}

/// The ledger entries of those of `keys` that were erased, with their keys.
pub fn find_many(client: &SpiClient<'_>, plan: &Plan, keys: &[String]) -> Vec<(String, Entry)> {
    let rows = spi(client.select(
        "SELECT key, request_id, status, pg_catalog.to_json(executed_at)::pg_catalog.text
           FROM erasure.ledger WHERE subject = $1 AND key = ANY ($2)",
        None,
        &[plan.subject.as_str().into(), keys.to_vec().into()],
    ));
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
/// One statement each, whatever the number of erasures.
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
    let request_ids: Vec<i64> = spi(client.update(
        "INSERT INTO erasure.ledger
                (subject, key, status, mode, requested_by, executed_by, executed_at, tables, reference)
         SELECT $1, e.key, e.status, $2, session_user, CAST($7 AS pg_catalog.name), pg_catalog.now(),
                CAST(e.tables AS pg_catalog.jsonb), $3
           FROM ROWS FROM (pg_catalog.unnest($4::pg_catalog.text[]), pg_catalog.unnest($5::pg_catalog.text[]),
                           pg_catalog.unnest($6::pg_catalog.text[]))
                WITH ORDINALITY AS e(key, status, tables, n)
          ORDER BY e.n
         RETURNING request_id",
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
    .map(|row| spi(row.get::<i64>(1)).unwrap_or_default())
    .collect();
    let payloads: Vec<String> = erasures
        .iter()
        .zip(&request_ids)
        .map(|((key, status, _), id)| {
            json!({"subject": plan.subject, "key": key, "request_id": id, "status": status}).to_string()
        })
        .collect();
    spi(client.update(
        "SELECT pg_catalog.pg_notify('erasure', p) FROM pg_catalog.unnest($1::pg_catalog.text[]) AS p",
        None,
        &[payloads.into()],
    ));
    request_ids
}
