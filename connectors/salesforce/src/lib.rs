//! The Salesforce connector, first piece: its configuration (`type = "salesforce"`), the mapping
//! between Lead `Status` values, opportunities and tiers, and the JSON shapes of the REST API
//! (query pages, updated/deleted feeds, OAuth token, errors, sObject collections,
//! `Sforce-Limit-Info`), and how failed answers map onto the shared pacing rules. The client, pull
//! and push build on these.
#![deny(unreachable_pub)]

pub mod config;
pub mod map;
pub mod retry;
pub mod wire;

pub use config::{ApiVersion, RateLimitConfig, SalesforceConfig, SecretSource};
pub use map::{OpportunityEvidence, StatusMap, contact_tier, stage_values};
