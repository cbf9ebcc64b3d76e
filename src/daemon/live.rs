//! What the running daemon knows that the store does not: each connector's schedule and its
//! request budget. The loop that runs the cycles writes it; the admin API reads it.

use crate::config::Settings;
use crate::pipeline::AnyConnector;
use chrono::{DateTime, Utc};
use leadsync_pacing::RateBudget;
use serde::Serialize;
use std::sync::{Arc, Mutex, PoisonError};

/// One connector as the daemon runs it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ConnectorLive {
    pub(super) id: String,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    /// The cron expression in force (seconds first), the configured one or the default.
    pub(super) schedule: String,
    pub(super) pushes: bool,
    /// HubSpot's request budget as last stated; `None` for connectors without one.
    pub(super) rate_budget: Option<RateBudget>,
    /// A spreadsheet inbox at its last pull (files waiting, files skipped); `None` for others.
    pub(super) inbox: Option<leadsync_spreadsheet::InboxStatus>,
}

impl ConnectorLive {
    /// The next time the schedule fires (UTC, as the scheduler runs it).
    pub(super) fn next_run(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        crate::config::check_cron(&self.schedule)
            .ok()?
            .find_next_occurrence(&after, false)
            .ok()
    }
}

#[derive(Clone, Default)]
pub(super) struct Live(Arc<Mutex<Vec<ConnectorLive>>>);

impl Live {
    /// Takes in the connectors and schedules in force (at start and after a reload).
    pub(super) fn set(&self, settings: &Settings, connectors: &[AnyConnector]) {
        let view = connectors
            .iter()
            .map(|c| ConnectorLive {
                id: c.id().to_string(),
                kind: c.kind(),
                schedule: settings
                    .connectors
                    .get(c.id())
                    .map(|cfg| super::schedule_of(cfg).to_string())
                    .unwrap_or_default(),
                pushes: c.pushes(),
                rate_budget: c.rate_budget(),
                inbox: c.inbox_status(),
            })
            .collect();
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = view;
    }

    /// Refreshes the request budgets and inboxes (after each cycle or push turn).
    pub(super) fn refresh(&self, connectors: &[AnyConnector]) {
        let mut view = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for entry in view.iter_mut() {
            if let Some(c) = connectors.iter().find(|c| c.id() == entry.id) {
                entry.rate_budget = c.rate_budget();
                entry.inbox = c.inbox_status();
            }
        }
    }

    pub(super) fn connectors(&self) -> Vec<ConnectorLive> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
