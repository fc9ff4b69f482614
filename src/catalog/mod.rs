//! Catalog: what migrations register (subjects, tables, column policies, blockers), validated
//! against the live schema before anything is written.
//!
//! - `entries`: reading the catalog tables (`erasure.subjects`, `erasure.tables`, ...).
//! - `schema`: what PostgreSQL's own catalogs say about a registered table (columns, keys).
//! - `strategy`: the masking strategies and their params.
//! - `sql_check`: proof that catalog SQL (filters, expressions, blocker queries) is one
//!   expression or one SELECT, so embedding it cannot change a generated statement's shape.
//! - `register`: the registration functions of the SQL API; `unregister`: taking them back.
//! - `acknowledge`: findings of `erasure.check()` and residuals the subject's owner accepted.
//! - `batch_rules`: the registered candidate queries of `erasure.erase_batches()`.
//! - `sample`: the value sampling of `erasure.check()`, as the table's owner.
//! - `renames`: the old name of a renamed column, read by the DDL watch.
//! - `saved`: the fixed catalog queries above, parsed once per session.

pub mod acknowledge;
pub mod batch_rules;
pub mod entries;
pub mod register;
pub mod renames;
pub mod sample;
pub mod saved;
pub mod schema;
pub mod sql_check;
pub mod strategy;
pub mod unregister;
