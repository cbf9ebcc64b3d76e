//! Runs (one connector's turn in a cycle) and events worth telling an operator.

use super::{RunStats, RunSummary, StoreError, StoreEvent};

/// Runs, outside any page's transaction: each write commits at once, on its own, so a run that
/// fails part-way is still recorded as started.
pub trait RunStore {
    /// Records a run's start; returns its id (ids grow).
    fn start_run(&mut self, connector: &str) -> Result<i64, StoreError>;
    /// Records a run's end and what it did.
    fn finish_run(&mut self, run: i64, stats: &RunStats) -> Result<(), StoreError>;
    /// The newest runs, newest first (read-only).
    fn last_runs(&mut self, limit: u32) -> Result<Vec<RunSummary>, StoreError>;
    /// A connector's newest events, newest first (read-only).
    fn events(&mut self, connector: &str, limit: u32) -> Result<Vec<StoreEvent>, StoreError>;
}

/// Events, inside a [`StoreTx`](super::StoreTx): written with the page or file they describe.
pub trait RunTx {
    fn add_event(&mut self, event: &StoreEvent) -> Result<(), StoreError>;
}
