//! A stateful fake of Salesforce's REST API, served over HTTP on loopback.
//!
//! It reproduces what the Salesforce connector depends on (`reference/salesforce-pipedrive.md`,
//! section 2): the OAuth 2.0 client-credentials token endpoint, bearer tokens that expire, a SOQL
//! subset on `Lead` and `Contact` with `nextRecordsUrl` paging in batch sizes the fake chooses,
//! and the daily API allocation reported in `Sforce-Limit-Info` and enforced with a 403
//! `REQUEST_LIMIT_EXCEEDED`.
//!
//! All state sits in one [`Mutex`](std::sync::Mutex) that is never held across an `.await`, so
//! tests can seed and inspect it while a client is talking to the server.

#![deny(unreachable_pub)]

mod account;
mod auth;
mod config;
mod cursor;
mod errors;
mod faults;
mod gate;
mod query;
mod routes;
mod server;
mod soql;
mod store;

pub use account::FakeSalesforce;
pub use config::FakeConfig;
pub use faults::Fault;
pub use server::ServerHandle;
pub use store::{Record, SObject, format_datetime};
