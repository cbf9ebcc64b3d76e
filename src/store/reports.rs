//! What the funnel, cohort and status reports read.

use super::{FunnelFact, StoreError, TierCounts};

/// Read-only queries over every person; each sees one snapshot of the last committed state.
pub trait ReportStore {
    /// Persons per tier.
    fn tier_counts(&mut self) -> Result<TierCounts, StoreError>;
    /// Visits every person, in id order, with what the funnel reports need (streamed: memory
    /// does not grow with the number of persons). The visit runs while the snapshot is open: it
    /// should not call the store.
    fn funnel_facts(&mut self, visit: &mut dyn FnMut(FunnelFact)) -> Result<(), StoreError>;
    fn person_count(&mut self) -> Result<u64, StoreError>;
    /// Persons with a live (not archived) record of each of the two connectors: the people two
    /// CRMs hold in common.
    fn persons_in_both(&mut self, a: &str, b: &str) -> Result<u64, StoreError>;
    /// Every stored reject, of every connector.
    fn reject_count(&mut self) -> Result<u64, StoreError>;
    /// Every tier name the store holds — persons' tiers, their history, the outbox, what was
    /// pushed — with the number of persons at it now (0 for a name found only elsewhere), by
    /// name: what a ladder must still read.
    fn stored_tier_names(&mut self) -> Result<Vec<(String, u64)>, StoreError>;
    /// A mark that changes when persons, their tiers or the runs change: the newest person,
    /// tier move and run, and whether that run finished. Read through primary keys only, so it
    /// costs the same on any store: what a cache of the reports compares before it is reused.
    fn change_mark(&mut self) -> Result<String, StoreError>;
    /// A connector's streams (for a drop, one per file by content hash), most recently
    /// written first, with when each was last written and how many rows it rejected.
    fn streams(&mut self, connector: &str, limit: u32) -> Result<Vec<StreamSummary>, StoreError>;
}

/// One stream of a connector, as [`ReportStore::streams`] lists them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StreamSummary {
    pub cursor: leadsync_connector_core::Cursor,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub rejects: u64,
}

/// [`ReportStore::change_mark`] in SQL both backends run.
pub(in crate::store) const CHANGE_MARK: &str = "SELECT CAST(coalesce((SELECT max(id) FROM persons), 0) AS TEXT)
       || ':' || CAST(coalesce((SELECT max(id) FROM tier_history), 0) AS TEXT)
       || ':' || CAST(coalesce((SELECT max(id) FROM runs), 0) AS TEXT)
       || ':' || coalesce((SELECT CAST(finished_at AS TEXT) FROM runs ORDER BY id DESC LIMIT 1), '-')";

/// [`ReportStore::streams`] in SQL both backends run (`$1` connector, `$2` limit).
pub(in crate::store) const STREAMS: &str =
    "SELECT c.stream, c.version, c.pos_a, c.pos_b, c.finished, c.state, c.updated_at,
       (SELECT count(*) FROM rejects r WHERE r.connector = c.connector AND r.stream = c.stream)
     FROM cursors c WHERE c.connector = $1 ORDER BY c.updated_at DESC, c.stream LIMIT $2";

/// [`ReportStore::stored_tier_names`] in SQL both backends run.
pub(in crate::store) const STORED_TIER_NAMES: &str = "SELECT name, CAST(sum(n) AS BIGINT) FROM (
       SELECT tier AS name, count(*) AS n FROM persons WHERE tier IS NOT NULL GROUP BY tier
       UNION ALL SELECT DISTINCT to_tier, 0 FROM tier_history
       UNION ALL SELECT DISTINCT from_tier, 0 FROM tier_history WHERE from_tier IS NOT NULL
       UNION ALL SELECT DISTINCT tier, 0 FROM outbox
       UNION ALL SELECT DISTINCT pushed_tier, 0 FROM source_records WHERE pushed_tier IS NOT NULL
     ) names GROUP BY name ORDER BY name";
