//! Replay after a backup restore: a database restored from a backup taken before some erasures
//! would bring those people back. `erasure.ledger_export()` (SQL) writes the ledger as jsonb to
//! be kept outside the database; `erasure.replay(export)` erases again, in request order, every
//! subject the export records as anonymized or deleted and the restored ledger does not. The
//! export carries the hash chain (each entry's `previous_hash` and `hash`); each erasure redone
//! is a new row of the restored database's chain whose reference names the exported entry's hash.
//!
//! ```sql
//! SELECT * FROM erasure.replay(pg_read_file('/backups/ledger.json')::jsonb);
//! ```
//!
//! The blockers are not checked again: the erasure was decided and allowed when it first ran,
//! and the restored database may hold an older state that would block it (an order awaiting
//! payment that was paid after the backup). Since the document is the caller's, only a
//! superuser or the subject's owner may replay it, and strict mode applies as to any erasure.

use serde::Deserialize;
use serde_json::Value;

use pgrx::prelude::*;

use super::key::Key;
use super::{erase_one, ledger, require_complete, BlockerCheck, Mode, Outcome};
use crate::error::*;
use crate::plan::cache;
use crate::security;

#[derive(Deserialize)]
struct Export {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    request_id: i64,
    subject: String,
    key: String,
    status: String,
    /// The entry's link in the exported ledger's hash chain (absent in hand-written documents).
    hash: Option<String>,
}

/// One line per entry of the export: what the replay did with it — `anonymized` or `deleted`
/// (erased again now), `present` (the restored ledger has it), `not_found` (no such subject
/// row: it was created after the backup and erased before the restore), `released` (a
/// retention release: `release_expired()` redoes those).
pub fn replay(export: Value) -> Vec<(i64, String, String, String)> {
    super::require_can_erase();
    let mut entries = Export::deserialize(&export)
        .unwrap_or_else(|e| {
            ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, "ledger is not an export of erasure.ledger_export()")
                .detail(e.to_string())
                .raise()
        })
        .entries;
    entries.sort_by_key(|e| e.request_id);
    entries
        .into_iter()
        .map(|e| {
            let outcome = match e.status.as_str() {
                "anonymized" => again(&e, Mode::Anonymize),
                "deleted" => again(&e, Mode::Delete),
                _ => "released".to_string(),
            };
            (e.request_id, e.subject, e.key, outcome)
        })
        .collect()
}

fn again(entry: &Entry, mode: Mode) -> String {
    // The new ledger row names the entry it redoes, by request and hash: the restored chain
    // points into the exported one.
    let reference = match &entry.hash {
        Some(hash) => format!("replay of request {} (ledger hash {hash})", entry.request_id),
        None => format!("replay of request {}", entry.request_id),
    };
    cache::with_plan(&entry.subject, |plan| {
        if !security::acts_as(security::caller_oid(), plan.owner) {
            ErasureError::new(
                ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!(
                    "only the owner of erasure subject \"{}\" or a superuser may replay its erasures",
                    plan.subject
                ),
            )
            .detail("A replay skips the blockers, so it is not an operator's call.")
            .raise();
        }
        require_complete(plan);
        Spi::connect_mut(|client| {
            // A personal key is in the export as its digest: the subject is the row it digests.
            let Some((_, key)) = ledger::keys_of(client, plan, std::slice::from_ref(&entry.key)).pop() else {
                return "not_found".to_string();
            };
            let key = Key::parse(plan, &key);
            let outcome = erase_one(client, plan, &key, mode, Some(&reference), BlockerCheck::Skip);
            match outcome {
                Outcome::Erased(report) => report["status"].as_str().unwrap_or_default().to_string(),
                Outcome::AlreadyErased(_) => "present".to_string(),
                Outcome::NotFound => "not_found".to_string(),
                Outcome::Refused(why) => ErasureError::new(
                    ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!("{} cannot be deleted again: {why}", super::named(plan, &key.text)),
                )
                .detail(format!(
                    "Request {} deleted it; the restored database keeps rows that must stay.",
                    entry.request_id
                ))
                .raise(),
                Outcome::Blocked(_) => unreachable!("a replay does not check blockers"),
            }
        })
    })
}
