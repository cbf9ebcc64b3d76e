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

/// Runs until `shutdown` resolves; the cycle in flight then finishes before this returns.
pub async fn run(
    settings: Settings,
    rules: Arc<Rules>,
    mut connectors: Vec<AnyConnector>,
    mut store: Box<dyn Store>,
    admin_store: Box<dyn Store>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
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
    let mut scheduler = JobScheduler::new()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    for (id, cfg) in &settings.connectors {
        let schedule = cfg
            .schedule()
            .unwrap_or_else(|| default_schedule(cfg))
            .to_string();
        let (tx, due_id) = (due_tx.clone(), id.clone());
        let job = Job::new_async(schedule.as_str(), move |_, _| {
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
    let _watchers = watch::inboxes(&settings, &due_tx);
    sd_notify::notify("READY=1");
    // Keep-alives come from this loop's own task: a stuck cycle stops them, and systemd restarts
    // the service.
    let mut watchdog = sd_notify::watchdog_interval().map(tokio::time::interval);

    tokio::pin!(shutdown);
    loop {
        let id = tokio::select! {
            () = &mut shutdown => break,
            id = due_rx.recv() => match id { Some(id) => id, None => break },
            _ = async { match watchdog.as_mut() { Some(w) => w.tick().await, None => std::future::pending().await } } => {
                sd_notify::notify("WATCHDOG=1");
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
