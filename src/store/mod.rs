//! Durable state: source records, persons, identity keys, cursors, rejects, conflicts, tier
//! history, the outbox and runs, behind traits split by role so SQLite (embedded, the default)
//! and PostgreSQL (scale-out) can both hold it. A backend is a folder beside `sqlite/`.
//!
//! Everything a page changes goes through one [`StoreTx`], committed once: the records, the
//! persons they touch, the keys, the rejects, the tier changes, the outbox entries they plan
//! and the cursor that covers them. A crash before `commit` loses the page and its cursor
//! together, so it is simply read again.
//!
//! The transaction contract, for every backend:
//! - Methods of [`StoreTx`] (and its parts [`PersonTx`], [`RecordTx`], [`OutboxTx`],
//!   [`RunTx`]) run inside the one transaction [`Store::begin`] opened. They see its own
//!   writes; nobody else sees them before [`StoreTx::commit`]. Dropping the transaction rolls
//!   everything back, also after a method failed half-way (a failed call may have written part
//!   of its rows: the transaction must then be dropped, never committed). A backend may send
//!   a write of records, persons or tier history without waiting for its answer (PostgreSQL
//!   does, so that the server writes while the page goes on): its failure then comes back from
//!   a later call or from `commit`, which then commits nothing.
//! - One write transaction at a time per store: `begin` waits (a bounded time, then
//!   [`StoreError::Busy`]) while another connection or process writes.
//! - Reading methods of [`Store`] run outside any transaction, are read-only and each sees a
//!   snapshot of the last committed state. They must not be called while a [`StoreTx`] of the
//!   same store is open (it borrows the store).
//! - The few writing methods of [`Store`] (`push_results`, `set_connector_state`, `start_run`,
//!   `finish_run`, and those of [`ClusterStore`]) each commit at once, on their own.
//! - Where fences are set ([`ClusterStore::set_fences`]), every commit, outbox outcome and
//!   connector state first checks them, and fails with [`StoreError::Fenced`], writing nothing,
//!   when a lease was lost (see [`cluster`]).

pub mod cluster;
mod codec;
pub(crate) mod copy;
mod error;
mod keyfilter;
pub mod matching;
pub(crate) mod notify;
mod outbox;
mod persons;
mod postgres;
mod records;
mod reports;
mod runs;
mod sqlite;
#[cfg(test)]
mod suite;
mod types;

pub use cluster::{Claim, ClusterStore, Fence, Lease, Replica};
pub use error::{BackendError, Policy, StoreError, StoreErrorKind};
pub use matching::{MatchStore, MatchTx, Merge, ReviewDraft, ReviewItem, ReviewStatus};
pub use notify::{Breach, NotifyStore};
pub use outbox::{OutboxStore, OutboxTx};
pub use persons::{PersonStore, PersonTx};
pub use postgres::PgStore;
pub use records::{CrmRecordsByPerson, RecordStore, RecordTx};
pub use reports::{ReportStore, StreamSummary};
pub use runs::{RunStore, RunTx};
pub use sqlite::SqliteStore;
pub use types::{
    Conflict, FunnelFact, OutboxEntry, RunStats, RunSummary, StoreEvent, StoredRecord, TierChange,
    TierCounts,
};

/// Every store trait, for code that calls them on a concrete store (`SqliteStore`) rather than
/// through `dyn Store`: `use leadsync::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        ClusterStore, MatchStore, MatchTx, NotifyStore, OutboxStore, OutboxTx, PersonStore,
        PersonTx, RecordStore, RecordTx, ReportStore, RunStore, RunTx, Store, StoreTx,
    };
}

/// Opens the store named by `[store] url`: `sqlite://PATH`, or `postgres://…` with `password`
/// (`store.password` as read; else `PGPASSWORD`).
pub fn open(
    url: &str,
    password: Option<secrecy::SecretString>,
) -> Result<Box<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        return Ok(Box::new(SqliteStore::open(path)?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Box::new(PgStore::open(url, password)?));
    }
    Err(StoreError::Corrupt(format!(
        "unsupported store url `{url}`"
    )))
}

/// The store: every role's reads and out-of-transaction writes, and the transaction that
/// changes go through.
pub trait Store:
    PersonStore
    + RecordStore
    + OutboxStore
    + RunStore
    + ReportStore
    + ClusterStore
    + MatchStore
    + NotifyStore
    + Send
{
    /// Starts the one transaction a page (or any other unit of change) is written in. Takes
    /// the store's write lock now (waiting for another writer a bounded time), so a page never
    /// fails half-way for want of it.
    fn begin(&mut self) -> Result<Box<dyn StoreTx + '_>, StoreError>;

    /// Makes what was committed durable in the backend's main files without waiting for
    /// anyone (SQLite: copies the write-ahead log into the database file): a rate-limited
    /// phase (the pushes) that starts with a short log is not held up by an automatic
    /// checkpoint of a long one half-way through. Writes nothing a reader could see.
    fn checkpoint(&mut self) -> Result<(), StoreError>;

    /// The schema version: how many of the backend's migrations the store has.
    fn schema_version(&mut self) -> Result<i64, StoreError>;
}

/// One open transaction. Dropping it without [`StoreTx::commit`] rolls everything back.
pub trait StoreTx: PersonTx + RecordTx + OutboxTx + RunTx + MatchTx {
    /// Makes every write of the transaction visible at once, durably enough to survive the
    /// process being killed.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}
