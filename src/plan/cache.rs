//! The session's cache of erasure plans, so a run erasing thousands of subjects prepares its
//! statements once.
//!
//! A plan goes stale when the catalog changes (every registration function sends a relcache
//! invalidation of `erasure.subjects`, delivered to every session at commit) or when one of
//! its tables is altered (PostgreSQL sends those itself). PostgreSQL also sends a relcache
//! invalidation when ANALYZE (autovacuum's too) updates a table's statistics, which changes
//! nothing a plan is built from, and the saved statements replan themselves for new
//! statistics: so an invalidated table only makes its plans suspect, and a plan is rebuilt
//! only when the definition of one of its tables (`schema::definitions`) is no longer the one
//! it was built from, and only that subject's plan. Likewise a catalog change rebuilds the
//! plans of the subjects whose registrations changed (`entries::registrations`), not all of
//! them. The invalidation callback only records:
//! it may run in the middle of executing a plan, so plans are checked, dropped and rebuilt at
//! the start of the next erasure, never under a running one.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use pgrx::prelude::*;

use super::Plan;
use crate::catalog::{entries, schema};

thread_local! {
    static PLANS: RefCell<HashMap<String, Rc<Plan>>> = RefCell::new(HashMap::new());
    /// The tables of the cached plans, whose invalidations make them suspect.
    static WATCHED: RefCell<HashSet<pg_sys::Oid>> = RefCell::new(HashSet::new());
    /// Tables invalidated since the plans were last checked.
    static SUSPECT: RefCell<HashSet<pg_sys::Oid>> = RefCell::new(HashSet::new());
    /// The catalog (`erasure.subjects`), whose invalidation means registrations changed.
    static CATALOG: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
    static CATALOG_CHANGED: Cell<bool> = const { Cell::new(false) };
    /// Every relcache entry was reset: what changed is unknown, every plan goes.
    static STALE: Cell<bool> = const { Cell::new(false) };
}

/// Registers the invalidation callback; called once when the library is loaded.
pub fn init() {
    unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache_invalidation), pg_sys::Datum::from(0)) };
}

#[pg_guard]
unsafe extern "C-unwind" fn on_relcache_invalidation(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    // InvalidOid: every relcache entry was reset (the invalidation queue overflowed), so a
    // catalog change may be among those lost.
    if relid == pg_sys::InvalidOid {
        STALE.with(|s| s.set(true));
        return;
    }
    if relid == CATALOG.with(Cell::get) {
        CATALOG_CHANGED.with(|c| c.set(true));
        return;
    }
    let watched = WATCHED.with(|w| w.try_borrow().map_or(true, |w| w.contains(&relid)));
    if watched && SUSPECT.with(|s| s.try_borrow_mut().map(|mut s| s.insert(relid)).is_err()) {
        STALE.with(|s| s.set(true));
    }
}

/// Runs `f` with the subject's plan, building and caching it first if needed, as the
/// subject's owner (`security::as_owner`): everything an erasure runs has that role's rights.
pub fn with_plan<R>(subject: &str, f: impl FnOnce(&Plan) -> R) -> R {
    if STALE.with(|s| s.replace(false)) {
        PLANS.with(|p| p.borrow_mut().clear());
        WATCHED.with(|w| w.borrow_mut().clear());
        SUSPECT.with(|s| s.borrow_mut().clear());
        CATALOG_CHANGED.with(|c| c.set(false));
        crate::security::forget_extension_owner();
    }
    let suspect: HashSet<pg_sys::Oid> = SUSPECT.with(|s| std::mem::take(&mut *s.borrow_mut()));
    let catalog_changed = CATALOG_CHANGED.with(|c| c.replace(false));
    if !suspect.is_empty() || catalog_changed {
        drop_changed_plans(&suspect, catalog_changed);
    }
    let plan = match PLANS.with(|p| p.borrow().get(subject).cloned()) {
        Some(plan) => plan,
        None => {
            let plan = Rc::new(Plan::build(subject));
            CATALOG.with(|c| c.set(plan.catalog));
            WATCHED.with(|w| w.borrow_mut().extend(plan.definitions.iter().map(|(oid, _)| *oid)));
            PLANS.with(|p| p.borrow_mut().insert(subject.to_string(), plan.clone()));
            plan
        }
    };
    crate::security::as_owner(plan.owner, || f(&plan))
}

/// Drops the cached plans one of whose tables among `suspect` is no longer defined as when
/// the plan was built (a column added, a constraint dropped, a new child, another owner) and,
/// after a catalog change, those whose subject's registrations changed.
fn drop_changed_plans(suspect: &HashSet<pg_sys::Oid>, catalog_changed: bool) {
    let tables: Vec<pg_sys::Oid> = suspect.iter().copied().collect();
    let subjects: Vec<String> = match catalog_changed {
        true => PLANS.with(|p| p.borrow().keys().cloned().collect()),
        false => Vec::new(),
    };
    // Fixed queries of pg_catalog and the catalog, under the pinned search_path whoever calls.
    let (definitions, registrations) = Spi::connect(|client| {
        let owner = crate::security::extension_owner(client);
        crate::security::as_extension_owner(owner, || {
            let registrations = match subjects.is_empty() {
                true => Default::default(),
                false => entries::registrations(client, &subjects),
            };
            (schema::definitions(client, &tables), registrations)
        })
    });
    PLANS.with(|p| {
        p.borrow_mut().retain(|subject, plan| {
            let tables_as_built = plan
                .definitions
                .iter()
                .all(|(oid, built_from)| !suspect.contains(oid) || definitions.get(oid) == Some(built_from));
            let registered_as_built = !catalog_changed || registrations.get(subject) == Some(&plan.registrations);
            tables_as_built && registered_as_built
        })
    });
}

/// Tells every session, this one included, that the catalog changed (at commit for others).
pub fn invalidate_all_sessions() {
    let catalog = Spi::connect(entries::catalog_oid);
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(catalog) };
}
