//! The org handle tests hold: seed, edit, inspect and script the fake.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Instant;

use chrono::{DateTime, SubsecRound, Utc};
use leadsync_fake_support::server::{self, ServerHandle};
use serde_json::{Value, json};

use crate::config::FakeConfig;
use crate::edits;
use crate::faults::Fault;
use crate::gate::Shared;
use crate::routes;
use crate::seed::Person;
use crate::store::{self, Record, SObject};

/// The fake Salesforce org. Cloning shares the same org.
#[derive(Debug, Clone)]
pub struct FakeSalesforce {
    shared: Arc<Shared>,
}

impl FakeSalesforce {
    /// An org with no records but Salesforce's standard Lead Status picklist:
    /// "Open - Not Contacted" (1, the default), "Working - Contacted" (2), "Closed - Converted"
    /// (3, converted) and "Closed - Not Converted" (4).
    pub fn new(config: FakeConfig) -> Self {
        let fake = Self {
            shared: Arc::new(Shared::new(config)),
        };
        fake.set_lead_statuses(&edits::STANDARD_STATUSES);
        fake
    }

    /// The configuration this org was built with.
    pub fn config(&self) -> &FakeConfig {
        &self.shared.config
    }

    /// Binds `addr` (use `127.0.0.1:0` for a free port) and serves in a tokio task until the
    /// handle is dropped or shut down. Several servers may share one org. The handle's `base_url`
    /// is the org's `instance_url`.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<ServerHandle> {
        server::serve(
            routes::router(Arc::clone(&self.shared)),
            addr,
            "fake Salesforce",
        )
        .await
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

    /// Creates many records under one lock (50,000 leads take well under a second); returns
    /// their ids in order. Like [`insert`](Self::insert) otherwise.
    pub fn insert_many(
        &self,
        sobject: SObject,
        records: Vec<BTreeMap<String, Value>>,
    ) -> Vec<String> {
        let at = store::now();
        let mut state = self.shared.lock();
        records
            .into_iter()
            .map(|fields| state.store.insert(sobject, fields, at))
            .collect()
    }

    /// Creates a lead per person (name, email, phone, company, title, lead source), the
    /// `Status` cycling through the picklist's non-converted values in sort order; returns the
    /// ids in order.
    pub fn seed_leads(&self, people: &[Person]) -> Vec<String> {
        let open: Vec<String> = edits::lead_statuses(&self.shared.lock().store)
            .into_iter()
            .filter(|s| !s.2)
            .map(|s| s.0)
            .collect();
        let records = people
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut fields = person_fields(p);
                fields.insert("Company".into(), json!(p.company));
                if let Some(status) = open.get(i % open.len().max(1)) {
                    fields.insert("Status".into(), json!(status));
                }
                fields
            })
            .collect();
        self.insert_many(SObject::Lead, records)
    }

    /// Creates a contact per person (name, email, phone, title, lead source); returns the ids.
    pub fn seed_contacts(&self, people: &[Person]) -> Vec<String> {
        let records = people.iter().map(person_fields).collect();
        self.insert_many(SObject::Contact, records)
    }

    /// Edits a record as a user does in Salesforce: sets `fields` (a null clears one) and moves
    /// `SystemModstamp` to now.
    ///
    /// # Panics
    /// Where the API would refuse the edit: no such record, a deleted record, a converted lead,
    /// an unknown or read-only field, a `Status` outside the picklist.
    pub fn update(&self, id: &str, fields: BTreeMap<String, Value>) {
        let mut state = self.shared.lock();
        let sobject =
            SObject::of_id(id).unwrap_or_else(|| panic!("update: no record with id {id}"));
        let fields: Vec<(String, Value)> = fields
            .into_iter()
            .map(|(name, value)| {
                let canonical = sobject
                    .canonical(&name)
                    .unwrap_or_else(|| panic!("update: {} has no field {name}", sobject.name()));
                (canonical, value)
            })
            .collect();
        if let Err(error) = edits::check_update(&state.store, sobject, id, &fields) {
            panic!("update of {id} refused: {} {}", error.code, error.message);
        }
        edits::apply_update(&mut state.store, id, &fields, store::now());
    }

    /// Soft-deletes a record now: `query` stops returning it, `queryAll` and the `deleted` feed
    /// show it, and its `SystemModstamp` moves to now, as in Salesforce.
    ///
    /// # Panics
    /// If `id` names no record.
    pub fn delete(&self, id: &str) {
        edits::delete(&mut self.shared.lock().store, id, store::now());
    }

    /// Sets when a deleted record was deleted (milliseconds kept), for feed windows in the past.
    ///
    /// # Panics
    /// If `id` names no deleted record.
    pub fn set_deleted_date(&self, id: &str, at: DateTime<Utc>) {
        let mut state = self.shared.lock();
        let record = state
            .store
            .get_mut(id)
            .filter(|r| r.deleted)
            .unwrap_or_else(|| panic!("no deleted record with id {id}"));
        record.deleted_at = Some(at.trunc_subsecs(3));
    }

    /// Merges one or two `losers` into `master` (Leads or Contacts, all of one object) now: the
    /// losers are deleted with `MasterRecordId` = master, the master keeps its values, and both
    /// sides' `SystemModstamp` move. Opportunities of a losing contact move to the master.
    ///
    /// # Panics
    /// On a merge Salesforce refuses (see the message).
    pub fn merge(&self, master: &str, losers: &[&str]) {
        edits::merge(&mut self.shared.lock().store, master, losers, store::now());
    }

    /// Converts a lead now, as `convertLead` does: creates a Contact with the lead's name, email,
    /// phones, title and lead source (and an account id), marks the lead `IsConverted` with
    /// `ConvertedContactId`, `ConvertedAccountId`, `ConvertedDate` and `Status` = the first
    /// converted value of the picklist, and moves the lead's `SystemModstamp`. With
    /// `Some((stage, is_closed, is_won))` it also creates an Opportunity of the new contact
    /// (`ConvertedOpportunityId`). Returns the contact id.
    ///
    /// # Panics
    /// If the lead is unknown, deleted or converted, or no picklist value is converted.
    pub fn convert_lead(
        &self,
        lead_id: &str,
        with_opportunity: Option<(&str, bool, bool)>,
    ) -> String {
        edits::convert_lead(
            &mut self.shared.lock().store,
            lead_id,
            with_opportunity,
            store::now(),
        )
    }

    /// Creates an Opportunity of `contact_id` (and its account) now; returns its id.
    ///
    /// # Panics
    /// If `contact_id` names no contact.
    pub fn insert_opportunity(
        &self,
        contact_id: &str,
        stage: &str,
        is_closed: bool,
        is_won: bool,
    ) -> String {
        let at = store::now();
        edits::insert_opportunity(
            &mut self.shared.lock().store,
            contact_id,
            (stage, is_closed, is_won),
            at,
        )
    }

    /// Replaces the Lead Status picklist with `(api_name, sort_order, is_converted)` values;
    /// the first non-converted value by sort order becomes the default. Existing leads keep
    /// their `Status`, as in Salesforce.
    pub fn set_lead_statuses(&self, values: &[(&str, i64, bool)]) {
        edits::set_lead_statuses(&mut self.shared.lock().store, values, store::now());
    }

    /// Snapshots of every record of `sobject` in id order, deleted ones included.
    pub fn records(&self, sobject: SObject) -> Vec<Record> {
        self.shared.lock().store.of(sobject).cloned().collect()
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

    /// API requests counted within the rolling window (24 hours unless configured otherwise).
    pub fn api_usage(&self) -> u64 {
        self.shared.lock().usage.used(Instant::now())
    }

    /// Sets the usage, as if other integrations had just spent `used` requests: they age out of
    /// the rolling window like any others.
    pub fn set_api_usage(&self, used: u64) {
        self.shared.lock().usage.reset(Instant::now(), used);
    }

    /// The most REST requests ever handled at once (a slow fault keeps one in flight).
    pub fn max_in_flight(&self) -> u32 {
        self.shared.lock().max_in_flight
    }

    /// Collections update requests (`PATCH …/composite/sobjects`) answered past the token and
    /// allocation checks, refused ones included.
    pub fn writes(&self) -> u64 {
        self.shared.lock().writes
    }

    /// Every field collections updates set, in order: (record id, field, value).
    pub fn write_log(&self) -> Vec<(String, String, Value)> {
        self.shared.lock().write_log.clone()
    }

    /// Zeroes [`writes`](Self::writes) and empties [`write_log`](Self::write_log).
    pub fn reset_writes(&self) {
        let mut state = self.shared.lock();
        state.writes = 0;
        state.write_log.clear();
    }
}

/// The person fields leads and contacts share.
fn person_fields(p: &Person) -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("FirstName".to_owned(), json!(p.first_name)),
        ("LastName".to_owned(), json!(p.last_name)),
        ("Email".to_owned(), json!(p.email)),
        ("Phone".to_owned(), json!(p.phone)),
        ("Title".to_owned(), json!(p.title)),
        ("LeadSource".to_owned(), json!(p.lead_source)),
    ])
}
