//! `leadsync run`: cycles on each connector's schedule (tokio-cron-scheduler), one at a time so
//! two runs of a connector never overlap, the admin HTTP surface, and a graceful stop: a signal
//! stops scheduling, the cycle in flight finishes and commits, then the process exits.

mod admin;
mod sd_notify;
mod telemetry;
mod watch;

use crate::config::{ConnectorConfig, Settings};
use crate::rules::Rules;
use crate::store::Store;
use crate::sync::{AnyConnector, run_once};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};

/// Schedules for connectors that set none: drops every 30 s, CRMs every 5 minutes.
fn default_schedule(cfg: &ConnectorConfig) -> &'static str {
    match cfg {
        ConnectorConfig::Spreadsheet(_) => "*/30 * * * * *",
        ConnectorConfig::Hubspot(_) => "0 */5 * * * *",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("scheduler: {0}")]
    Scheduler(String),
    #[error("admin HTTP on {addr}: {source}")]
    Admin {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// One cron job per connector; each only queues the connector's turn.
async fn schedule(
    settings: &Settings,
    due_tx: &mpsc::Sender<String>,
) -> Result<JobScheduler, DaemonError> {
    let scheduler = JobScheduler::new()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    for (id, cfg) in &settings.connectors {
        let expr = cfg
            .schedule()
            .unwrap_or_else(|| default_schedule(cfg))
            .to_string();
        let (tx, due_id) = (due_tx.clone(), id.clone());
        let job = Job::new_async(expr.as_str(), move |_, _| {
            let (tx, id) = (tx.clone(), due_id.clone());
            Box::pin(async move {
                let _ = tx.try_send(id); // a full queue already holds this connector's turn
            })
        })
        .map_err(|e| DaemonError::Scheduler(format!("connector {id}: {e}")))?;
        scheduler
            .add(job)
            .await
            .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    }
    scheduler
        .start()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    tracing::info!(connectors = settings.connectors.len(), "Scheduler started.");
    Ok(scheduler)
}

/// Loads and validates the new configuration and rules, and rebuilds only the connectors whose
/// configuration changed. On any error nothing changes.
fn reloaded(
    load: &impl Fn() -> Result<(Settings, Arc<Rules>), String>,
    current: &Settings,
    connectors: &mut Vec<AnyConnector>,
) -> Result<(Settings, Arc<Rules>), String> {
    let (settings, rules) = load()?;
    if settings.store != current.store || settings.admin != current.admin {
        return Err("[store] and [admin] changes need a restart".into());
    }
    // Build every changed connector first: if one fails, nothing has changed.
    let mut built = Vec::new();
    for (id, cfg) in &settings.connectors {
        if current.connectors.get(id) != Some(cfg) {
            built.push(AnyConnector::build(id, cfg).map_err(|e| e.to_string())?);
            tracing::info!(connector = %id, "Connector (re)started with its new configuration.");
        }
    }
    let rebuilt: Vec<String> = built.iter().map(|b| b.id().to_string()).collect();
    let mut next: Vec<AnyConnector> = std::mem::take(connectors)
        .into_iter()
        .filter(|c| {
            settings.connectors.contains_key(c.id()) && !rebuilt.iter().any(|id| id == c.id())
        })
        .collect();
    next.extend(built);
    *connectors = next;
    Ok((settings, rules))
}

/// What the daemon starts with.
pub struct Start {
    pub settings: Settings,
    pub rules: Arc<Rules>,
    pub connectors: Vec<AnyConnector>,
    /// The store the cycles write to.
    pub store: Box<dyn Store>,
    /// A second connection for the admin API's reads.
    pub admin_store: Box<dyn Store>,
}

/// Runs until `shutdown` resolves; the cycle in flight then finishes before this returns. Each
/// message on `reload` re-reads the configuration and rules through `load`.
pub async fn run(
    start: Start,
    shutdown: impl Future<Output = ()>,
    mut reload: mpsc::Receiver<()>,
    load: impl Fn() -> Result<(Settings, Arc<Rules>), String>,
) -> Result<(), DaemonError> {
    let Start {
        settings,
        rules,
        mut connectors,
        mut store,
        admin_store,
    } = start;
    let metrics = telemetry::install();
    let admin = admin::serve(
        settings.admin.listen,
        admin_store,
        Arc::clone(&rules),
        settings.identity.clone(),
        metrics,
    )
    .await?;
    tracing::info!(listen = %admin.addr, "Admin HTTP listening.");

    // Jobs only say "connector X is due"; this loop runs the cycles, one at a time.
    let (due_tx, mut due_rx) = mpsc::channel::<String>(64);
    let mut scheduler = schedule(&settings, &due_tx).await?;
    let mut _watchers = watch::inboxes(&settings, &due_tx);
    sd_notify::notify("READY=1");
    // Keep-alives come from this loop's own task: a stuck cycle stops them, and systemd restarts
    // the service.
    let mut watchdog = sd_notify::watchdog_interval().map(tokio::time::interval);
    let (mut settings, mut rules) = (settings, rules);

    tokio::pin!(shutdown);
    loop {
        let id = tokio::select! {
            () = &mut shutdown => break,
            id = due_rx.recv() => match id { Some(id) => id, None => break },
            _ = async { match watchdog.as_mut() { Some(w) => w.tick().await, None => std::future::pending().await } } => {
                sd_notify::notify("WATCHDOG=1");
                continue;
            }
            Some(()) = reload.recv() => {
                match reloaded(&load, &settings, &mut connectors) {
                    Ok((new_settings, new_rules)) => {
                        scheduler.shutdown().await.map_err(|e| DaemonError::Scheduler(e.to_string()))?;
                        scheduler = schedule(&new_settings, &due_tx).await?;
                        _watchers = watch::inboxes(&new_settings, &due_tx);
                        (settings, rules) = (new_settings, new_rules);
                        tracing::info!("Configuration and rules reloaded.");
                    }
                    Err(e) => tracing::error!(error = %e, "Reload refused; still running on the previous configuration."),
                }
                continue;
            }
        };
        // Coalesce: several turns of the same connector queued while a cycle ran are one.
        let mut due: HashSet<String> = HashSet::from([id]);
        while let Ok(more) = due_rx.try_recv() {
            due.insert(more);
        }
        for connector in connectors.iter_mut().filter(|c| due.contains(c.id())) {
            let started = std::time::Instant::now();
            let cycle = run_once(
                &settings,
                store.as_mut(),
                std::slice::from_mut(connector),
                &rules,
                None,
            )
            .await?;
            telemetry::record(&cycle, started.elapsed().as_secs_f64(), store.as_mut());
            for r in &cycle.runs {
                match &r.error {
                    None => {
                        tracing::info!(connector = %r.id, records = r.resolved.records, "Cycle done.")
                    }
                    Some((_, e)) => tracing::error!(connector = %r.id, error = %e, "Cycle failed."),
                }
            }
        }
    }
    tracing::info!("Stopping: no new cycles; the last one finished and committed.");
    sd_notify::notify("STOPPING=1");
    scheduler
        .shutdown()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    admin.stop().await;
    Ok(())
}
