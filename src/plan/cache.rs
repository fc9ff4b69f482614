//! The session's cache of erasure plans, so a run erasing thousands of subjects prepares its
//! statements once.
//!
//! A plan goes stale when the catalog changes (every registration function sends a relcache
//! invalidation of `erasure.subjects`, delivered to every session at commit) or when one of
//! its tables is altered (PostgreSQL sends those itself). The invalidation callback only sets
//! a flag: it may run in the middle of executing a plan, so plans are dropped and rebuilt at
//! the start of the next erasure, never under a running one.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use pgrx::prelude::*;

use super::Plan;
use crate::catalog::entries;

thread_local! {
    static PLANS: RefCell<HashMap<String, Rc<Plan>>> = RefCell::new(HashMap::new());
    static WATCHED: RefCell<HashSet<pg_sys::Oid>> = RefCell::new(HashSet::new());
    static STALE: Cell<bool> = const { Cell::new(false) };
}

/// Registers the invalidation callback; called once when the library is loaded.
pub fn init() {
    unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache_invalidation), pg_sys::Datum::from(0)) };
}

#[pg_guard]
unsafe extern "C-unwind" fn on_relcache_invalidation(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    let watched = relid == pg_sys::InvalidOid || WATCHED.with(|w| w.try_borrow().map_or(true, |w| w.contains(&relid)));
    if watched {
        STALE.with(|s| s.set(true));
    }
}

/// Runs `f` with the subject's plan, building and caching it first if needed, as the
/// subject's owner (`security::as_owner`): everything an erasure runs has that role's rights.
pub fn with_plan<R>(subject: &str, f: impl FnOnce(&Plan) -> R) -> R {
    if STALE.with(|s| s.replace(false)) {
        PLANS.with(|p| p.borrow_mut().clear());
        WATCHED.with(|w| w.borrow_mut().clear());
        crate::security::forget_extension_owner();
    }
    let plan = match PLANS.with(|p| p.borrow().get(subject).cloned()) {
        Some(plan) => plan,
        None => {
            let plan = Rc::new(Plan::build(subject));
            WATCHED.with(|w| w.borrow_mut().extend(plan.relations.iter().copied()));
            PLANS.with(|p| p.borrow_mut().insert(subject.to_string(), plan.clone()));
            plan
        }
    };
    crate::security::as_owner(plan.owner, || f(&plan))
}

/// Tells every session, this one included, that the catalog changed (at commit for others).
pub fn invalidate_all_sessions() {
    let catalog = Spi::connect(entries::catalog_oid);
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(catalog) };
}
