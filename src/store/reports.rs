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
}

/// [`ReportStore::stored_tier_names`] in SQL both backends run.
pub(in crate::store) const STORED_TIER_NAMES: &str = "SELECT name, CAST(sum(n) AS BIGINT) FROM (
       SELECT tier AS name, count(*) AS n FROM persons WHERE tier IS NOT NULL GROUP BY tier
       UNION ALL SELECT DISTINCT to_tier, 0 FROM tier_history
       UNION ALL SELECT DISTINCT from_tier, 0 FROM tier_history WHERE from_tier IS NOT NULL
       UNION ALL SELECT DISTINCT tier, 0 FROM outbox
       UNION ALL SELECT DISTINCT pushed_tier, 0 FROM source_records WHERE pushed_tier IS NOT NULL
     ) names GROUP BY name ORDER BY name";
