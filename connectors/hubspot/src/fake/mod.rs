//! A stateful fake of HubSpot's v3 contacts API, served over HTTP on loopback.
//!
//! It exists so the connector's pull and push code can be tested against the behaviours that break
//! real integrations (see `reference/hubspot.md`): the rolling ten-second and daily limits with
//! their headers, search's own per-second limit and 10,000-result cap, blocks of contacts sharing
//! one `lastmodifieddate`, search lag, archived contacts missing from search, merges that change
//! ids, forward-only lifecycle stages, 207 partial failures, and scripted transport faults.
//!
//! All state sits in one [`Mutex`](std::sync::Mutex) that is never held across an `.await`, so
//! tests can seed and inspect it while a client is talking to the server.

mod batch;
mod cli;
mod errors;
mod faults;
mod filters;
mod gate;
mod lifecycle;
mod limits;
mod render;
mod routes;
mod search;
mod seed;
mod server;
mod store;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use cli::main_cli;
pub use faults::Fault;
pub use gate::Stats;
pub use server::ServerHandle;

use gate::{Shared, State};

/// How the fake behaves; the defaults match a Free/Starter HubSpot account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeConfig {
    /// Bearer token every request must carry (401 otherwise).
    pub token: String,
    /// Length of the rolling window for non-search calls.
    pub window: Duration,
    /// Non-search requests accepted per `window` (0 = unlimited).
    pub requests_per_window: u32,
    /// Requests accepted per UTC day, searches included (0 = unlimited).
    pub daily_limit: u64,
    /// Searches accepted per second (0 = unlimited).
    pub search_per_second: u32,
    /// A contact written through the API or `insert`/`update` shows up in search only this long
    /// after the write, like HubSpot's search index.
    pub search_lag: Duration,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            token: "fake-token".to_owned(),
            window: Duration::from_secs(10),
            requests_per_window: 100,
            daily_limit: 250_000,
            search_per_second: 5,
            search_lag: Duration::ZERO,
        }
    }
}

/// A snapshot of one contact, for tests and the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The record id (numeric, as a string, as on the wire).
    pub id: String,
    /// Every set property, including `hs_object_id`, `createdate` and `lastmodifieddate`.
    pub properties: BTreeMap<String, String>,
    /// Creation time, epoch milliseconds.
    pub created_at: i64,
    /// Last successful write, epoch milliseconds.
    pub updated_at: i64,
    /// Deleted (in HubSpot's recycling bin).
    pub archived: bool,
}

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
        server::serve(Arc::clone(&self.shared), addr).await
    }

    /// Adds `n` deterministic contacts (same `seed` → same names) with `lastmodifieddate` spread
    /// over the past 30 days. They are searchable at once, whatever `search_lag` is.
    pub fn seed(&self, n: usize, seed: u64) {
        let mut state = self.shared.lock();
        for c in seed::contacts(n, seed, store::now_ms()) {
            state.store.insert_seeded(c.props, c.created, c.modified);
        }
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
