//! The HubSpot contacts connector: incremental pull by list then search on
//! `(lastmodifieddate, hs_object_id)`, and stage pushes in batches. Its tests run against the fake
//! HubSpot of `leadsync-fake-hubspot` (`fakes/hubspot`).
#![deny(unreachable_pub)]

mod budget;
mod client;
pub mod config;
mod error;
mod map;
mod properties;
mod pull;
mod push;
mod retry;
mod wire;

pub use config::{HubspotConfig, RateLimitConfig, TokenSource};

use leadsync_connector_core::{
    Connector, ConnectorError, ConnectorErrorKind, Health, PageSink, PullStats, PushItem,
    PushOutcome,
};

pub use leadsync_pacing::RateBudget;

pub struct HubspotConnector {
    id: String,
    /// Shared with the fetch task a backfill runs beside its commits.
    client: std::sync::Arc<client::Client>,
    cfg: HubspotConfig,
}

impl HubspotConnector {
    /// Loads the token and builds the client; nothing is sent yet.
    pub fn new(id: impl Into<String>, cfg: HubspotConfig) -> Result<Self, ConnectorError> {
        let id = id.into();
        let config_error = |m: String| {
            ConnectorError::new(ConnectorErrorKind::Config, format!("connector {id}: {m}"))
        };
        let token = cfg.token.load().map_err(config_error)?;
        let client = client::Client::new(&cfg, token).map_err(config_error)?;
        Ok(HubspotConnector {
            id,
            client: std::sync::Arc::new(client),
            cfg,
        })
    }

    /// The request budget as HubSpot last stated it, and the 429s received so far.
    pub fn rate_budget(&self) -> RateBudget {
        let budget = self.client.budget();
        let window = budget.window_remaining();
        RateBudget {
            window_remaining: window.map(|(left, _)| left),
            window_max: window.map(|(_, max)| max),
            daily_remaining: budget.daily_remaining(),
            stopped_until: budget.stopped_until(),
            rate_limited: self.client.rate_limited(),
        }
    }

    /// Until when requests are stopped at the daily reserve, to be kept across restarts.
    pub fn daily_stop(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.client.budget().stopped_until()
    }

    /// Restores a daily stop recorded before a restart.
    pub fn restore_daily_stop(&self, until: chrono::DateTime<chrono::Utc>) {
        self.client.budget().restore_stop(until);
    }

    /// Spaces every request by the account's slots shared with other processes (replicas),
    /// instead of this process's own limiters: `general` for the rolling window, `search` for
    /// the searches' per-second limit.
    pub fn share_pace(
        &self,
        general: std::sync::Arc<dyn leadsync_pacing::SharedPace>,
        search: std::sync::Arc<dyn leadsync_pacing::SharedPace>,
    ) {
        self.client.share_pace(general, search);
    }

    /// Whether `push = true`.
    pub fn pushes(&self) -> bool {
        self.cfg.push
    }
}

impl Connector for HubspotConnector {
    fn id(&self) -> &str {
        &self.id
    }

    /// One authenticated one-record read.
    async fn health(&self) -> Result<Health, ConnectorError> {
        self.client.check().await.map_err(|e| {
            let kind = if e.is_auth() {
                ConnectorErrorKind::Config
            } else {
                ConnectorErrorKind::Transient
            };
            ConnectorError::with_source(kind, format!("connector {}: {e}", self.id), e)
        })?;
        Ok(Health {
            detail: format!("{} reachable, token accepted", self.cfg.base_url),
        })
    }

    async fn pull(&mut self, sink: &mut dyn PageSink) -> Result<PullStats, ConnectorError> {
        pull::Puller::new(&self.cfg, &self.client, sink).run().await
    }

    /// Sets the desired lifecycle stages, 100 contacts a request; one outcome per item.
    async fn push(&self, items: &[PushItem]) -> Result<Vec<PushOutcome>, ConnectorError> {
        Ok(push::push(&self.client, &self.cfg, items).await)
    }
}
