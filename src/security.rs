//! Who may do what, and with whose rights it runs (the README's "Security" section).
//!
//! - `erasure_operator` may run erasures, `erasure_admin` may also change the catalog
//!   (`sql/security.sql` creates both and grants EXECUTE accordingly).
//! - Erasures run as `erasure_executor` (NOLOGIN, BYPASSRLS, no members), inside a
//!   security-restricted operation as PostgreSQL runs maintenance commands: it holds exactly the
//!   table rights registration granted it, so an operator erases registered subjects without any
//!   right on the tables, and catalog SQL never runs as the caller or as a superuser.
//! - Registration is checked as the caller: they must own the table they register (superusers
//!   own everything), and catalog SQL must read only relations they own and pass PostgreSQL's own
//!   privilege checks for them. Only then is the catalog written, as the extension's owner.

use std::cell::Cell;
use std::ffi::CString;

use pgrx::pg_sys::panic::ErrorReportWithLevel;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::catalog::schema::Relation;
use crate::error::*;

pub const EXECUTOR: &str = "erasure_executor";

thread_local! {
    /// The role that called the erasure running now, for the ledger's `executed_by`.
    static CALLER: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
}

/// Runs `f` as `erasure_executor`, in a security-restricted operation (no SET ROLE, no temporary
/// objects, no session state left behind by catalog SQL or triggers).
pub fn as_executor<R>(f: impl FnOnce() -> R) -> R {
    let executor = CString::new(EXECUTOR).expect("role name has no NUL byte");
    let role = unsafe { pg_sys::get_role_oid(executor.as_ptr(), false) };
    let user = unsafe { pg_sys::GetUserId() };
    if user != role {
        CALLER.with(|c| c.set(user));
    }
    as_role(role, pg_sys::SECURITY_RESTRICTED_OPERATION as i32, f)
}

/// The name of the role that called the erasure running now.
pub fn caller() -> String {
    role_name(CALLER.with(Cell::get))
}

/// Runs `f` as the owner of the extension: the only role that writes the catalog and grants.
pub fn as_extension_owner<'conn, R>(client: &mut SpiClient<'conn>, f: impl FnOnce(&mut SpiClient<'conn>) -> R) -> R {
    let owner = spi(client
        .select("SELECT e.extowner FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_erasure'", None, &[])
        .and_then(|rows| rows.first().get_one::<pg_sys::Oid>()))
    .expect("pg_erasure is installed");
    as_role(owner, 0, || f(client))
}

/// On an ERROR inside `f`, the (sub)transaction's abort restores the user and security context,
/// so only the normal return needs to.
fn as_role<R>(role: pg_sys::Oid, extra_context: i32, f: impl FnOnce() -> R) -> R {
    let (mut user, mut context) = (pg_sys::InvalidOid, 0);
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(role, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32 | extra_context);
    }
    let result = f();
    unsafe { pg_sys::SetUserIdAndSecContext(user, context) };
    result
}

fn current_role() -> String {
    role_name(unsafe { pg_sys::GetUserId() })
}

fn role_name(role: pg_sys::Oid) -> String {
    unsafe { std::ffi::CStr::from_ptr(pg_sys::GetUserNameFromId(role, false)).to_string_lossy().into_owned() }
}

/// Raises 42501 unless the current user owns `relation` (or is a superuser). `what` says what
/// the caller tried, e.g. "register it for erasure".
pub fn require_owner(relation: &Relation, what: &str) {
    if unsafe { !pg_sys::pg_class_ownercheck(relation.oid, pg_sys::GetUserId()) } {
        ErasureError::new(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("must be owner of table {} to {what}", relation.name),
        )
        .detail(format!("Role \"{}\" does not own it.", current_role()))
        .hint("Only a table's owner or a superuser registers it, its policies and catalog SQL reading it.")
        .raise();
    }
}

/// Checks catalog SQL before it is accepted, as its author: `probe` is the statement it will be
/// part of (a SELECT taking parameters of `types`); every relation it reads must be owned by the
/// current user, and PostgreSQL's own privilege checks (SELECT on each relation, EXECUTE on each
/// function) must pass for the current user. Returns the relations read, to grant to the
/// executor.
/// `invalid` words the error if the SQL does not even plan.
pub fn check_author(
    client: &SpiClient<'_>,
    probe: &str,
    types: &[pg_sys::Oid],
    what: &str,
    invalid: impl FnOnce(&ErrorReportWithLevel) -> ErasureError,
) -> Vec<pg_sys::Oid> {
    let relations = rewrap(|| relations_read(probe, types), invalid);
    for &oid in &relations {
        let name = spi(client
            .select("SELECT $1::pg_catalog.regclass::pg_catalog.text", None, &[oid.into()])
            .and_then(|rows| rows.first().get_one::<String>()))
        .unwrap_or_default();
        require_owner(&Relation { oid, name }, &format!("read it in {what}"));
    }
    // EXPLAIN starts the executor, which checks every privilege; without bound parameter values
    // the plan is the generic one, so no function is hidden by folding a parameter away.
    let explain = CString::new(format!("EXPLAIN {probe}")).expect("catalog SQL has no NUL byte");
    let mut types = types.to_vec();
    rewrap(
        || unsafe {
            let plan = pg_sys::SPI_prepare(explain.as_ptr(), types.len() as i32, types.as_mut_ptr());
            pg_sys::SPI_execute_plan_with_paramlist(plan, std::ptr::null_mut(), false, 0);
            pg_sys::SPI_freeplan(plan);
        },
        |e| {
            ErasureError::new(code_of(e), format!("{what} is not allowed for role \"{}\"", current_role()))
                .detail(e.message().to_string())
        },
    );
    relations
}

/// The relations a statement reads, as PostgreSQL's planner lists them for invalidation: every
/// table and view, including those in subqueries and those planning proved empty.
fn relations_read(sql: &str, types: &[pg_sys::Oid]) -> Vec<pg_sys::Oid> {
    let text = CString::new(sql).expect("catalog SQL has no NUL byte");
    let mut types = types.to_vec();
    let mut relations = Vec::new();
    unsafe {
        let plan = pg_sys::SPI_prepare(text.as_ptr(), types.len() as i32, types.as_mut_ptr());
        let cached = pg_sys::SPI_plan_get_cached_plan(plan);
        let statements = pgrx::PgList::<pg_sys::PlannedStmt>::from_pg((*cached).stmt_list);
        for statement in statements.iter_ptr() {
            let oids = pgrx::PgList::<pg_sys::Oid>::from_pg((*statement).relationOids);
            relations.extend(oids.iter_oid());
        }
        pg_sys::ReleaseCachedPlan(cached, std::ptr::null_mut());
        pg_sys::SPI_freeplan(plan);
    }
    relations.sort_by_key(|oid| oid.to_u32());
    relations.dedup();
    relations
}

/// Grants the executor what erasures need on a registered table (`write`) or on a relation
/// catalog SQL reads, and USAGE on its schema to find it. Called as the extension's owner.
pub fn grant_to_executor(client: &mut SpiClient<'_>, oid: pg_sys::Oid, write: bool) {
    let row = spi(client.select(
        "SELECT c.oid::pg_catalog.regclass::pg_catalog.text, pg_catalog.quote_ident(n.nspname)
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = $1",
        None,
        &[oid.into()],
    ));
    let row = row.first();
    let (relation, schema): (Option<String>, Option<String>) = (spi(row.get(1)), spi(row.get(2)));
    let (relation, schema) = (relation.expect("relation exists"), schema.expect("schema exists"));
    let privileges = if write { "SELECT, UPDATE, DELETE" } else { "SELECT" };
    for grant in [
        format!("GRANT USAGE ON SCHEMA {schema} TO {EXECUTOR}"),
        format!("GRANT {privileges} ON TABLE {relation} TO {EXECUTOR}"),
    ] {
        spi(client.update(grant.as_str(), None, &[]));
    }
}
