//! The account handle tests and the demo hold: seed, edit, inspect and script the fake.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use leadsync_fake_support::server::{self, ServerHandle};

use crate::config::FakeConfig;
use crate::faults::Fault;
use crate::gate::{Shared, State, Stats};
use crate::routes;
use crate::seed;
use crate::store::{self, Contact};

/// The fake HubSpot account. Cloning shares the same account.
#[derive(Clone)]
pub struct FakeHubSpot {
    shared: Arc<Shared>,
}

impl FakeHubSpot {
    /// An empty account with the given behaviour.
    pub fn new(config: FakeConfig) -> Self {
        let state = State::new(&config);
        Self {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(state),
            }),
        }
    }

    /// The configuration this account was built with.
    pub fn config(&self) -> &FakeConfig {
        &self.shared.config
    }

    /// Binds `addr` (use `127.0.0.1:0` for a free port) and serves in a tokio task until the
    /// handle is dropped or shut down. Several servers may share one account.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<ServerHandle> {
        server::serve(
            routes::router(Arc::clone(&self.shared)),
            addr,
            "fake HubSpot",
        )
        .await
    }

    /// Adds `n` deterministic contacts (same `seed` → same names) with `lastmodifieddate` spread
    /// over the past 30 days. They are searchable at once, whatever `search_lag` is.
    pub fn seed(&self, n: usize, seed: u64) {
        let mut state = self.shared.lock();
        for c in seed::contacts(n, seed, store::now_ms()) {
            state.store.insert_seeded(c.props, c.created, c.modified);
        }
    }

    /// Adds a custom lifecycle stage (`value` is its internal name, numeric in HubSpot) right
    /// after the stage `after`, as an admin does in HubSpot's settings.
    pub fn add_lifecycle_stage(&self, value: &str, label: &str, after: &str) {
        let mut state = self.shared.lock();
        let stages = &mut state.store.stages;
        let at = stages
            .iter()
            .position(|(v, _)| v == after)
            .map_or(stages.len(), |i| i + 1);
        stages.insert(at, (value.to_string(), label.to_string()));
    }

    /// Creates a contact as if entered in HubSpot; returns its id.
    pub fn insert(&self, properties: BTreeMap<String, String>) -> String {
        self.shared.lock().store.insert(properties).to_string()
    }

    /// Edits a contact as a HubSpot user would: same rules as the API (lifecycle stage forward
    /// only, `""` clears), bumps `lastmodifieddate` when something changed.
    ///
    /// # Panics
    /// If `id` does not resolve to a contact.
    pub fn update(&self, id: &str, properties: BTreeMap<String, String>) {
        let mut state = self.shared.lock();
        let id = state.store.expect(id);
        state.store.apply(id, &properties);
    }

    /// Sets `lastmodifieddate` (and `updatedAt`) of each contact to `at_ms`, without touching the
    /// search lag: for building blocks of contacts that share one timestamp.
    ///
    /// # Panics
    /// If an id does not resolve to a contact.
    pub fn set_modified_at(&self, ids: &[String], at_ms: i64) {
        let mut state = self.shared.lock();
        for id in ids {
            let id = state.store.expect(id);
            state.store.set_modified(id, at_ms);
        }
    }

    /// The contact `id` resolves to (merged ids resolve to the survivor), archived ones included.
    pub fn contact(&self, id: &str) -> Option<Contact> {
        let state = self.shared.lock();
        let id = state.store.find(id, None)?;
        state.store.get(id).map(store::Record::snapshot)
    }

    /// Every contact, archived ones included, ordered by id.
    pub fn contacts(&self) -> Vec<Contact> {
        let state = self.shared.lock();
        state.store.range(0).map(store::Record::snapshot).collect()
    }

    /// Deletes (archives) a contact; `lastmodifieddate` is left alone, as in HubSpot.
    ///
    /// # Panics
    /// If `id` does not resolve to a contact.
    pub fn archive(&self, id: &str) {
        let mut state = self.shared.lock();
        let id = state.store.expect(id);
        state.store.archive(id);
    }

    /// Restores an archived contact, as HubSpot's recycling bin does: it is found again.
    ///
    /// # Panics
    /// If `id` does not resolve to a contact.
    pub fn restore(&self, id: &str) {
        let mut state = self.shared.lock();
        let id = state.store.expect(id);
        state.store.restore(id);
    }

    /// Merges `secondary` into `primary`. The survivor gets a NEW id (returned), both old ids
    /// resolve to it, and `hs_merged_object_ids` lists the merged ids.
    ///
    /// # Panics
    /// If either id does not resolve, or both resolve to the same contact.
    pub fn merge(&self, primary: &str, secondary: &str) -> String {
        let mut state = self.shared.lock();
        let (p, s) = (state.store.expect(primary), state.store.expect(secondary));
        match state.store.merge(p, s) {
            Some(id) => id.to_string(),
            None => panic!("cannot merge {primary} into itself"),
        }
    }

    /// Counters since creation (or the last [`reset_stats`](Self::reset_stats)).
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats()
    }

    /// Zeroes the counters (the rate-limit windows keep running).
    pub fn reset_stats(&self) {
        self.shared.lock().reset_stats();
    }

    /// Queues a fault for upcoming requests; faults apply in the order scripted.
    pub fn script(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }
}
