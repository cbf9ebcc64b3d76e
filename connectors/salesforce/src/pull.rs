//! Pulling leads, contacts and the opportunities that move them.
//!
//! Each object is one stream, read by one SOQL query through `queryAll` (deleted and merged rows
//! included) ordered by `(SystemModstamp, Id)`, from the committed cursor:
//! `SystemModstamp > t OR (SystemModstamp = t AND Id > 'id')`. The query's batches are followed
//! by `nextRecordsUrl` whatever their size, and each batch is committed with the cursor of its
//! last row, so any number of rows sharing one `SystemModstamp` are read exactly once. An
//! expired query locator re-issues the query from the committed cursor. Each pull starts
//! [`OVERLAP`] before the cursor (a long transaction commits with an earlier stamp) and skips
//! rows stored unchanged, so a pull with no changes writes nothing.
//!
//! Leads are read before contacts. A converted lead carries its `ConvertedContactId`, and a
//! contact the ids of the leads converted into it, so both are one person whatever order they
//! arrive in; a merge's survivor carries the ids of the records merged into it. Contacts carry
//! their opportunities' evidence; the opportunities stream re-reads the contacts whose
//! opportunities changed.

use crate::client::Client;
use crate::config::SalesforceConfig;
use crate::error::ApiError;
use crate::map::{OpportunityEvidence, StatusMap, contact_record, lead_record, modstamp_ms};
use crate::wire::{Contact, Lead, Opportunity, QueryPage};
use leadsync_connector_core::{
    ConnectorError, ConnectorErrorKind, Cursor, CursorPosition, PageSink, PullStats, SourceRecord,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The format of [`State`] in cursors.
const CURSOR_VERSION: u32 = 1;
/// How far before its cursor each pull starts again.
const OVERLAP_MS: u64 = 60_000;
/// Ids per `IN (…)` list: a query travels in the URL, which Salesforce caps near 16,000 bytes.
const IN_CHUNK: usize = 200;

const LEAD_FIELDS: &str = "Id, Email, FirstName, LastName, Phone, MobilePhone, Company, Title, \
    Industry, Country, NumberOfEmployees, LeadSource, Status, IsConverted, ConvertedContactId, \
    IsDeleted, MasterRecordId, CreatedDate, LastActivityDate, SystemModstamp";
const CONTACT_FIELDS: &str = "Id, Email, FirstName, LastName, Phone, MobilePhone, Title, \
    LeadSource, IsDeleted, MasterRecordId, CreatedDate, LastActivityDate, SystemModstamp";
const OPPORTUNITY_FIELDS: &str = "Id, ContactId, StageName, IsClosed, IsWon, SystemModstamp";

/// The streams of this connector, in the order a pull reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Leads,
    Contacts,
    Opportunities,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Leads => "leads",
            Stream::Contacts => "contacts",
            Stream::Opportunities => "opportunities",
        }
    }
}

/// Every row of the stream up to `(ts, id)` is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    ts: u64,
    id: String,
}

impl State {
    fn position(&self) -> CursorPosition {
        CursorPosition(self.ts, 0)
    }
}

/// A batch of one stream's rows.
enum Rows {
    Leads(Vec<Lead>),
    Contacts(Vec<Contact>),
    Opportunities(Vec<Opportunity>),
}

/// A row of a stream: where it stands in `(SystemModstamp, Id)` order.
trait Row: DeserializeOwned {
    fn key(&self) -> (u64, &str);
    fn batch(rows: Vec<Self>) -> Rows;
}

impl Row for Lead {
    fn key(&self) -> (u64, &str) {
        let ts = self.system_modstamp.as_deref().and_then(modstamp_ms);
        (ts.unwrap_or(0), &self.id)
    }
    fn batch(rows: Vec<Self>) -> Rows {
        Rows::Leads(rows)
    }
}

impl Row for Contact {
    fn key(&self) -> (u64, &str) {
        let ts = self.system_modstamp.as_deref().and_then(modstamp_ms);
        (ts.unwrap_or(0), &self.id)
    }
    fn batch(rows: Vec<Self>) -> Rows {
        Rows::Contacts(rows)
    }
}

impl Row for Opportunity {
    fn key(&self) -> (u64, &str) {
        let ts = self.system_modstamp.as_deref().and_then(modstamp_ms);
        (ts.unwrap_or(0), &self.id)
    }
    fn batch(rows: Vec<Self>) -> Rows {
        Rows::Opportunities(rows)
    }
}

/// SOQL's datetime literal for milliseconds since the epoch.
fn literal(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Only Salesforce's id alphabet is quoted into a query.
fn quoted<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    ids.into_iter()
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) struct Puller<'a> {
    id: &'a str,
    cfg: &'a SalesforceConfig,
    client: &'a Client,
    sink: &'a mut dyn PageSink,
    statuses: &'a Mutex<Option<Arc<StatusMap>>>,
    stats: PullStats,
    /// Whether stored rows must be looked for (not when nothing of this connector is stored).
    check: bool,
    /// The committed cursor of the stream being read.
    committed: State,
}

impl<'a> Puller<'a> {
    pub(crate) fn new(
        id: &'a str,
        cfg: &'a SalesforceConfig,
        client: &'a Client,
        sink: &'a mut dyn PageSink,
        statuses: &'a Mutex<Option<Arc<StatusMap>>>,
    ) -> Self {
        Puller {
            id,
            cfg,
            client,
            sink,
            statuses,
            stats: PullStats::default(),
            check: true,
            committed: State::default(),
        }
    }

    fn api(&self, e: ApiError) -> ConnectorError {
        e.into_connector(self.id)
    }

    pub(crate) async fn run(mut self) -> Result<PullStats, ConnectorError> {
        // The org's own status order places the statuses nobody mapped: read at every pull.
        let org = self.client.lead_statuses().await.map_err(|e| self.api(e))?;
        let map = Arc::new(StatusMap::new(&self.cfg.lead_status, &org));
        *self.statuses.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&map));
        self.check = self.sink.holds_records()?;
        let started_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
        for stream in [Stream::Leads, Stream::Contacts, Stream::Opportunities] {
            if !self.sink.keep_going() {
                break;
            }
            self.stream(stream, &map, started_ms)
                .await
                .map_err(|e| e.with_partial(self.stats.clone()))?;
        }
        Ok(self.stats)
    }

    /// The committed state of a stream; `None` when it was never read (or by an older format).
    fn load(&mut self, stream: Stream) -> Result<Option<State>, ConnectorError> {
        match self.sink.cursor(stream.name())? {
            Some(c) if c.version == CURSOR_VERSION => {
                serde_json::from_str(&c.state).map(Some).map_err(|e| {
                    ConnectorError::with_source(
                        ConnectorErrorKind::Permanent,
                        format!(
                            "connector {}: the stored {} cursor is unreadable",
                            self.id,
                            stream.name()
                        ),
                        e,
                    )
                })
            }
            _ => Ok(None),
        }
    }

    async fn stream(
        &mut self,
        stream: Stream,
        statuses: &StatusMap,
        started_ms: u64,
    ) -> Result<(), ConnectorError> {
        let stored = self.load(stream)?;
        self.committed = match (&stored, stream) {
            (Some(state), _) => state.clone(),
            // Contacts were just read with their opportunities: the opportunities stream starts
            // from this pull.
            (None, Stream::Opportunities) => State {
                ts: started_ms.saturating_sub(OVERLAP_MS),
                id: String::new(),
            },
            (None, _) => State::default(),
        };
        // The first query starts an overlap before the cursor; after an expired locator, at it.
        let mut from = match stored {
            Some(s) => State {
                ts: s.ts.saturating_sub(OVERLAP_MS),
                id: String::new(),
            },
            None => self.committed.clone(),
        };
        loop {
            let expired = match stream {
                Stream::Leads => self.walk::<Lead>(stream, &from, statuses).await?,
                Stream::Contacts => self.walk::<Contact>(stream, &from, statuses).await?,
                Stream::Opportunities => self.walk::<Opportunity>(stream, &from, statuses).await?,
            };
            if !expired {
                return Ok(());
            }
            tracing::info!(
                stream = stream.name(),
                "Query locator expired; querying again from the cursor."
            );
            from = self.committed.clone();
        }
    }

    fn soql(&self, stream: Stream, from: &State) -> String {
        let (fields, object) = match stream {
            Stream::Leads => (LEAD_FIELDS.to_string(), "Lead"),
            Stream::Contacts => (self.contact_fields(), "Contact"),
            Stream::Opportunities => (OPPORTUNITY_FIELDS.to_string(), "Opportunity"),
        };
        let filter = match (from.ts, from.id.as_str()) {
            (0, "") => String::new(),
            (ts, "") => format!(" WHERE SystemModstamp >= {}", literal(ts)),
            (ts, id) => format!(
                " WHERE SystemModstamp > {t} OR (SystemModstamp = {t} AND Id > {id})",
                t = literal(ts),
                id = quoted([id]),
            ),
        };
        format!("SELECT {fields} FROM {object}{filter} ORDER BY SystemModstamp, Id")
    }

    fn contact_fields(&self) -> String {
        match &self.cfg.contact_stage_field {
            Some(f) => format!("{CONTACT_FIELDS}, {f}"),
            None => CONTACT_FIELDS.to_string(),
        }
    }

    /// One query from `from`, every batch committed. `true` when its locator expired midway.
    async fn walk<T: Row>(
        &mut self,
        stream: Stream,
        from: &State,
        statuses: &StatusMap,
    ) -> Result<bool, ConnectorError> {
        let what = format!("the {} query", stream.name());
        let soql = self.soql(stream, from);
        // Opportunities are read as they are; deleted ones say nothing.
        let all = stream != Stream::Opportunities;
        let mut page: QueryPage<T> = self
            .client
            .query(&what, &soql, all)
            .await
            .map_err(|e| self.api(e))?;
        let total = page.total_size;
        let mut done = 0u64;
        loop {
            let rows = std::mem::take(&mut page.records);
            done += rows.len() as u64;
            self.batch(stream, rows, statuses).await?;
            self.sink.progress(stream.name(), done, total);
            if !self.sink.keep_going() {
                return Ok(false);
            }
            let Some(next) = page.next().map(str::to_string) else {
                return Ok(false);
            };
            match self.client.next_batch(&what, &next).await {
                Ok(p) => page = p,
                Err(ApiError::Status { code: Some(c), .. }) if c == "INVALID_QUERY_LOCATOR" => {
                    return Ok(true);
                }
                Err(e) => return Err(self.api(e)),
            }
        }
    }

    /// Turns a batch into records and commits them with the cursor of its last row.
    async fn batch<T: Row>(
        &mut self,
        stream: Stream,
        rows: Vec<T>,
        statuses: &StatusMap,
    ) -> Result<(), ConnectorError> {
        let Some(last) = rows.last() else {
            return Ok(());
        };
        let (ts, id) = last.key();
        let progress = State {
            ts,
            id: id.to_string(),
        };
        let records = match T::batch(rows) {
            Rows::Leads(leads) => self.lead_records(leads, statuses).await?,
            Rows::Contacts(contacts) => self.contact_records(contacts).await?,
            Rows::Opportunities(opportunities) => {
                let ids = unique(opportunities.iter().filter_map(|o| o.contact_id.clone()));
                let fields = self.contact_fields();
                let contacts: Vec<Contact> = self.by_ids("Contact", &fields, &ids, false).await?;
                self.contact_records(contacts).await?
            }
        };
        self.commit(stream, records, progress)
    }

    /// Leads, and the survivors of merges among them carrying their losers' ids.
    async fn lead_records(
        &mut self,
        leads: Vec<Lead>,
        statuses: &StatusMap,
    ) -> Result<Vec<SourceRecord>, ConnectorError> {
        let losers = losers_by_master(
            leads
                .iter()
                .map(|l| (l.is_deleted, l.master_record_id.as_deref(), l.id.as_str())),
        );
        let present: HashSet<&str> = leads.iter().map(|l| l.id.as_str()).collect();
        let missing: Vec<String> = losers
            .keys()
            .filter(|m| !present.contains(m.as_str()))
            .cloned()
            .collect();
        let masters: Vec<Lead> = self.by_ids("Lead", LEAD_FIELDS, &missing, false).await?;
        let none = Vec::new();
        Ok(masters
            .iter()
            .chain(&leads)
            .map(|l| lead_record(l, statuses, losers.get(&l.id).unwrap_or(&none)))
            .collect())
    }

    /// Contacts with their opportunities' evidence, the leads converted into them and the
    /// contacts merged into them.
    async fn contact_records(
        &mut self,
        contacts: Vec<Contact>,
    ) -> Result<Vec<SourceRecord>, ConnectorError> {
        if contacts.is_empty() {
            return Ok(Vec::new());
        }
        let mut linked = losers_by_master(
            contacts
                .iter()
                .map(|c| (c.is_deleted, c.master_record_id.as_deref(), c.id.as_str())),
        );
        let present: HashSet<&str> = contacts.iter().map(|c| c.id.as_str()).collect();
        let missing: Vec<String> = linked
            .keys()
            .filter(|m| !present.contains(m.as_str()))
            .cloned()
            .collect();
        let masters: Vec<Contact> = self
            .by_ids("Contact", &self.contact_fields(), &missing, false)
            .await?;
        let all: Vec<&Contact> = masters.iter().chain(&contacts).collect();
        let ids: Vec<String> = all
            .iter()
            .filter(|c| !c.is_deleted)
            .map(|c| c.id.clone())
            .collect();
        let converted: Vec<Lead> = self
            .in_chunks(
                "Lead",
                "Id, ConvertedContactId",
                "ConvertedContactId",
                &ids,
                false,
            )
            .await?;
        for lead in converted {
            if let Some(contact) = lead.converted_contact_id {
                linked.entry(contact).or_default().push(lead.id);
            }
        }
        let opportunities: Vec<Opportunity> = self
            .in_chunks("Opportunity", OPPORTUNITY_FIELDS, "ContactId", &ids, false)
            .await?;
        let mut by_contact: HashMap<&str, Vec<&Opportunity>> = HashMap::new();
        for o in &opportunities {
            if let Some(c) = o.contact_id.as_deref() {
                by_contact.entry(c).or_default().push(o);
            }
        }
        let none = Vec::new();
        let field = self.cfg.contact_stage_field.as_deref();
        Ok(all
            .into_iter()
            .map(|c| {
                let evidence = OpportunityEvidence::of(
                    by_contact.get(c.id.as_str()).into_iter().flatten().copied(),
                );
                contact_record(c, field, evidence, linked.get(&c.id).unwrap_or(&none))
            })
            .collect())
    }

    /// Records of `object` by id.
    async fn by_ids<T: DeserializeOwned>(
        &self,
        object: &str,
        fields: &str,
        ids: &[String],
        all: bool,
    ) -> Result<Vec<T>, ConnectorError> {
        self.in_chunks(object, fields, "Id", ids, all).await
    }

    /// Rows of `object` whose `field` is one of `values`, a few hundred values a query.
    async fn in_chunks<T: DeserializeOwned>(
        &self,
        object: &str,
        fields: &str,
        field: &str,
        values: &[String],
        all: bool,
    ) -> Result<Vec<T>, ConnectorError> {
        let mut rows = Vec::new();
        for chunk in values.chunks(IN_CHUNK) {
            let soql = format!(
                "SELECT {fields} FROM {object} WHERE {field} IN ({})",
                quoted(chunk.iter().map(String::as_str))
            );
            let what = format!("the {object} records by {field}");
            let mut page: QueryPage<T> = self
                .client
                .query(&what, &soql, all)
                .await
                .map_err(|e| self.api(e))?;
            rows.append(&mut page.records);
            while let Some(next) = page.next().map(str::to_string) {
                page = self
                    .client
                    .next_batch(&what, &next)
                    .await
                    .map_err(|e| self.api(e))?;
                rows.append(&mut page.records);
            }
        }
        Ok(rows)
    }

    /// Stores the records not stored already, with the cursor of `progress` — or the committed
    /// one while re-reading behind it. Nothing new and no progress: nothing is written.
    fn commit(
        &mut self,
        stream: Stream,
        records: Vec<SourceRecord>,
        progress: State,
    ) -> Result<(), ConnectorError> {
        // A record may come twice in one batch (a merge survivor also read as a row): keep the
        // first, which carries the losers' ids.
        let mut seen = HashSet::new();
        let records: Vec<SourceRecord> = records
            .into_iter()
            .filter(|r| seen.insert(r.locator.key()))
            .collect();
        let fresh: Vec<SourceRecord> = if self.check {
            let unchanged = self.sink.unchanged(&records)?;
            records
                .into_iter()
                .zip(unchanged)
                .filter(|(_, same)| !same)
                .map(|(r, _)| r)
                .collect()
        } else {
            records
        };
        let ahead =
            (progress.ts, progress.id.as_str()) > (self.committed.ts, self.committed.id.as_str());
        let state = if ahead {
            progress
        } else {
            self.committed.clone()
        };
        if fresh.is_empty() && state == self.committed {
            return Ok(());
        }
        self.stats.records += fresh.len() as u64;
        self.sink.commit(leadsync_connector_core::Page {
            records: fresh,
            rejects: Vec::new(),
            cursor: Cursor {
                stream: stream.name().into(),
                version: CURSOR_VERSION,
                position: state.position(),
                finished: false,
                state: serde_json::to_string(&state).expect("a cursor state serialises"),
            },
        })?;
        self.committed = state;
        Ok(())
    }
}

/// Merge losers (deleted rows naming a master) by their master's id.
fn losers_by_master<'r>(
    rows: impl Iterator<Item = (bool, Option<&'r str>, &'r str)>,
) -> HashMap<String, Vec<String>> {
    let mut losers: HashMap<String, Vec<String>> = HashMap::new();
    for (deleted, master, id) in rows {
        if let (true, Some(master)) = (deleted, master.filter(|m| !m.is_empty())) {
            losers
                .entry(master.to_string())
                .or_default()
                .push(id.to_string());
        }
    }
    losers
}

fn unique(ids: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.filter(|i| seen.insert(i.clone())).collect()
}
