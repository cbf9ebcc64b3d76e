//! Keeps the dashboard's [`Facts`] fresh: rebuilt on a connection of its own, in the
//! background, when a page finds the store's change mark moved (or the facts older than
//! [`MAX_AGE`]). A page waits a moment for a rebuild; past that it shows the facts it has,
//! marked as being refreshed, so no page waits on a pass over every person.

use super::facts::Facts;
use crate::rules::Rules;
use crate::store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

/// Facts older than this are rebuilt even when the change mark stayed (a merge made by another
/// process moves no mark).
const MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

pub(in crate::daemon) struct FactsCache {
    store: Mutex<Box<dyn Store>>,
    rules: Arc<Rules>,
    current: RwLock<Option<Arc<Facts>>>,
    building: AtomicBool,
    /// Set by an action that changes persons: the next page rebuilds.
    stale: AtomicBool,
    built: tokio::sync::watch::Sender<u64>,
    /// The last rebuild's error, shown on the pages until one succeeds.
    failed: Mutex<Option<String>>,
}

/// Facts as a page gets them.
pub(super) struct Current {
    pub(super) facts: Option<Arc<Facts>>,
    /// A rebuild is under way: the facts are older than the store.
    pub(super) refreshing: bool,
    pub(super) error: Option<String>,
}

impl FactsCache {
    pub(in crate::daemon) fn new(store: Box<dyn Store>, rules: Arc<Rules>) -> Arc<FactsCache> {
        Arc::new(FactsCache {
            store: Mutex::new(store),
            rules,
            current: RwLock::new(None),
            building: AtomicBool::new(false),
            stale: AtomicBool::new(false),
            built: tokio::sync::watch::channel(0).0,
            failed: Mutex::new(None),
        })
    }

    /// Starts a rebuild unless one is under way.
    pub(in crate::daemon) fn rebuild(self: &Arc<Self>) {
        if self.building.swap(true, Ordering::AcqRel) {
            return;
        }
        let cache = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            cache.stale.store(false, Ordering::Release);
            let built = {
                let mut store = cache.store.lock().unwrap_or_else(PoisonError::into_inner);
                Facts::build(store.as_mut(), &cache.rules, crate::clock::now())
            };
            match built {
                Ok(facts) => {
                    tracing::debug!(persons = facts.persons(), took = ?facts.took, "Dashboard facts rebuilt.");
                    *cache
                        .current
                        .write()
                        .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(facts));
                    *cache.failed.lock().unwrap_or_else(PoisonError::into_inner) = None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "The dashboard's figures could not be read.");
                    *cache.failed.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some(e.to_string());
                }
            }
            cache.building.store(false, Ordering::Release);
            cache.built.send_modify(|n| *n += 1);
        });
    }

    /// The next page rebuilds, whatever the mark says.
    pub(in crate::daemon) fn invalidate(&self) {
        self.stale.store(true, Ordering::Release);
    }

    /// The facts for a page, given the store's change mark now: rebuilt first (waiting at most
    /// `wait`) when they are older than the store.
    pub(super) async fn current(self: &Arc<Self>, mark: &str, wait: Duration) -> Current {
        let now = crate::clock::now();
        let is_fresh = |facts: &Option<Arc<Facts>>| {
            facts
                .as_ref()
                .is_some_and(|f| f.mark == mark && now - f.built_at < MAX_AGE)
                && !self.stale.load(Ordering::Acquire)
        };
        let facts = self.snapshot();
        if is_fresh(&facts) {
            return self.answer(facts, false);
        }
        let mut built = self.built.subscribe();
        built.mark_unchanged();
        self.rebuild();
        // Up to two rebuilds: one under way when the page came may have read the store before
        // its latest change.
        let deadline = tokio::time::Instant::now() + wait;
        for _ in 0..2 {
            if tokio::time::timeout_at(deadline, built.changed())
                .await
                .is_err()
            {
                break;
            }
            let facts = self.snapshot();
            if is_fresh(&facts) {
                return self.answer(facts, false);
            }
            self.rebuild();
        }
        self.answer(self.snapshot(), true)
    }

    fn snapshot(&self) -> Option<Arc<Facts>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn answer(&self, facts: Option<Arc<Facts>>, refreshing: bool) -> Current {
        Current {
            facts,
            refreshing,
            error: self
                .failed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}
