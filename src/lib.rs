//! leadsync: pulls contacts from CRMs and spreadsheet drops, reconciles them into one canonical
//! record per person, qualifies each person into funnel tiers and pushes the stages back.
#![deny(unreachable_pub)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod explain;
pub mod ingest;
pub mod model;
pub mod plan;
pub mod push;
pub mod report;
pub mod resolve;
pub mod rules;
pub mod sample;
pub mod store;
pub mod sync;

pub use leadsync_connector_core as connector;
