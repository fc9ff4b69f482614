//! Verification after the fact: whether an erased subject's rows are still in the state its
//! ledger row says, for an auditor to rerun whenever they like.
//!
//! ```sql
//! SELECT * FROM erasure.verify('customer', 42);   -- no rows: as the ledger says
//! ```
//!
//! A finding names the table, the column and its strategy, and counts rows: never a value.

use std::collections::HashMap;

use pgrx::prelude::*;

use super::key::Key;
use super::{counts, ledger, named, stored_key};
use crate::error::*;
use crate::plan::{cache, values};

/// Something of the subject that is not as its erasure left it.
pub struct Finding {
    pub tbl: pg_sys::Oid,
    pub col: Option<String>,
    pub strategy: Option<String>,
    pub problem: String,
    pub rows: i64,
}

/// The findings for one erased subject: masked columns not holding what their policy writes,
/// rows left in tables the erasure deleted (every table but the retained ones when the subject
/// was deleted), retained rows fewer than it kept. Read as the subject's owner, like the
/// erasure; P0002 when the ledger records no erasure of the subject.
pub fn verify(subject: &str, id: &str) -> Vec<Finding> {
    cache::with_plan(subject, |plan| {
        let key = Key::parse(plan, id);
        Spi::connect(|client| {
            let key = stored_key(client, plan, &key).unwrap_or(key);
            let Some(entry) = ledger::find(client, plan, &key) else {
                ErasureError::new(ERRCODE_NO_DATA_FOUND, format!("{} has not been erased", named(plan, &key.text)))
                    .hint("erasure.verify() checks subjects the ledger records as erased (erasure.is_erased()).")
                    .raise()
            };
            // What the erasure did per table, as its ledger row recorded it.
            let recorded: HashMap<String, (String, i64)> = ledger::as_ledger_owner(plan, || {
                spi(client.select(
                    "SELECT t ->> 'table', t ->> 'action', CAST(t ->> 'rows' AS pg_catalog.int8)
                       FROM erasure.ledger l, pg_catalog.jsonb_array_elements(l.tables) AS t
                      WHERE l.request_id OPERATOR(pg_catalog.=) $1",
                    None,
                    &[entry.request_id.into()],
                ))
                .map(|row| {
                    let table: String = spi(row.get(1)).unwrap_or_default();
                    (table, (spi(row.get(2)).unwrap_or_default(), spi(row.get(3)).unwrap_or_default()))
                })
                .collect()
            });
            let rows = counts(client, plan.census_width(), &plan.census, &[key.argument()]);
            let mut findings = Vec::new();
            for (i, (table, &now)) in plan.tables.iter().zip(&rows).enumerate() {
                let (action, kept) = recorded.get(&table.table).cloned().unwrap_or_default();
                let finding = |problem: &str, rows: i64| Finding {
                    tbl: plan.routing[i].0,
                    col: None,
                    strategy: None,
                    problem: problem.to_string(),
                    rows,
                };
                match action.as_str() {
                    "deleted" if now > 0 => findings.push(finding("rows remain that the erasure deleted", now)),
                    "retained" if now < kept => {
                        findings.push(finding("fewer rows than the erasure retained", kept - now))
                    }
                    _ => {}
                }
            }
            if let (Some(verify), "anonymized") = (&plan.verify, entry.status.as_str()) {
                let bound = values::bind(&verify.parameters);
                let mut arguments = vec![key.argument()];
                arguments.extend(bound.iter().map(|v| v.as_str().into()));
                let failing = counts(client, verify.checks.len(), &verify.statement, &arguments);
                for ((i, col, strategy), n) in verify.checks.iter().zip(failing) {
                    if n > 0 {
                        findings.push(Finding {
                            tbl: plan.routing[*i].0,
                            col: Some(col.clone()),
                            strategy: Some(strategy.clone()),
                            problem: "does not hold what its policy writes".to_string(),
                            rows: n,
                        });
                    }
                }
            }
            findings
        })
    })
}
