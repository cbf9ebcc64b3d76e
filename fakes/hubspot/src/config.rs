//! How the fake behaves.

use std::time::Duration;

/// How the fake behaves; the defaults match a Free/Starter HubSpot account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeConfig {
    /// Bearer token every request must carry (401 otherwise).
    pub token: String,
    /// Length of the rolling window for non-search calls.
    pub window: Duration,
    /// Non-search requests accepted per `window` (0 = unlimited).
    pub requests_per_window: u32,
    /// Requests accepted per UTC day, searches included (0 = unlimited).
    pub daily_limit: u64,
    /// Searches accepted per second (0 = unlimited).
    pub search_per_second: u32,
    /// A contact written through the API or `insert`/`update` shows up in search only this long
    /// after the write, like HubSpot's search index.
    pub search_lag: Duration,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            token: "fake-token".to_owned(),
            window: Duration::from_secs(10),
            requests_per_window: 100,
            daily_limit: 250_000,
            search_per_second: 5,
            search_lag: Duration::ZERO,
        }
    }
}
