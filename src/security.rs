//! Who may do what, and with whose rights it runs (the README's "Security" section).
//!
//! - `erasure_operator` may run erasures, `erasure_admin` may also change the catalog
//!   (`sql/security.sql` creates both and grants EXECUTE accordingly).
//! - A subject has one owner: the owner of its subject table. Everything tied to the subject
//!   (building its plan, its filters, expressions and blocker queries, every erasure, preview,
//!   blocker check, residual scan and release) runs as that owner, the way PostgreSQL runs
//!   VACUUM, ANALYZE and REFRESH MATERIALIZED VIEW (`usercontext.c`): inside a
//!   security-restricted operation, under a new GUC nest level that is rolled back afterwards,
//!   with `search_path` pinned. So catalog code gets exactly its owner's rights and cannot
//!   leave settings behind in the caller's session.
//! - The extension's own tables (catalog, ledger, request queue) are read and written only by
//!   fixed statements of the extension, as the extension's owner; no user code runs then.
//! - Registration is checked as the caller: they must own the table they register, and the
//!   subject it belongs to.

use std::cell::Cell;

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::catalog::schema::Relation;
use crate::error::*;
use crate::gucs;

thread_local! {
    /// The role that called the outermost erasure function running now, for the ledger's
    /// `executed_by`; InvalidOid when none runs.
    static CALLER: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
    /// The extension's owner, looked up once per session (`forget_extension_owner` drops it).
    static EXTENSION_OWNER: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
}

/// Runs `f` as `owner` in a security-restricted operation, under a GUC nest level that is
/// rolled back afterwards (on success; on an error the (sub)transaction's abort does it), with
/// `search_path` pinned to `pg_catalog, pg_temp`, `row_security` off (a policy hiding rows from
/// the owner makes the statement fail instead of leaving rows behind) and `lock_timeout` set to
/// `erasure.lock_timeout`. The caller's user, security context and settings are restored.
pub fn as_owner<R>(owner: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    let _caller = CallerScope::enter(unsafe { pg_sys::GetUserId() });
    run_as(owner, f)
}

/// The switch itself, for a subject's owner and for the extension's owner alike: whatever code
/// ran before (a tenant's function calling `set_config('search_path', …)`) cannot change how the
/// next statement resolves its names.
fn run_as<R>(role: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    let lock_timeout = gucs::LOCK_TIMEOUT_MS.get().to_string();
    let (mut user, mut context) = (pg_sys::InvalidOid, 0);
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        let restricted =
            context | (pg_sys::SECURITY_LOCAL_USERID_CHANGE | pg_sys::SECURITY_RESTRICTED_OPERATION) as i32;
        pg_sys::SetUserIdAndSecContext(role, restricted);
        let nest_level = pg_sys::NewGUCNestLevel();
        for (name, value) in
            [("search_path", "pg_catalog, pg_temp"), ("row_security", "off"), ("lock_timeout", &lock_timeout)]
        {
            set_local(name, value);
        }
        let result = f();
        pg_sys::AtEOXact_GUC(false, nest_level);
        pg_sys::SetUserIdAndSecContext(user, context);
        result
    }
}

/// Records the caller of the outermost `as_owner`, and forgets it when that ends, also when it
/// ends by an error (unwinding drops the scope).
struct CallerScope {
    outermost: bool,
}

impl CallerScope {
    fn enter(user: pg_sys::Oid) -> CallerScope {
        let outermost = CALLER.with(Cell::get) == pg_sys::InvalidOid;
        if outermost {
            CALLER.with(|c| c.set(user));
        }
        CallerScope { outermost }
    }
}

impl Drop for CallerScope {
    fn drop(&mut self) {
        if self.outermost {
            CALLER.with(|c| c.set(pg_sys::InvalidOid));
        }
    }
}

/// Sets a setting for the current GUC nest level only, as a function's SET clause does.
unsafe fn set_local(name: &str, value: &str) {
    let (name, value) = (std::ffi::CString::new(name).unwrap(), std::ffi::CString::new(value).unwrap());
    pg_sys::set_config_option(
        name.as_ptr(),
        value.as_ptr(),
        pg_sys::GucContext::PGC_USERSET,
        pg_sys::GucSource::PGC_S_SESSION,
        pg_sys::GucAction::GUC_ACTION_SAVE,
        true,
        0,
        false,
    );
}

/// The role that called the erasure running now.
pub fn caller_oid() -> pg_sys::Oid {
    let caller = CALLER.with(Cell::get);
    if caller == pg_sys::InvalidOid {
        unsafe { pg_sys::GetUserId() }
    } else {
        caller
    }
}

/// The name of the role that called the erasure running now.
pub fn caller() -> String {
    role_name(caller_oid())
}

/// The owner of the extension: the only role that reads and writes its tables.
pub fn extension_owner(client: &SpiClient<'_>) -> pg_sys::Oid {
    let cached = EXTENSION_OWNER.with(Cell::get);
    if cached != pg_sys::InvalidOid {
        return cached;
    }
    let owner = spi(client
        .select("SELECT e.extowner FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_erasure'", None, &[])
        .and_then(|rows| rows.first().get_one::<pg_sys::Oid>()))
    .unwrap_or(pg_sys::InvalidOid);
    EXTENSION_OWNER.with(|c| c.set(owner));
    owner
}

/// Drops the cached extension owner, with the cached plans (the extension may have been
/// dropped and created again by another role).
pub fn forget_extension_owner() {
    EXTENSION_OWNER.with(|c| c.set(pg_sys::InvalidOid));
}

/// Runs `f` — fixed statements on the extension's own tables, never user code — as the
/// extension's owner `owner`, restricted and with its settings pinned like `as_owner`.
pub fn as_extension_owner<R>(owner: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    run_as(owner, f)
}

/// The owner of a relation.
pub fn relation_owner(client: &SpiClient<'_>, oid: pg_sys::Oid) -> pg_sys::Oid {
    spi(client
        .select("SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = $1", None, &[oid.into()])
        .and_then(|rows| rows.first().get_one::<pg_sys::Oid>()))
    .unwrap_or(pg_sys::InvalidOid)
}

pub fn role_name(role: pg_sys::Oid) -> String {
    unsafe { std::ffi::CStr::from_ptr(pg_sys::GetUserNameFromId(role, false)).to_string_lossy().into_owned() }
}

/// Whether `role` has the rights of the owner `owner` (is it, a member inheriting its rights,
/// or a superuser): PostgreSQL's own ownership rule.
pub fn acts_as(role: pg_sys::Oid, owner: pg_sys::Oid) -> bool {
    unsafe { pg_sys::superuser_arg(role) || pg_sys::has_privs_of_role(role, owner) }
}

/// Raises 42501 unless the current user owns `relation` (or is a superuser). `what` says what
/// the caller tried, e.g. "register it for erasure".
pub fn require_owner(client: &SpiClient<'_>, relation: &Relation, what: &str) {
    let user = unsafe { pg_sys::GetUserId() };
    if !acts_as(user, relation_owner(client, relation.oid)) {
        ErasureError::new(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("must be owner of table {} to {what}", relation.name),
        )
        .detail(format!("Role \"{}\" does not own it.", role_name(user)))
        .hint("Only a table's owner or a superuser registers it, its policies and catalog SQL reading it.")
        .raise();
    }
}

/// Raises 42501 naming the table and the privilege when the subject owner `owner` lacks a
/// privilege that `action` needs on `relation`. The rule itself lives in SQL,
/// `erasure.missing_privilege()`, which `erasure.check()` applies too.
pub fn require_privileges(client: &SpiClient<'_>, owner: pg_sys::Oid, relation: &Relation, action: &str) {
    let missing: Option<String> = spi(client
        .select(
            "SELECT erasure.missing_privilege($1, $2, $3)",
            None,
            &[owner.into(), relation.oid.into(), action.into()],
        )
        .and_then(|rows| rows.first().get_one()));
    if let Some(privilege) = missing {
        ErasureError::new(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "the subject's owner \"{}\" lacks privilege {privilege} on table {} to {} its rows",
                role_name(owner),
                relation.name,
                action_verb(action)
            ),
        )
        .detail("Erasures run with the rights of the owner of the subject's table, and no others.")
        .hint(format!("GRANT {privilege} ON {} TO {};", relation.name, pgrx::spi::quote_identifier(role_name(owner))))
        .raise();
    }
}

fn action_verb(action: &str) -> &'static str {
    match action {
        "delete" => "delete",
        "retain" => "count",
        _ => "mask",
    }
}

/// How registration tries catalog SQL before accepting it.
pub enum Trial<'a> {
    /// Planned and started by EXPLAIN, every parameter bound to a NULL of its type (a filter:
    /// running it would scan the table). A planner that needs a value for each parameter
    /// (Citus prunes shards by the key) gets one.
    Plan,
    /// Run once, in a subtransaction rolled back afterwards, with its parameters taken from
    /// the first row of `arguments` (a SELECT; all NULL when it returns none or is absent):
    /// what only fails when it runs (a function whose body names a table the pinned
    /// search_path does not find) fails now instead of at every erasure.
    Run { arguments: Option<&'a str> },
}

/// Checks catalog SQL before it is accepted, with the rights it will run with: `probe` is the
/// statement it will be part of (a SELECT taking parameters of `types`), tried as `trial` says
/// as the subject owner `owner`, restricted as at erasure time, so PostgreSQL's own privilege
/// checks (SELECT on each relation, EXECUTE on each function) run for that role. `invalid`
/// words the error if the SQL does not plan.
pub fn check_catalog_sql(
    owner: pg_sys::Oid,
    probe: &str,
    types: &[pg_sys::Oid],
    trial: Trial<'_>,
    what: &str,
    invalid: impl FnOnce(&pgrx::pg_sys::panic::ErrorReportWithLevel) -> ErasureError,
) {
    let c_string = |sql: String| {
        std::ffi::CString::new(sql).unwrap_or_else(|_| {
            ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, format!("{what} must not contain a NUL byte")).raise()
        })
    };
    let (statement, arguments) = match trial {
        Trial::Plan => (c_string(format!("EXPLAIN {probe}")), None),
        Trial::Run { arguments } => (c_string(probe.to_string()), arguments.map(|a| c_string(a.to_string()))),
    };
    let mut types = types.to_vec();
    let planned = std::cell::Cell::new(false);
    rewrap(
        || {
            rolled_back(|| {
                as_owner(owner, || unsafe {
                    let plan = pg_sys::SPI_prepare(statement.as_ptr(), types.len() as i32, types.as_mut_ptr());
                    planned.set(true);
                    let mut values = vec![pg_sys::Datum::from(0); types.len()];
                    let mut nulls = vec![b'n' as std::ffi::c_char; types.len()];
                    nulls.push(0);
                    if let Some(arguments) = &arguments {
                        pg_sys::SPI_execute(arguments.as_ptr(), true, 1);
                        if pg_sys::SPI_processed == 1 {
                            let table = &*pg_sys::SPI_tuptable;
                            for (n, (value, null)) in values.iter_mut().zip(nulls.iter_mut()).enumerate() {
                                let mut is_null = true;
                                *value = pg_sys::SPI_getbinval(*table.vals, table.tupdesc, n as i32 + 1, &mut is_null);
                                *null = if is_null { b'n' } else { b' ' } as std::ffi::c_char;
                            }
                        }
                    }
                    pg_sys::SPI_execute_plan(plan, values.as_mut_ptr(), nulls.as_ptr(), false, 0);
                    pg_sys::SPI_freeplan(plan);
                })
            })
        },
        |e| {
            if !planned.get() {
                return invalid(e);
            }
            ErasureError::new(
                code_of(e),
                format!("{what} fails when run as the subject's owner \"{}\"", role_name(owner)),
            )
            .detail(e.message().to_string())
            .hint(
                "Catalog SQL runs with the rights of the owner of the subject's table and search_path \
                     pg_catalog, pg_temp: grant what it reads, and qualify names, also in the functions it calls.",
            )
        },
    );
}

/// Runs `f` in a subtransaction that is rolled back afterwards, whether `f` succeeds or raises
/// (then the error goes on): what a trial run wrote, locked or set is undone.
fn rolled_back<R>(f: impl FnOnce() -> R) -> R {
    let (context, resource_owner) = unsafe { (pg_sys::CurrentMemoryContext, pg_sys::CurrentResourceOwner) };
    let end = move || unsafe {
        pg_sys::RollbackAndReleaseCurrentSubTransaction();
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = resource_owner;
    };
    unsafe {
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
    }
    let result = pgrx::pg_sys::PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .catch_others(|caught| {
            end();
            caught.rethrow()
        })
        .execute();
    end();
    result
}
