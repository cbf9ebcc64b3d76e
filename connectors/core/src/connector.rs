use crate::{Cursor, Page, RecordReject, Tier};
use std::error::Error as StdError;
use std::future::Future;

/// The core's side of a pull: the connector asks for its stored cursors and hands over pages.
///
/// [`PageSink::commit`] stores the records, the rejects and the cursor of one page in ONE
/// transaction and returns only once they are durable. A connector must therefore checkpoint only
/// through this sink: whatever it did not commit will be read again next time.
pub trait PageSink {
    /// The last committed cursor of a stream, if any.
    fn cursor(&mut self, stream: &str) -> Result<Option<Cursor>, ConnectorError>;
    /// Stores a page and its cursor atomically. Fails, storing nothing, when the cursor would move
    /// backwards.
    fn commit(&mut self, page: Page) -> Result<(), ConnectorError>;
    /// For each record, whether it is stored already exactly as offered (same record, same
    /// observation time). A connector re-reading an overlap window skips those, so a cycle with
    /// no changes writes nothing.
    fn unchanged(&mut self, records: &[crate::SourceRecord]) -> Result<Vec<bool>, ConnectorError> {
        Ok(vec![false; records.len()])
    }
    /// Whether any record of this connector is stored. A connector starting its first read with
    /// nothing stored may skip [`PageSink::unchanged`] for records it has not offered before.
    fn holds_records(&mut self) -> Result<bool, ConnectorError> {
        Ok(true)
    }
    /// Every reject stored for a stream, in row order.
    fn rejects(&mut self, stream: &str) -> Result<Vec<RecordReject>, ConnectorError>;
    /// Records something an operator should know that is not a record (a duplicate drop, a file
    /// that could not be read).
    fn note(&mut self, stream: &str, kind: &str, detail: &str) -> Result<(), ConnectorError>;
    /// Reports progress through the current stream: `done` of `total` (0 when unknown) of what
    /// `label` names, e.g. `("contacts", 12_400, 0)` or `("rows of leads.csv", 5_000, 0)`.
    fn progress(&mut self, _label: &str, _done: u64, _total: u64) {}
    /// `false` once the host is stopping: a connector then returns after the page it has just
    /// committed, its cursor holding its place for the next pull. Asked between pages.
    fn keep_going(&self) -> bool {
        true
    }
}

/// A desired stage change for one record of a CRM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushItem {
    /// The outbox entry this item comes from; outcomes refer back to it.
    pub outbox_id: i64,
    /// The CRM's record id.
    pub record_id: String,
    pub tier: Tier,
}

/// What happened to one [`PushItem`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    Applied {
        outbox_id: i64,
    },
    /// Worth another attempt later (rate limit, 5xx, lost connection).
    Retry {
        outbox_id: i64,
        reason: String,
    },
    /// Will never succeed as it is (unknown id, invalid value): dead-letter it with the reason.
    Failed {
        outbox_id: i64,
        reason: String,
    },
}

impl PushOutcome {
    /// The outcome of an item whose request failed as a whole, after the client's own retries:
    /// dead-lettered when the failure is permanent, else left for the next drain.
    pub fn unsent(outbox_id: i64, reason: String, permanent: bool) -> PushOutcome {
        if permanent {
            PushOutcome::Failed { outbox_id, reason }
        } else {
            PushOutcome::Retry { outbox_id, reason }
        }
    }
}

/// The result of a connector's health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub detail: String,
}

/// A source or destination of contacts.
///
/// The contract every implementation keeps:
/// - **At least once.** A page may be delivered again after a crash (the cursor had not been
///   committed); the core de-duplicates by [`crate::Locator::key`], so a connector need not.
/// - **Cursors never move backwards** and cover only what was committed with them: a connector
///   reads its cursor from the sink on every pull and never keeps progress elsewhere.
/// - **Pushes are idempotent.** Setting a stage that is already set must be harmless, because a
///   push whose answer was lost is sent again.
/// - **Outcomes per item.** A push reports one [`PushOutcome`] per item, so one bad record never
///   fails its batch.
#[allow(async_fn_in_trait)]
pub trait Connector {
    /// The connector's id as configured (`[connectors.ID]`).
    fn id(&self) -> &str;

    /// Checks that the source is reachable and usable without changing anything.
    fn health(&self) -> impl Future<Output = Result<Health, ConnectorError>>;

    /// Reads everything new since the committed cursors, committing page by page into `sink`.
    fn pull(
        &mut self,
        sink: &mut dyn PageSink,
    ) -> impl Future<Output = Result<PullStats, ConnectorError>>;

    /// Applies desired stages; one outcome per item, in any order. Several calls may be in
    /// flight at once (a drain keeps the request budget busy while answers travel).
    fn push(
        &self,
        items: &[PushItem],
    ) -> impl Future<Output = Result<Vec<PushOutcome>, ConnectorError>>;
}

/// Counts from one pull.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullStats {
    pub records: u64,
    pub rejects: u64,
    /// Streams (files) finished in this pull.
    pub streams_finished: u64,
    /// Streams skipped because their content had been ingested before.
    pub duplicates: u64,
    /// Streams that could not be read at all.
    pub failed: u64,
    /// Streams left where they are because they cannot be taken (a symlink, a file leadsync may
    /// not read or move); the operator must act on them.
    pub skipped: u64,
    /// Streams not ready yet (a file still being written): the host should pull again after
    /// this long, as nothing else may tell it when they are ready.
    pub recheck_after: Option<std::time::Duration>,
}

/// What kind of failure a [`ConnectorError`] is: decides retrying and the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorErrorKind {
    /// The configuration cannot work (missing folder, bad token file): the operator must act.
    Config,
    /// Worth retrying later (network, 5xx, rate limits, locked files).
    Transient,
    /// The source or store refused the data; retrying the same will fail the same way.
    Permanent,
    /// Another run of the same connector on the same store (a second `sync --once`, a daemon)
    /// holds it or moved it on meanwhile: this run stopped before writing behind it. Nothing is
    /// lost, and it is no failure: the other run carries on.
    Superseded,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConnectorError {
    pub kind: ConnectorErrorKind,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn StdError + Send + Sync>>,
    /// What the pull had done and committed before it failed, so its counts are not lost.
    pub partial: Option<PullStats>,
}

impl ConnectorError {
    pub fn new(kind: ConnectorErrorKind, message: impl Into<String>) -> Self {
        ConnectorError {
            kind,
            message: message.into(),
            source: None,
            partial: None,
        }
    }

    pub fn with_source(
        kind: ConnectorErrorKind,
        message: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        ConnectorError {
            kind,
            message: message.into(),
            source: Some(Box::new(source)),
            partial: None,
        }
    }

    /// The same error, carrying the counts of what the pull did before it.
    pub fn with_partial(mut self, stats: PullStats) -> Self {
        self.partial = Some(stats);
        self
    }
}
