//! The request plumbing every CRM connector shares, apart from any one CRM's API:
//!
//! - [`attempts`]: the loop around one request: retry, wait or give up as [`retry`] decides;
//! - [`retry`]: what to do after a failed attempt (429/408/5xx/423 retry, honouring
//!   `Retry-After`; other 4xx never) and exponential backoff with full jitter under a cap;
//! - [`permits`]: a rate-limit permit before every attempt, retries included, spaced to stay
//!   under a rolling window, reshaped when the CRM states its real limit;
//! - [`ledger`]: the daily budget: stop at the reserve until the reset, in the account's zone.
//!
//! A connector keeps what is its CRM's own (header names, error bodies, policy names) and maps it
//! onto these.
#![deny(unreachable_pub)]

pub mod attempts;
pub mod ledger;
pub mod permits;
pub mod retry;

/// A CRM connector's request budget, as the account's last answer stated it (`/api/v1/status`
/// shows it per connector). Fields a CRM does not report stay `None`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RateBudget {
    /// Requests left in the current rolling window (HubSpot's `X-HubSpot-RateLimit-Remaining`).
    pub window_remaining: Option<u64>,
    /// Requests allowed per window.
    pub window_max: Option<u64>,
    /// Requests left today, or in the rolling 24 hours (Salesforce's `Sforce-Limit-Info`).
    pub daily_remaining: Option<u64>,
    /// Requests are stopped at the daily reserve until then.
    pub stopped_until: Option<chrono::DateTime<chrono::Utc>>,
    /// Rate-limit answers (429, or Salesforce's 403 `REQUEST_LIMIT_EXCEEDED`) since start-up.
    pub rate_limited: u64,
}

pub use attempts::{Attempts, GaveUp};
pub use ledger::{DailyLedger, DailyStop};
pub use permits::{Permits, SharedPace};
pub use retry::{Retry, Waits, backoff, classify};
