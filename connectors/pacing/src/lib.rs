//! The request plumbing every CRM connector shares, apart from any one CRM's API:
//!
//! - [`retry`]: what to do after a failed attempt (429/408/5xx/423 retry, honouring
//!   `Retry-After`; other 4xx never) and exponential backoff with full jitter under a cap;
//! - [`permits`]: a rate-limit permit before every attempt, retries included, spaced to stay
//!   under a rolling window, reshaped when the CRM states its real limit;
//! - [`ledger`]: the daily budget: stop at the reserve until the reset, in the account's zone.
//!
//! A connector keeps what is its CRM's own (header names, error bodies, policy names) and maps it
//! onto these.
#![deny(unreachable_pub)]

pub mod ledger;
pub mod permits;
pub mod retry;

pub use ledger::{DailyLedger, DailyStop};
pub use permits::Permits;
pub use retry::{Retry, Waits, backoff, classify};
