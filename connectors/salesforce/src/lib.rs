//! The Salesforce connector: Leads and Contacts pulled by SOQL on `(SystemModstamp, Id)`, with
//! their opportunities, deletes and merges; desired tiers pushed back as Lead `Status` (and a
//! Contact stage field) in sObject collections of up to 200 records. Its tests run against the
//! fake Salesforce of `leadsync-fake-salesforce` (`fakes/salesforce`).
//!
//! - [`config`]: `[connectors.ID]` with `type = "salesforce"`;
//! - `auth`: the OAuth 2.0 client-credentials token, kept in memory and refreshed on a 401;
//! - `client`: authenticated requests under the org's allocation, retried as [`retry`] decides;
//! - `pull` and `push`; [`map`] between statuses, opportunities and tiers; [`wire`]: the JSON.
#![deny(unreachable_pub)]

mod auth;
mod budget;
mod client;
pub mod config;
mod error;
pub mod map;
mod pull;
mod push;
pub mod retry;
pub mod wire;

pub use config::{ApiVersion, RateLimitConfig, SalesforceConfig, SecretSource};
pub use leadsync_pacing::RateBudget;
pub use map::{OpportunityEvidence, StatusMap, contact_tier, stage_values};

use leadsync_connector_core::{
    Connector, ConnectorError, ConnectorErrorKind, Health, PageSink, PullStats, PushItem,
    PushOutcome,
};
use std::sync::Arc;

/// The custom field a Salesforce record carries the ids of other records of the same person in
/// (`;`-separated): a merged lead's or contact's losers, a converted lead's contact.
pub const LINKED_IDS: &str = "sf_linked_ids";

pub struct SalesforceConnector {
    id: String,
    client: Arc<client::Client>,
    cfg: SalesforceConfig,
    /// The org's statuses as the last pull read them (a push before any pull reads them).
    statuses: std::sync::Mutex<Option<Arc<StatusMap>>>,
    /// Held while a push reads the statuses, so pushes in flight together read them once.
    reading_statuses: tokio::sync::Mutex<()>,
}

impl SalesforceConnector {
    /// Reads both credentials and builds the client; nothing is sent yet (the token is fetched by
    /// the first request).
    pub fn new(id: impl Into<String>, cfg: SalesforceConfig) -> Result<Self, ConnectorError> {
        let id = id.into();
        let config_error = |m: String| {
            ConnectorError::new(ConnectorErrorKind::Config, format!("connector {id}: {m}"))
        };
        cfg.check().map_err(config_error)?;
        let credentials = auth::Credentials {
            client_id: cfg.client_id.load("client_id").map_err(config_error)?,
            client_secret: cfg
                .client_secret
                .load("client_secret")
                .map_err(config_error)?,
        };
        let client = client::Client::new(&cfg, credentials).map_err(config_error)?;
        Ok(SalesforceConnector {
            id,
            client: Arc::new(client),
            cfg,
            statuses: std::sync::Mutex::new(None),
            reading_statuses: tokio::sync::Mutex::new(()),
        })
    }

    /// The org's allocation as its last answer stated it (`daily_remaining` is what is left of
    /// the rolling 24 hours), the stop at the reserve, and the rate-limit answers so far.
    pub fn rate_budget(&self) -> RateBudget {
        let budget = self.client.budget();
        RateBudget {
            window_remaining: None,
            window_max: None,
            daily_remaining: budget.usage().map(wire::ApiUsage::left),
            stopped_until: budget.stopped_until(),
            rate_limited: self.client.rate_limited(),
        }
    }

    /// Until when requests are stopped at the reserve, to be kept across restarts.
    pub fn daily_stop(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.client.budget().stopped_until()
    }

    /// Restores a stop recorded before a restart (ignored once passed).
    pub fn restore_daily_stop(&self, until: chrono::DateTime<chrono::Utc>) {
        self.client.budget().restore_stop(until);
    }

    /// Whether `push = true`.
    pub fn pushes(&self) -> bool {
        self.cfg.push
    }

    pub fn config(&self) -> &SalesforceConfig {
        &self.cfg
    }

    /// The org's statuses as the last pull read them, or read now (once for all pushes in
    /// flight) when no pull has run yet.
    async fn statuses(&self) -> Result<Arc<StatusMap>, ConnectorError> {
        let known = || {
            self.statuses
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        };
        if let Some(map) = known() {
            return Ok(map);
        }
        let _reading = self.reading_statuses.lock().await;
        if let Some(map) = known() {
            return Ok(map);
        }
        let org = self
            .client
            .lead_statuses()
            .await
            .map_err(|e| e.into_connector(&self.id))?;
        let map = Arc::new(StatusMap::new(&self.cfg.lead_status, &org));
        *self
            .statuses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&map));
        Ok(map)
    }
}

impl Connector for SalesforceConnector {
    fn id(&self) -> &str {
        &self.id
    }

    /// Gets a token with the configured credentials and reads one lead: a bad secret is a
    /// configuration error, an unreachable org a transient one.
    async fn health(&self) -> Result<Health, ConnectorError> {
        self.client
            .check()
            .await
            .map_err(|e| e.into_connector(&self.id))?;
        Ok(Health {
            detail: format!(
                "{} reachable, client credentials accepted",
                self.cfg.instance_url.as_str().trim_end_matches('/')
            ),
        })
    }

    async fn pull(&mut self, sink: &mut dyn PageSink) -> Result<PullStats, ConnectorError> {
        pull::Puller::new(&self.id, &self.cfg, &self.client, sink, &self.statuses)
            .run()
            .await
    }

    /// Sets the statuses (and contact stages) of the desired tiers, 200 records a request; one
    /// outcome per item.
    async fn push(&self, items: &[PushItem]) -> Result<Vec<PushOutcome>, ConnectorError> {
        let statuses = self.statuses().await?;
        Ok(push::push(&self.client, &self.cfg, &statuses, items).await)
    }
}
