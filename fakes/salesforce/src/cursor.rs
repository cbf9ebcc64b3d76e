//! A query's frozen results, kept in the account's state between the batches of its locator.

use serde_json::Value;

/// The rest of a query's results, frozen when the query ran (as Salesforce's cursors are).
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    pub(crate) version: String,
    /// `query` or `queryAll`: the resource its `nextRecordsUrl` names.
    pub(crate) resource: &'static str,
    pub(crate) rows: Vec<Value>,
    /// The client's `Sforce-Query-Options: batchSize` hint, clamped to 200..=2000.
    pub(crate) hint: Option<usize>,
    /// Index of the first row of the next batch; part of the locator, so a stale url fails.
    pub(crate) next: usize,
}
