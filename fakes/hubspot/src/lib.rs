//! A stateful fake of HubSpot's v3 contacts API, served over HTTP on loopback.
//!
//! It exists so the connector's pull and push code can be tested against the behaviours that break
//! real integrations (see `reference/hubspot.md`): the rolling ten-second and daily limits with
//! their headers, search's own per-second limit and 10,000-result cap, blocks of contacts sharing
//! one `lastmodifieddate`, search lag, archived contacts missing from search, merges that change
//! ids, forward-only lifecycle stages, 207 partial failures, and scripted transport faults.
//!
//! All state sits in one [`Mutex`](std::sync::Mutex) that is never held across an `.await`, so
//! tests can seed and inspect it while a client is talking to the server.

#![deny(unreachable_pub)]

mod account;
mod batch;
mod cli;
mod config;
mod errors;
mod faults;
mod filters;
mod gate;
mod lifecycle;
mod limits;
mod render;
mod routes;
mod search;
mod seed;
mod store;

pub use account::FakeHubSpot;
pub use cli::main_cli;
pub use config::FakeConfig;
pub use faults::Fault;
pub use gate::Stats;
pub use leadsync_fake_support::server::ServerHandle;
pub use store::Contact;
