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
    let rows = spi(client.select(
        "SELECT request_id, status,
                pg_catalog.to_json(executed_at)::pg_catalog.text
           FROM erasure.ledger WHERE subject = $1 AND key = $2",
        None,
        &[plan.subject.as_str().into(), key.text.as_str().into()],
    ));
    if rows.is_empty() {
        return None;
    }
    let row = rows.first();
    Some(Entry {
        request_id: spi(row.get(1)).unwrap_or_default(),
        status: spi(row.get(2)).unwrap_or_default(),
        executed_at: spi::<Option<String>>(row.get(3)).unwrap_or_default().trim_matches('"').to_string(),
    })
}

/// Records a finished erasure and queues its notification on channel `erasure`; returns the
/// new request id.
pub fn record(
    client: &mut SpiClient<'_>,
    plan: &Plan,
    key: &Key,
    status: &str,
    mode: &str,
    tables: Value,
    reference: Option<&str>,
) -> i64 {
    let request_id: i64 = spi(client
        .update(
            "INSERT INTO erasure.ledger
                    (subject, key, status, mode, requested_by, executed_by, executed_at, tables, reference)
             VALUES ($1, $2, $3, $4, session_user, current_user, pg_catalog.now(), $5, $6)
             RETURNING request_id",
            None,
            &[
                plan.subject.as_str().into(),
                key.text.as_str().into(),
                status.into(),
                mode.into(),
                pgrx::JsonB(tables).into(),
                reference.into(),
            ],
        )
        .and_then(|rows| rows.first().get(1)))
    .unwrap_or_default();
    let payload = json!({"subject": plan.subject, "key": key.text, "request_id": request_id, "status": status});
    spi(client.update(
        "SELECT pg_catalog.pg_notify('erasure', $1)",
        None,
        &[payload.to_string().into()],
    ));
    request_id
}
