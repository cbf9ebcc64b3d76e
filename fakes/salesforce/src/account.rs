//! The org handle tests hold: seed, edit, inspect and script the fake.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;

use crate::config::FakeConfig;
use crate::faults::Fault;
use crate::gate::{Shared, State};
use crate::server::{self, ServerHandle};
use crate::store::{self, Record, SObject};

/// The fake Salesforce org. Cloning shares the same org.
#[derive(Debug, Clone)]
pub struct FakeSalesforce {
    shared: Arc<Shared>,
}

impl FakeSalesforce {
    /// An empty org with the given behaviour.
    pub fn new(config: FakeConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The configuration this org was built with.
    pub fn config(&self) -> &FakeConfig {
        &self.shared.config
    }

    /// Binds `addr` (use `127.0.0.1:0` for a free port) and serves in a tokio task until the
    /// handle is dropped or shut down. Several servers may share one org.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<ServerHandle> {
        server::serve(Arc::clone(&self.shared), addr).await
    }

    /// Creates a record as if entered in Salesforce now; returns its 18-character id. System
    /// fields (`Id`, `CreatedDate`, `SystemModstamp`, …) in `fields` are ignored.
    pub fn insert(&self, sobject: SObject, fields: BTreeMap<String, Value>) -> String {
        self.shared
            .lock()
            .store
            .insert(sobject, fields, store::now())
    }

    /// Sets `SystemModstamp` (and `LastModifiedDate`) of each record to `at` (milliseconds kept):
    /// for building blocks of records that share one timestamp.
    ///
    /// # Panics
    /// If an id names no record.
    pub fn set_modstamp(&self, ids: &[String], at: DateTime<Utc>) {
        let mut state = self.shared.lock();
        for id in ids {
            let record = state
                .store
                .get_mut(id)
                .unwrap_or_else(|| panic!("no record with id {id}"));
            record.modstamp = at.trunc_subsecs(3);
        }
    }

    /// Soft-deletes a record: `query` stops returning it.
    ///
    /// # Panics
    /// If `id` names no record.
    pub fn delete(&self, id: &str) {
        let mut state = self.shared.lock();
        let record = state
            .store
            .get_mut(id)
            .unwrap_or_else(|| panic!("no record with id {id}"));
        record.deleted = true;
    }

    /// A snapshot of the record `id`, soft-deleted ones included.
    pub fn record(&self, id: &str) -> Option<Record> {
        self.shared.lock().store.get(id).cloned()
    }

    /// Invalidates every access token issued so far, as a session timeout or a revoked app does:
    /// the next API call with one gets 401 `INVALID_SESSION_ID`.
    pub fn expire_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// Invalidates every open query locator: following a `nextRecordsUrl` then gets 400
    /// `INVALID_QUERY_LOCATOR`.
    pub fn expire_query_locators(&self) {
        self.shared.lock().cursors.clear();
    }

    /// Queues a fault for upcoming REST API requests; faults apply in the order scripted.
    pub fn script(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// API requests counted against the daily allocation so far.
    pub fn api_usage(&self) -> u64 {
        self.shared.lock().api_used
    }

    /// Sets the usage counter, as if other integrations had spent `used` requests today.
    pub fn set_api_usage(&self, used: u64) {
        self.shared.lock().api_used = used;
    }
}
