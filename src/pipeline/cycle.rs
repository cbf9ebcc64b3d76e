//! One full cycle: every (or one) connector pulls, page by page, into the store; persons the
//! current rules have not qualified yet are re-qualified; the outbox is drained.

use super::connectors::{AnyConnector, crm_id_columns, push_targets};
use super::ingest::{PageIngest, PageStats, Progress, StoreSink};
use super::matcher::Matcher;
use super::outbox::{self, Claimant, DrainError, PushStats};
use super::plan::Plan;
use super::qualify;
use crate::config::Settings;
use crate::rules::Rules;
use crate::store::{RunStats, Store, StoreError};
use chrono::Utc;
use leadsync_connector_core::{ConnectorErrorKind, PullStats};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one connector did in a cycle.
#[derive(Debug, Clone)]
pub struct ConnectorRun {
    pub id: String,
    pub pulled: PullStats,
    pub resolved: PageStats,
    pub error: Option<(ConnectorErrorKind, String)>,
    pub elapsed: Duration,
}

impl ConnectorRun {
    /// Whether the pull failed: a pull left to another run that holds the connector did not.
    pub fn failed(&self) -> bool {
        self.error
            .as_ref()
            .is_some_and(|(kind, _)| *kind != ConnectorErrorKind::Superseded)
    }
}

/// What one cycle did.
#[derive(Debug, Clone)]
pub struct Cycle {
    pub runs: Vec<ConnectorRun>,
    /// Persons re-qualified because the rules changed since they were last qualified.
    pub requalified: Plan,
    /// Stage pushes, per pushing connector; an error stops that connector's pushes this cycle.
    pub pushes: Vec<(String, Result<PushStats, String>)>,
}

/// Pulls every connector once, in config order (a failing connector does not stop the others),
/// re-qualifies the persons the current rules have not qualified yet, then drains the outbox of
/// every pushing connector.
pub async fn run_once(
    settings: &Settings,
    store: &mut dyn Store,
    connectors: &mut [AnyConnector],
    rules: &Arc<Rules>,
    progress: Option<&dyn Progress>,
) -> Result<Cycle, StoreError> {
    let mut cycle = pull_cycle(settings, store, connectors, rules, progress).await?;
    cycle.pushes = push_all(store, connectors, &Claimant::this_process(), &|| true).await?;
    Ok(cycle)
}

/// The pull half of a cycle: every connector pulls, then the persons the current rules have not
/// qualified yet are re-qualified. Stage pushes are planned into the outbox, not sent.
pub async fn pull_cycle(
    settings: &Settings,
    store: &mut dyn Store,
    connectors: &mut [AnyConnector],
    rules: &Arc<Rules>,
    progress: Option<&dyn Progress>,
) -> Result<Cycle, StoreError> {
    restore_states(store, connectors)?;
    let pulled = pull_all(settings, store, connectors, rules, progress).await;
    // A daily stop must survive whatever happens next.
    save_states(store, connectors)?;
    let runs = pulled?;
    let targets = push_targets(settings);
    let requalified =
        qualify::requalify(store, rules, &targets, crate::clock::now(), false, 3, false)?;
    Ok(Cycle {
        runs,
        requalified,
        pushes: Vec::new(),
    })
}

/// Drains the outbox of every pushing connector among `connectors`: until it is empty or a
/// whole batch could only be retried, or until `keep_going` says stop (the rest waits for the
/// next call). A connector error stops that connector's pushes for this call only.
pub async fn push_all(
    store: &mut dyn Store,
    connectors: &mut [AnyConnector],
    claimant: &Claimant,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<(String, Result<PushStats, String>)>, StoreError> {
    restore_states(store, connectors)?;
    if connectors.iter().any(AnyConnector::pushes) {
        // The pulls may have left a long write-ahead log: copied back now, an automatic
        // checkpoint does not stall the rate-limited pushes half-way.
        store.checkpoint()?;
    }
    let mut pushes = Vec::new();
    for connector in connectors.iter_mut().filter(|c| c.pushes()) {
        let result = match outbox::drain(store, connector, claimant, keep_going).await {
            Ok(stats) => Ok(stats),
            Err(DrainError::Store(e)) => return Err(e),
            Err(DrainError::Connector(e)) => {
                tracing::error!(connector = connector.id(), error = %e, "Push failed.");
                Err(e.to_string())
            }
        };
        pushes.push((connector.id().to_string(), result));
    }
    save_states(store, connectors)?;
    Ok(pushes)
}

/// The key under which a connector's daily-budget stop is kept.
const DAILY_STOP: &str = "daily_stop_until";

fn restore_states(store: &mut dyn Store, connectors: &[AnyConnector]) -> Result<(), StoreError> {
    for c in connectors {
        if c.is_crm()
            && let Some(until) = store.connector_state(c.id(), DAILY_STOP)?
            && let Ok(until) = chrono::DateTime::parse_from_rfc3339(&until)
        {
            c.restore_daily_stop(until.with_timezone(&Utc));
        }
    }
    Ok(())
}

/// Writes each daily stop that changed. The daemon saves after every push turn, so an unchanged
/// state costs a read, not a write transaction.
fn save_states(store: &mut dyn Store, connectors: &[AnyConnector]) -> Result<(), StoreError> {
    for c in connectors {
        if c.is_crm() {
            let until = c.daily_stop().map(|t| t.to_rfc3339());
            if store.connector_state(c.id(), DAILY_STOP)? != until {
                store.set_connector_state(c.id(), DAILY_STOP, until.as_deref())?;
            }
        }
    }
    Ok(())
}

async fn pull_all(
    settings: &Settings,
    store: &mut dyn Store,
    connectors: &mut [AnyConnector],
    rules: &Arc<Rules>,
    progress: Option<&dyn Progress>,
) -> Result<Vec<ConnectorRun>, StoreError> {
    let ingest = PageIngest::new(&settings.identity, &settings.merge, Arc::clone(rules))
        .with_push_targets(push_targets(settings))
        .with_crm_ids(crm_id_columns(settings))
        .with_matcher(Matcher::load(&settings.identity.matching, store)?);
    let mut runs = Vec::new();
    for connector in connectors.iter_mut() {
        let id = connector.id().to_string();
        let run = store.start_run(&id)?;
        let started = Instant::now();
        let mut sink = StoreSink::new(store, &ingest, &id);
        if let Some(p) = progress {
            sink = sink.with_progress(p);
        }
        let result = connector.pull(&mut sink).await;
        let resolved = sink.stats;
        let (pulled, error) = match &result {
            Ok(s) => (s.clone(), None),
            Err(e) => {
                if e.kind == ConnectorErrorKind::Superseded {
                    tracing::info!(connector = %id, reason = %e, "Pull left to another run.");
                } else {
                    tracing::error!(connector = %id, error = %e, "Pull failed.");
                }
                // What it did before stopping is committed: its counts stand.
                let done = e.partial.clone().unwrap_or_default();
                (done, Some((e.kind, e.to_string())))
            }
        };
        let stats = RunStats {
            records: resolved.records,
            rejects: pulled.rejects,
            files: pulled.streams_finished,
            duplicates: pulled.duplicates,
            failed: pulled.failed,
            status: match &error {
                None => "ok".into(),
                Some((ConnectorErrorKind::Superseded, _)) => "superseded".into(),
                Some(_) => "failed".into(),
            },
            error: error.as_ref().map(|(_, m)| m.clone()),
        };
        store.finish_run(run, &stats)?;
        // A replica that lost its lease stops altogether: what it believes is stale.
        if let Some(lease) = fenced_lease(&result) {
            return Err(StoreError::Fenced { lease });
        }
        runs.push(ConnectorRun {
            id,
            pulled,
            resolved,
            error,
            elapsed: started.elapsed(),
        });
    }
    Ok(runs)
}

/// The lease a pull lost, when its store refused a write for that.
fn fenced_lease(
    result: &Result<PullStats, leadsync_connector_core::ConnectorError>,
) -> Option<String> {
    let source = result.as_ref().err()?.source.as_deref()?;
    match source.downcast_ref::<StoreError>()? {
        StoreError::Fenced { lease } => Some(lease.clone()),
        _ => None,
    }
}
