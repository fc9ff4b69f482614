//! After erasures: the steps of `erasure.pending_vacuum()` that a function can run.
//!
//! ```sql
//! SELECT * FROM erasure.cleanup();   -- ANALYZE and REFRESH; then VACUUM what pending_vacuum() lists
//! SELECT * FROM erasure.cleanup('customer');   -- after the erasures of one subject
//! ```
//!
//! Each runs as the relation's owner, restricted, like everything else tied to a table: an
//! ANALYZE runs the table's index expressions, a REFRESH its view's query. Refreshes are
//! recorded in `erasure.refreshed`, so `pending_vacuum()` lists a materialized view again only
//! when later erasures change what it reads. VACUUM cannot run inside a transaction.

use pgrx::prelude::*;

use crate::error::*;
use crate::security;

pub fn cleanup(subject: Option<&str>) -> Vec<(pg_sys::Oid, String)> {
    Spi::connect_mut(|client| {
        let extension_owner = security::extension_owner(client);
        let steps: Vec<(pg_sys::Oid, String, String)> = security::as_extension_owner(extension_owner, || {
            spi(client.select(
                "SELECT p.tbl::pg_catalog.oid, p.step, p.tbl::pg_catalog.text FROM erasure.pending_vacuum($1) p
                  WHERE p.step IN ('analyze', 'refresh') ORDER BY p.step, p.tbl::pg_catalog.text",
                None,
                &[subject.into()],
            ))
            .map(|row| {
                (
                    spi(row.get(1)).unwrap_or(pg_sys::InvalidOid),
                    spi(row.get(2)).unwrap_or_default(),
                    spi(row.get(3)).unwrap_or_default(),
                )
            })
            .collect()
        });
        for (oid, step, name) in &steps {
            let sql = match step.as_str() {
                "analyze" => format!("ANALYZE {name}"),
                _ => format!("REFRESH MATERIALIZED VIEW {name}"),
            };
            let owner = security::relation_owner(client, *oid);
            security::as_owner(owner, || spi(client.update(sql.as_str(), None, &[])));
            if step == "refresh" {
                security::as_extension_owner(extension_owner, || {
                    spi(client.update(
                        "INSERT INTO erasure.refreshed (matview, refreshed_at) VALUES ($1, pg_catalog.now())
                         ON CONFLICT (matview) DO UPDATE SET refreshed_at = excluded.refreshed_at",
                        None,
                        &[(*oid).into()],
                    ))
                });
            }
        }
        steps.into_iter().map(|(oid, step, _)| (oid, step)).collect()
    })
}
