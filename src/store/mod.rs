//! Durable state: source records, persons, identity keys, cursors, rejects, conflicts, tier
//! history and runs, behind a small trait so SQLite (embedded, the default) and PostgreSQL
//! (scale-out) can both hold it.
//!
//! Everything a page changes goes through one [`StoreTx`], committed once: the records, the
//! persons they touch, the keys, the rejects and the cursor that covers them. A crash before
//! `commit` loses the page and its cursor together, so it is simply read again.

mod sqlite;
mod types;

pub use sqlite::SqliteStore;
pub use types::{
    Conflict, FunnelFact, OutboxEntry, RunStats, RunSummary, StoreEvent, StoredRecord, TierChange,
    TierCounts,
};

use crate::model::{Key, KeyMap, Person, PersonId};
use leadsync_connector_core::Tier;
use leadsync_connector_core::{Cursor, RecordReject, SourceRecord};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "store at {path} has schema version {found}, newer than this leadsync knows ({known}); upgrade leadsync"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "cursor for {connector}/{stream} would move backwards (stored {stored}, offered {offered}); nothing was written"
    )]
    CursorRegression {
        connector: String,
        stream: String,
        stored: String,
        offered: String,
    },
    #[error("store data is corrupt: {0}")]
    Corrupt(String),
    #[error("store query failed: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// Opens the store named by `[store] url`.
pub fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    let path = url
        .strip_prefix("sqlite://")
        .ok_or_else(|| StoreError::Corrupt(format!("unsupported store url `{url}`")))?;
    Ok(Box::new(SqliteStore::open(path)?))
}

/// The store. Reads outside a transaction see the last committed state.
pub trait Store: Send {
    /// Starts the one transaction a page (or any other unit of change) is written in.
    fn begin(&mut self) -> Result<Box<dyn StoreTx + '_>, StoreError>;

    fn cursor(&mut self, connector: &str, stream: &str) -> Result<Option<Cursor>, StoreError>;
    /// Every reject of a stream, in row order.
    fn rejects(&mut self, connector: &str, stream: &str) -> Result<Vec<RecordReject>, StoreError>;
    fn person(&mut self, id: PersonId) -> Result<Option<Person>, StoreError>;
    /// Up to `limit` persons with ids above `after`, in id order; with `stale_for`, only those
    /// not qualified by that rules version.
    fn persons_after(
        &mut self,
        after: PersonId,
        limit: usize,
        stale_for: Option<&str>,
    ) -> Result<Vec<Person>, StoreError>;
    fn person_by_key(&mut self, kind: &str, value: &str) -> Result<Option<PersonId>, StoreError>;
    fn records_of(&mut self, person: PersonId) -> Result<Vec<StoredRecord>, StoreError>;
    /// When each of these records (by locator key) was last observed and whether it is archived,
    /// for those stored.
    fn observed_at(
        &mut self,
        connector: &str,
        locator_keys: &[String],
    ) -> Result<HashMap<String, (chrono::DateTime<chrono::Utc>, bool)>, StoreError>;
    /// Whether any record of `connector` is stored.
    fn holds_records(&mut self, connector: &str) -> Result<bool, StoreError>;
    fn tier_history(&mut self, person: PersonId) -> Result<Vec<TierChange>, StoreError>;
    fn conflicts_of(&mut self, person: PersonId) -> Result<Vec<Conflict>, StoreError>;
    fn tier_counts(&mut self) -> Result<TierCounts, StoreError>;
    /// Visits every person, in id order, with what the funnel reports need (streamed: memory
    /// does not grow with the number of persons).
    fn funnel_facts(&mut self, visit: &mut dyn FnMut(FunnelFact)) -> Result<(), StoreError>;
    fn person_count(&mut self) -> Result<u64, StoreError>;
    /// Every reject of a connector, newest stream first (for reports).
    fn reject_count(&mut self) -> Result<u64, StoreError>;
    fn events(&mut self, connector: &str, limit: u32) -> Result<Vec<StoreEvent>, StoreError>;

    /// Copies what the write-ahead log holds into the database file, without waiting for anyone:
    /// a rate-limited phase (the pushes) that starts with a short log is not held up by an
    /// automatic checkpoint of a long one half-way through.
    fn checkpoint(&mut self) -> Result<(), StoreError>;
    /// Up to `limit` pending pushes of a connector with an id above `after`, oldest first.
    fn pending_pushes(
        &mut self,
        connector: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Records what happened to pushes: `done`, `dead` (with the reason), or still `pending`
    /// after a failed attempt (with the reason).
    fn push_results(&mut self, results: &[(i64, &str, Option<String>)]) -> Result<(), StoreError>;
    fn outbox_of(&mut self, person: PersonId) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Entries per status for a connector.
    fn outbox_counts(&mut self, connector: &str) -> Result<BTreeMap<String, u64>, StoreError>;
    /// The newest dead-lettered pushes (any connector), newest first.
    fn dead_letters(&mut self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError>;
    /// The oldest `limit` entries of a connector with `status`, in id order.
    fn outbox_with_status(
        &mut self,
        connector: &str,
        status: &str,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// A connector's saved state value (`None` when never saved).
    fn connector_state(&mut self, connector: &str, key: &str)
    -> Result<Option<String>, StoreError>;
    /// Saves (or, with `None`, removes) a connector state value.
    fn set_connector_state(
        &mut self,
        connector: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError>;

    fn start_run(&mut self, connector: &str) -> Result<i64, StoreError>;
    fn finish_run(&mut self, run: i64, stats: &RunStats) -> Result<(), StoreError>;
    fn last_runs(&mut self, limit: u32) -> Result<Vec<RunSummary>, StoreError>;
}

/// One open transaction. Dropping it without [`StoreTx::commit`] rolls everything back.
pub trait StoreTx {
    fn cursor(&mut self, connector: &str, stream: &str) -> Result<Option<Cursor>, StoreError>;
    /// Stores a cursor, refusing one that moves backwards ([`Cursor::allows`]).
    fn put_cursor(&mut self, connector: &str, cursor: &Cursor) -> Result<(), StoreError>;

    /// The owners of those of `keys` that are held, in one pass.
    fn find_keys(&mut self, keys: &[Key]) -> Result<KeyMap<PersonId>, StoreError>;
    fn insert_keys(&mut self, keys: &[(Key, PersonId)]) -> Result<(), StoreError>;
    /// The ids of one CRM a person holds: the values of keys of `kind`, a CRM kind (`crm:…`;
    /// only those are indexed by person).
    fn crm_ids_of(&mut self, person: PersonId, kind: &str) -> Result<Vec<String>, StoreError>;

    /// Inserts or replaces source records (keyed by connector and locator), each linked to its
    /// person.
    fn upsert_records(
        &mut self,
        connector: &str,
        records: &[(&SourceRecord, PersonId)],
    ) -> Result<(), StoreError>;

    /// A fresh person id, never handed out before.
    fn next_person_id(&mut self) -> Result<PersonId, StoreError>;
    /// The persons among `ids` that exist.
    fn load_persons(&mut self, ids: &[PersonId]) -> Result<Vec<Person>, StoreError>;
    /// Inserts or replaces persons.
    fn save_persons(&mut self, persons: &[&Person]) -> Result<(), StoreError>;
    /// Records that these persons were qualified by `version` and nothing else changed.
    fn mark_qualified(&mut self, ids: &[PersonId], version: &str) -> Result<(), StoreError>;

    /// Appends tier changes to the history, in order.
    fn add_tier_changes(&mut self, changes: &[TierChange]) -> Result<(), StoreError>;
    /// The CRM records of `connector` linked to a person, with the stage each holds as far as
    /// leadsync knows: the tier a push applied since the record was last pulled, else the stage
    /// the record last reported.
    fn crm_records_of(
        &mut self,
        person: PersonId,
        connector: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError>;
    /// Asks for `tier` on a CRM record: a new pending entry, or the existing one made pending
    /// again when its tier differs or it was done (the caller saw the record below `tier`
    /// since) or kept. A pending or dead entry of the same tier stays as it is.
    fn plan_push(
        &mut self,
        connector: &str,
        record_id: &str,
        person: PersonId,
        tier: Tier,
    ) -> Result<(), StoreError>;
    /// The outbox entry of a CRM record, if any: its tier and status.
    fn push_entry(
        &mut self,
        connector: &str,
        record_id: &str,
    ) -> Result<Option<(Tier, String)>, StoreError>;
    /// Records that a person lowered a CRM record's stage below `tier` and that the connector
    /// respects it: an entry with status `kept` and the reason, never pushed.
    fn keep_downgrade(
        &mut self,
        connector: &str,
        record_id: &str,
        person: PersonId,
        tier: Tier,
        reason: &str,
    ) -> Result<(), StoreError>;
    /// Closes a `kept` finding of a record that holds its tier again.
    fn close_kept(&mut self, connector: &str, record_id: &str) -> Result<(), StoreError>;
    /// Records a conflict for review; the same conflict recorded twice is kept once.
    fn add_conflict(&mut self, conflict: &Conflict) -> Result<(), StoreError>;
    /// Stores a reject; the same row rejected twice is kept once.
    fn add_reject(
        &mut self,
        connector: &str,
        stream: &str,
        reject: &RecordReject,
    ) -> Result<(), StoreError>;
    fn add_event(&mut self, event: &StoreEvent) -> Result<(), StoreError>;

    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}
