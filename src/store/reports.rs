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
}
