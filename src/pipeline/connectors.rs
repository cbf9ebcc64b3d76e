//! The connectors of a config, dispatched: which exist, which pull, which take stage pushes.

use crate::config::{ConnectorConfig, Settings};
use leadsync_connector_core::{
    Connector, ConnectorError, Field, PageSink, PullStats, PushItem, PushOutcome,
};
use leadsync_hubspot::HubspotConnector;
use leadsync_salesforce::SalesforceConnector;
use leadsync_spreadsheet::SpreadsheetConnector;
use std::collections::HashMap;

/// The configured connectors; a closed set, matched exhaustively.
pub enum AnyConnector {
    Spreadsheet(Box<SpreadsheetConnector>),
    Hubspot(Box<HubspotConnector>),
    Salesforce(Box<SalesforceConnector>),
}

impl AnyConnector {
    /// Builds a connector from its config; a CRM secret that cannot be read is an error here.
    pub fn build(id: &str, cfg: &ConnectorConfig) -> Result<Self, ConnectorError> {
        Ok(match cfg {
            ConnectorConfig::Spreadsheet(c) => {
                AnyConnector::Spreadsheet(Box::new(SpreadsheetConnector::new(id, c.clone())))
            }
            ConnectorConfig::Hubspot(c) => {
                AnyConnector::Hubspot(Box::new(HubspotConnector::new(id, c.clone())?))
            }
            ConnectorConfig::Salesforce(c) => {
                AnyConnector::Salesforce(Box::new(SalesforceConnector::new(id, c.clone())?))
            }
        })
    }

    pub fn id(&self) -> &str {
        match self {
            AnyConnector::Spreadsheet(c) => c.id(),
            AnyConnector::Hubspot(c) => c.id(),
            AnyConnector::Salesforce(c) => c.id(),
        }
    }

    pub async fn health(&self) -> Result<leadsync_connector_core::Health, ConnectorError> {
        match self {
            AnyConnector::Spreadsheet(c) => c.health().await,
            AnyConnector::Hubspot(c) => c.health().await,
            AnyConnector::Salesforce(c) => c.health().await,
        }
    }

    /// Whether this connector pushes stages back.
    pub fn pushes(&self) -> bool {
        match self {
            AnyConnector::Spreadsheet(_) => false,
            AnyConnector::Hubspot(c) => c.pushes(),
            AnyConnector::Salesforce(c) => c.pushes(),
        }
    }

    pub async fn push(&self, items: &[PushItem]) -> Result<Vec<PushOutcome>, ConnectorError> {
        match self {
            AnyConnector::Spreadsheet(c) => c.push(items).await,
            AnyConnector::Hubspot(c) => c.push(items).await,
            AnyConnector::Salesforce(c) => c.push(items).await,
        }
    }

    /// A CRM connector's request budget; `None` for connectors without one.
    pub fn rate_budget(&self) -> Option<leadsync_pacing::RateBudget> {
        match self {
            AnyConnector::Spreadsheet(_) => None,
            AnyConnector::Hubspot(c) => Some(c.rate_budget()),
            AnyConnector::Salesforce(c) => Some(c.rate_budget()),
        }
    }

    /// What a spreadsheet inbox held at its last pull; `None` for other connectors.
    pub fn inbox_status(&self) -> Option<leadsync_spreadsheet::InboxStatus> {
        match self {
            AnyConnector::Spreadsheet(c) => Some(c.inbox_status().clone()),
            AnyConnector::Hubspot(_) | AnyConnector::Salesforce(_) => None,
        }
    }

    /// `spreadsheet`, `hubspot` or `salesforce`, as in the config's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            AnyConnector::Spreadsheet(_) => "spreadsheet",
            AnyConnector::Hubspot(_) => "hubspot",
            AnyConnector::Salesforce(_) => "salesforce",
        }
    }

    /// Whether this is a CRM connector (with record ids, a request budget and pushes).
    pub fn is_crm(&self) -> bool {
        !matches!(self, AnyConnector::Spreadsheet(_))
    }

    /// Items per push call: the CRM's batch limit (HubSpot's batch update takes 100, a
    /// Salesforce collection 200).
    pub fn push_batch(&self) -> usize {
        match self {
            AnyConnector::Salesforce(_) => leadsync_salesforce::wire::MAX_COLLECTION,
            AnyConnector::Spreadsheet(_) | AnyConnector::Hubspot(_) => 100,
        }
    }

    /// Until when a CRM connector's requests are stopped at its daily reserve.
    pub fn daily_stop(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            AnyConnector::Spreadsheet(_) => None,
            AnyConnector::Hubspot(c) => c.daily_stop(),
            AnyConnector::Salesforce(c) => c.daily_stop(),
        }
    }

    /// Restores a daily stop recorded before a restart.
    pub fn restore_daily_stop(&self, until: chrono::DateTime<chrono::Utc>) {
        match self {
            AnyConnector::Spreadsheet(_) => {}
            AnyConnector::Hubspot(c) => c.restore_daily_stop(until),
            AnyConnector::Salesforce(c) => c.restore_daily_stop(until),
        }
    }

    /// Spaces the connector's requests by its account's slots shared with other replicas,
    /// `pace(name)` giving the slots of one limit (the connector's id, `ID:search`). Only HubSpot
    /// has short windows to share; Salesforce counts a daily allocation, shared through the
    /// daily stop.
    pub fn share_pace(
        &self,
        pace: impl Fn(&str) -> std::sync::Arc<dyn leadsync_pacing::SharedPace>,
    ) {
        match self {
            AnyConnector::Hubspot(c) => {
                c.share_pace(pace(self.id()), pace(&format!("{}:search", self.id())))
            }
            AnyConnector::Spreadsheet(_) | AnyConnector::Salesforce(_) => {}
        }
    }

    pub async fn pull(&mut self, sink: &mut dyn PageSink) -> Result<PullStats, ConnectorError> {
        match self {
            AnyConnector::Spreadsheet(c) => c.pull(sink).await,
            AnyConnector::Hubspot(c) => c.pull(sink).await,
            AnyConnector::Salesforce(c) => c.pull(sink).await,
        }
    }
}

/// Picks the connectors of a cycle: all, or the one named (an unknown name is a usage error).
pub fn select(settings: &Settings, only: Option<&str>) -> Result<Vec<AnyConnector>, String> {
    if let Some(id) = only
        && !settings.connectors.contains_key(id)
    {
        let known: Vec<&str> = settings.connectors.keys().map(String::as_str).collect();
        return Err(format!(
            "no connector `{id}` in the config (configured: {})",
            known.join(", ")
        ));
    }
    settings
        .connectors
        .iter()
        .filter(|(id, _)| only.is_none_or(|o| o == id.as_str()))
        .map(|(id, c)| AnyConnector::build(id, c).map_err(|e| e.to_string()))
        .collect()
}

/// A connector whose linked CRM records get stage pushes (`push = true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    pub connector: String,
    /// `allow_downgrade = true`: leadsync's tier is the authority for this CRM's stage, which is
    /// then pushed down as well as up, and does not floor the tier.
    pub allow_downgrade: bool,
    /// `respect_downgrades = true`: a stage a person lowered in the CRM below the tier leadsync
    /// set there is kept as a finding instead of being restored.
    pub respect_downgrades: bool,
}

impl PushTarget {
    /// A target that only ever pushes stages forward and restores lowered ones.
    pub fn forward(connector: impl Into<String>) -> Self {
        PushTarget {
            connector: connector.into(),
            allow_downgrade: false,
            respect_downgrades: false,
        }
    }
}

/// The connectors whose CRM records get stage pushes planned (`push = true`), from the config.
pub fn push_targets(settings: &Settings) -> Vec<PushTarget> {
    settings
        .connectors
        .iter()
        .filter_map(|(id, c)| match c {
            ConnectorConfig::Hubspot(h) if h.push => Some(PushTarget {
                connector: id.clone(),
                allow_downgrade: h.allow_downgrade,
                respect_downgrades: h.respect_downgrades,
            }),
            ConnectorConfig::Salesforce(sf) if sf.push => Some(PushTarget {
                connector: id.clone(),
                allow_downgrade: sf.allow_downgrade,
                respect_downgrades: false,
            }),
            _ => None,
        })
        .collect()
}

/// For each spreadsheet inbox with `crm_ids`: the CRM connector whose record ids its files carry,
/// and the field their column becomes.
pub fn crm_id_columns(settings: &Settings) -> HashMap<String, (String, Field)> {
    settings
        .connectors
        .iter()
        .filter_map(|(id, c)| match c {
            ConnectorConfig::Spreadsheet(sheet) => sheet.crm_ids.as_ref().map(|ids| {
                let field = leadsync_spreadsheet::mapping::custom_field(&ids.column);
                (id.clone(), (ids.connector.clone(), field))
            }),
            ConnectorConfig::Hubspot(_) | ConnectorConfig::Salesforce(_) => None,
        })
        .collect()
}
