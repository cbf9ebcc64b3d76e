//! A stateful fake of Salesforce's REST API, served over HTTP on loopback.
//!
//! It reproduces what the Salesforce connector depends on (`reference/salesforce-pipedrive.md`,
//! section 2): the OAuth 2.0 client-credentials token endpoint, bearer tokens that expire, a SOQL
//! subset on `Lead`, `Contact`, `Opportunity` and `LeadStatus` with `nextRecordsUrl` paging in
//! batch sizes the fake chooses (`query`, and `queryAll` with deleted rows), the `updated` and
//! `deleted` replication feeds, sObject Collections updates with per-record errors, and the
//! rolling 24-hour API allocation reported in `Sforce-Limit-Info` and enforced with a 403
//! `REQUEST_LIMIT_EXCEEDED`. Deletions, merges and lead conversions are made through the
//! [`FakeSalesforce`] handle, as users make them in Salesforce.
//!
//! All state sits in one [`Mutex`](std::sync::Mutex) that is never held across an `.await`, so
//! tests can seed and inspect it while a client is talking to the server.

#![deny(unreachable_pub)]

mod account;
mod auth;
mod cli;
mod collections;
mod config;
mod cursor;
mod edits;
mod errors;
mod faults;
mod feeds;
mod gate;
mod query;
mod routes;
pub mod seed;
mod soql;
mod store;
mod usage;

pub use account::FakeSalesforce;
pub use cli::main_cli;
pub use config::FakeConfig;
pub use faults::Fault;
pub use leadsync_fake_support::server::ServerHandle;
pub use store::{Record, SObject, format_datetime};
