//! How the fake behaves.

use std::time::Duration;

/// How the fake behaves; the defaults match a small Enterprise org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeConfig {
    /// The connected app's consumer key (`client_id` of the token request).
    pub client_id: String,
    /// The connected app's consumer secret; any other secret gets 400 `invalid_client`.
    pub client_secret: String,
    /// API requests accepted within `usage_window` before 403 `REQUEST_LIMIT_EXCEEDED` (the
    /// org's daily allocation).
    pub daily_limit: u64,
    /// How long a request counts against the allocation: Salesforce's rolling 24 hours. Tests
    /// shorten it to watch usage fall.
    pub usage_window: Duration,
    /// Records per query batch, used in turn for each batch served (the first query batch takes
    /// the first size, the next batch the second, and so on, wrapping around). Salesforce treats
    /// `batchSize` as a hint and chooses itself, so clients must follow `nextRecordsUrl` whatever
    /// the size. A client's `Sforce-Query-Options: batchSize` hint (clamped to 200..=2000) caps
    /// the size for the batches of its query. An empty list or a zero means 2,000, Salesforce's largest batch.
    pub batch_sizes: Vec<usize>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            client_id: "fake-client-id".to_owned(),
            client_secret: "fake-client-secret".to_owned(),
            daily_limit: 100_000,
            usage_window: Duration::from_secs(24 * 60 * 60),
            batch_sizes: vec![2000],
        }
    }
}
