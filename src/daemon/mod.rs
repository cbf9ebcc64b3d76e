//! `leadsync run`: cycles on each connector's schedule (tokio-cron-scheduler), one at a time so
//! two runs of a connector never overlap; the outbox drained between cycles in short turns within
//! the rate limits; the admin HTTP surface; and a graceful stop: a signal stops scheduling, the
//! cycle or push batch in flight finishes and commits (or, past `daemon.shutdown_timeout`, is
//! rolled back and stays queued), then the process exits.

mod admin;
mod cluster;
mod dashboard;
mod live;
mod notify;
mod ready;
mod sd_notify;
mod telemetry;
mod watch;

use crate::config::{ConnectorConfig, Settings};
use crate::pipeline::outbox::Claimant;
use crate::pipeline::{AnyConnector, pull_cycle, push_all};
use crate::rules::Rules;
use crate::store::{Replica, Store, StoreError};
use secrecy::SecretString;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch as signal};
use tokio_cron_scheduler::{Job, JobScheduler};

/// A connector's schedule; for connectors that set none, drops every 30 s and CRMs every 5
/// minutes.
fn schedule_of(cfg: &ConnectorConfig) -> &str {
    cfg.schedule().unwrap_or(match cfg {
        ConnectorConfig::Spreadsheet(_) => "*/30 * * * * *",
        ConnectorConfig::Hubspot(_) | ConnectorConfig::Salesforce(_) => "0 */5 * * * *",
    })
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

/// What a scheduled job or an inbox watcher asks the loop for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Due {
    /// A connector's cycle.
    Connector(String),
    /// Every person qualified again (`daemon.requalify`).
    Requalify,
}

/// One cron job per connector and one for the re-qualification pass; each only queues a turn.
async fn schedule(
    settings: &Settings,
    due_tx: &mpsc::Sender<Due>,
) -> Result<JobScheduler, DaemonError> {
    let scheduler = JobScheduler::new()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    let jobs = settings
        .connectors
        .iter()
        .map(|(id, cfg)| (Due::Connector(id.clone()), schedule_of(cfg).to_string()))
        .chain([(Due::Requalify, settings.daemon.requalify.clone())]);
    for (due, expr) in jobs {
        let tx = due_tx.clone();
        let what = format!("{due:?}");
        let job = Job::new_async(expr.as_str(), move |_, _| {
            let (tx, due) = (tx.clone(), due.clone());
            Box::pin(async move {
                let _ = tx.try_send(due); // a full queue already holds this turn
            })
        })
        .map_err(|e| DaemonError::Scheduler(format!("{what}: {e}")))?;
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
    /// A third for the leases' heartbeat (and the wake-ups' listener).
    pub heartbeat_store: Box<dyn Store>,
    /// A fourth for the request pace the connectors share with other replicas.
    pub pace_store: Box<dyn Store>,
    /// A fifth for the dashboard's funnel figures (read in one pass over every person).
    pub facts_store: Box<dyn Store>,
    /// The bearer token the API asks for, if any.
    pub admin_token: Option<SecretString>,
}

/// What one turn of the loop does.
enum Turn {
    /// Pull these connectors (and re-qualify everyone, if due), then push what they planned.
    Cycle(HashSet<Due>),
    /// Drain the outbox for a while.
    Push,
}

/// How long one push turn runs before it gives way to a cycle due or a reload (a stop is seen
/// between any two batches).
const PUSH_TURN: Duration = Duration::from_secs(5);
/// How long one push turn runs at most, other work waiting or not: its metrics and the status
/// are refreshed at its end.
const LONGEST_PUSH_TURN: Duration = Duration::from_secs(60);

/// Runs until `shutdown` resolves; the cycle or push batch in flight then finishes before this
/// returns, or is abandoned (rolled back, still queued) after `daemon.shutdown_timeout`. Each
/// message on `reload` re-reads the configuration and rules through `load`.
pub async fn run(
    start: Start,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mut reload: mpsc::Receiver<()>,
    load: impl Fn() -> Result<(Settings, Arc<Rules>), String>,
) -> Result<(), DaemonError> {
    let Start {
        settings,
        rules,
        mut connectors,
        mut store,
        admin_store,
        mut heartbeat_store,
        pace_store,
        facts_store,
        admin_token,
    } = start;
    let replica = Replica::this_process(settings.daemon.replica_id.as_deref());
    // Commits of other replicas that planned pushes wake this one (where the store can tell).
    let mut wakeups = heartbeat_store.wakeups()?;
    let (taken_tx, mut taken_rx) = mpsc::unbounded_channel();
    let membership = cluster::Membership::join(
        heartbeat_store,
        replica.clone(),
        settings.daemon.lease_ttl,
        settings.connectors.keys().cloned().collect(),
        taken_tx,
    )?;
    store.set_fences(membership.fences(), settings.daemon.lease_ttl);
    let pace = Arc::new(std::sync::Mutex::new(pace_store));
    share_pace(&connectors, &pace);
    let claimant = Claimant {
        replica: replica.clone(),
        ttl: settings.daemon.lease_ttl * 2,
    };
    let (stop_tx, stop_rx) = signal::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let live = live::Live::default();
    live.set(&settings, &connectors);
    let readiness = ready::Readiness::from_runs(&store.last_runs(50)?);
    let metrics = telemetry::install();
    let admin = admin::serve(
        settings.admin.listen,
        admin::Shared {
            store: admin_store,
            rules: Arc::clone(&rules),
            identity: settings.identity.clone(),
            ingest: Arc::new(
                crate::pipeline::PageIngest::new(
                    &settings.identity,
                    &settings.merge,
                    Arc::clone(&rules),
                )
                .with_push_targets(crate::pipeline::push_targets(&settings))
                .with_crm_ids(crate::pipeline::crm_id_columns(&settings)),
            ),
            metrics,
            live: live.clone(),
            ready: readiness.clone(),
            token: admin_token,
            replica: replica.clone(),
            facts_store,
            record_links: settings.admin.record_links.clone(),
        },
    )
    .await?;
    tracing::info!(listen = %admin.addr, "Admin HTTP listening.");

    // Jobs only say "connector X is due"; this loop runs the cycles, one at a time.
    let (due_tx, mut due_rx) = mpsc::channel::<Due>(64);
    let mut scheduler = schedule(&settings, &due_tx).await?;
    let mut _watchers = watch::inboxes(&settings, &due_tx);
    // Every connector held runs once at start: a restart catches up at once, whatever the
    // schedule. One whose lease is taken later runs at once then.
    for id in membership.held() {
        let _ = due_tx.try_send(Due::Connector(id));
    }
    sd_notify::notify("READY=1");
    let mut watchdog = sd_notify::watchdog_interval().map(tokio::time::interval);
    let mut push_tick = push_ticker(&settings);
    let (mut settings, mut rules) = (settings, rules);
    // Set when a push turn ran out of time with entries left: the next turn comes at once.
    let mut push_again = false;
    let mut notifier = notify::Notifier::new();
    let mut stopping = stop_rx.clone();

    let outcome = loop {
        let turn = tokio::select! {
            biased;
            _ = stopping.wait_for(|s| *s) => break Ok(()),
            Some(()) = reload.recv() => {
                match reloaded(&load, &settings, &mut connectors) {
                    Ok((new_settings, new_rules)) => {
                        share_pace(&connectors, &pace);
                        membership.want(new_settings.connectors.keys().cloned().collect());
                        scheduler.shutdown().await.map_err(|e| DaemonError::Scheduler(e.to_string()))?;
                        scheduler = schedule(&new_settings, &due_tx).await?;
                        _watchers = watch::inboxes(&new_settings, &due_tx);
                        push_tick = push_ticker(&new_settings);
                        live.set(&new_settings, &connectors);
                        (settings, rules) = (new_settings, new_rules);
                        tracing::info!("Configuration and rules reloaded.");
                    }
                    Err(e) => tracing::error!(error = %e, "Reload refused; still running on the previous configuration."),
                }
                continue;
            }
            _ = tick(watchdog.as_mut()) => {
                sd_notify::notify("WATCHDOG=1");
                continue;
            }
            lease = membership.lost() => break Err(StoreError::Fenced { lease }.into()),
            Some(id) = taken_rx.recv() => {
                // A lease taken over (its holder died or left): run the connector now.
                let _ = due_tx.try_send(Due::Connector(id));
                continue;
            }
            id = due_rx.recv() => match id {
                Some(id) => {
                    // Coalesce: several turns of a connector queued while a cycle ran are one.
                    let mut due = HashSet::from([id]);
                    while let Ok(more) = due_rx.try_recv() {
                        due.insert(more);
                    }
                    Turn::Cycle(due)
                }
                None => break Ok(()),
            },
            () = std::future::ready(()), if push_again => Turn::Push,
            () = woken(&mut wakeups) => Turn::Push,
            _ = push_tick.tick() => Turn::Push,
        };
        let work = async {
            if let Turn::Cycle(due) = turn {
                let progress = PullProgress::new(&stop_rx);
                cycles(
                    &settings,
                    store.as_mut(),
                    &mut connectors,
                    &rules,
                    &due,
                    &progress,
                    &Followup {
                        due_tx: &due_tx,
                        readiness: &readiness,
                        membership: &membership,
                    },
                )
                .await?;
                if due.contains(&Due::Requalify) {
                    let gap = requalify_gap(&settings.daemon.requalify);
                    if store.take_turn("requalify", gap)? {
                        requalify_everyone(&settings, store.as_mut(), &rules)?;
                    } else {
                        tracing::info!(
                            "Re-qualification already done by another replica for this time."
                        );
                    }
                }
            }
            // Every turn ends with a push turn: what a cycle planned goes out at once.
            let others_wait = || !due_rx.is_empty() || !reload.is_empty() || !taken_rx.is_empty();
            push_again = push_turn(
                store.as_mut(),
                &mut connectors,
                &claimant,
                &stop_rx,
                &others_wait,
            )
            .await?;
            // Then, at its own pace, the overdue follow-ups.
            notifier
                .turn(&settings.notify, &rules, store.as_mut())
                .await?;
            Ok::<(), DaemonError>(())
        };
        match guarded(
            work,
            &stop_rx,
            settings.daemon.shutdown_timeout,
            watchdog.as_mut(),
        )
        .await
        {
            Some(Ok(())) => {
                live.refresh(&connectors);
                telemetry::record_leases(
                    &replica.id,
                    &settings.connectors.keys().cloned().collect::<Vec<_>>(),
                    &membership.held(),
                );
            }
            Some(Err(e)) => break Err(e),
            None => {
                tracing::warn!(
                    timeout_s = settings.daemon.shutdown_timeout.as_secs_f64(),
                    "Stopping before the work in flight finished (daemon.shutdown_timeout): its open page or batch was rolled back and stays queued for the next start."
                );
                break Ok(());
            }
        }
    };
    match &outcome {
        Ok(()) => tracing::info!("Stopped: no new cycles; everything done is committed."),
        Err(e) => tracing::error!(error = %e, "Stopping."),
    }
    sd_notify::notify("STOPPING=1");
    if outcome.is_ok() {
        // A clean stop hands the connectors over at once; a lost membership has nothing to give.
        membership.leave();
    }
    scheduler
        .shutdown()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    admin.stop().await;
    outcome
}

/// Ticks at `daemon.push_interval`; a tick missed during a long turn is not made up in a burst.
fn push_ticker(settings: &Settings) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(settings.daemon.push_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// The next watchdog tick, or never without a watchdog.
async fn tick(watchdog: Option<&mut tokio::time::Interval>) {
    match watchdog {
        Some(w) => {
            w.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Runs `work` to its end, sending watchdog keep-alives meanwhile from this same task (so a task
/// that blocks its thread stops them, and systemd restarts the service), unless a stop was asked
/// and `timeout` has passed since: then `work` is dropped (its open transaction rolls back) and
/// the answer is `None`.
async fn guarded<T>(
    work: impl Future<Output = T>,
    stop: &signal::Receiver<bool>,
    timeout: Duration,
    mut watchdog: Option<&mut tokio::time::Interval>,
) -> Option<T> {
    let mut stop = stop.clone();
    let deadline = async {
        let _ = stop.wait_for(|s| *s).await;
        tracing::info!(
            timeout_s = timeout.as_secs_f64(),
            "Stop asked; waiting for the work in flight."
        );
        tokio::time::sleep(timeout).await;
    };
    tokio::pin!(work, deadline);
    loop {
        tokio::select! {
            out = &mut work => return Some(out),
            () = &mut deadline => return None,
            () = tick(watchdog.as_deref_mut()) => sd_notify::notify("WATCHDOG=1"),
        }
    }
}

/// Where a cycle's outcome goes besides the store and the metrics.
struct Followup<'a> {
    /// Turns queued for later (files not ready yet).
    due_tx: &'a mpsc::Sender<Due>,
    /// Whether each connector's last run failed, for `/readyz`.
    readiness: &'a ready::Readiness,
    /// Which connectors this replica holds.
    membership: &'a cluster::Membership,
}

/// Pulls the due connectors, one at a time, recording each cycle's metrics. A pull that left
/// files not ready yet gets its next turn queued for when they may be (once a file stops
/// growing, the inbox watcher has nothing more to say).
async fn cycles(
    settings: &Settings,
    store: &mut dyn Store,
    connectors: &mut [AnyConnector],
    rules: &Arc<Rules>,
    due: &HashSet<Due>,
    progress: &PullProgress<'_>,
    followup: &Followup<'_>,
) -> Result<(), DaemonError> {
    for connector in connectors
        .iter_mut()
        .filter(|c| due.contains(&Due::Connector(c.id().to_string())))
    {
        // Another replica holds the connector: it pulls it.
        let Some(fences) = followup.membership.fences_for(connector.id()) else {
            tracing::debug!(connector = connector.id(), "Held by another replica.");
            continue;
        };
        let started = Instant::now();
        store.set_fences(fences, settings.daemon.lease_ttl);
        let cycle = pull_cycle(
            settings,
            store,
            std::slice::from_mut(connector),
            rules,
            Some(progress),
        )
        .await;
        store.set_fences(followup.membership.fences(), settings.daemon.lease_ttl);
        let cycle = cycle?;
        telemetry::record(
            &cycle,
            started.elapsed().as_secs_f64(),
            store,
            std::slice::from_ref(connector),
        );
        telemetry::record_budgets(std::slice::from_ref(connector));
        for r in &cycle.runs {
            followup.readiness.record(&r.id, !r.failed());
            match &r.error {
                Some((_, e)) if r.failed() => {
                    tracing::error!(connector = %r.id, error = %e, "Cycle failed.")
                }
                Some((_, e)) => {
                    tracing::info!(connector = %r.id, reason = %e, "Cycle left to another run.")
                }
                None => {
                    tracing::info!(connector = %r.id, records = r.resolved.records, "Cycle done.")
                }
            }
            if let Some(after) = r.pulled.recheck_after {
                queue_later(followup.due_tx, Due::Connector(r.id.clone()), after);
            }
        }
    }
    Ok(())
}

/// Queues `due` after `after` (a little more, so the file is surely settled by then). A full
/// queue already holds a turn; a stopped loop no longer reads the queue.
fn queue_later(due_tx: &mpsc::Sender<Due>, due: Due, after: Duration) {
    let tx = due_tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after + Duration::from_millis(100)).await;
        let _ = tx.try_send(due);
    });
}

/// Told of every page a pull commits and every file it looks at: sends watchdog keep-alives while pages keep committing
/// (synchronous work such as reading a large drop blocks the loop's own keep-alives), and asks
/// the pull to stop after its page once a stop is asked.
struct PullProgress<'a> {
    stop: &'a signal::Receiver<bool>,
    watchdog: Option<Duration>,
    last_beat: std::sync::Mutex<Instant>,
}

impl<'a> PullProgress<'a> {
    fn new(stop: &'a signal::Receiver<bool>) -> Self {
        PullProgress {
            stop,
            watchdog: sd_notify::watchdog_interval(),
            last_beat: std::sync::Mutex::new(Instant::now()),
        }
    }
}

impl crate::pipeline::Progress for PullProgress<'_> {
    fn update(&self, _label: &str, _done: u64, _total: u64) {
        let Some(every) = self.watchdog else {
            return;
        };
        let mut last = self
            .last_beat
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.elapsed() >= every {
            sd_notify::notify("WATCHDOG=1");
            *last = Instant::now();
        }
    }

    fn keep_going(&self) -> bool {
        !*self.stop.borrow()
    }
}

/// Qualifies every person again: rules on time alone (temperature, days since) move on without
/// new data. Rises are recorded and pushed like any other.
fn requalify_everyone(
    settings: &Settings,
    store: &mut dyn Store,
    rules: &Rules,
) -> Result<(), DaemonError> {
    let started = Instant::now();
    let targets = crate::pipeline::push_targets(settings);
    let plan =
        crate::pipeline::requalify(store, rules, &targets, crate::clock::now(), false, 0, true)?;
    let moved: u64 = plan.moves.values().map(|m| m.count).sum();
    tracing::info!(
        persons = plan.evaluated,
        moved,
        pushes = plan.pushes,
        seconds = started.elapsed().as_secs_f64(),
        "Everyone qualified again."
    );
    Ok(())
}

/// Drains the outbox, stopping between batches when a stop is asked, once the turn has run
/// [`PUSH_TURN`] and `others_wait` (a cycle due, a reload), or after [`LONGEST_PUSH_TURN`].
/// Answers whether the turn ran out of time (entries are probably left).
///
/// A turn's end waits for its batches in flight to be answered before the next turn sends any:
/// about one answer time of the account's requests left unused. Ending turns only for other
/// work keeps a long drain at the limit: one process draining 30,000 pushes, answers 0.3 s
/// late, used 89.0% of the limit with 5-s turns, 92.6% so (`benches/replicas.rs`).
async fn push_turn(
    store: &mut dyn Store,
    connectors: &mut [AnyConnector],
    claimant: &Claimant,
    stop: &signal::Receiver<bool>,
    others_wait: &(dyn Fn() -> bool + Sync),
) -> Result<bool, DaemonError> {
    if !connectors.iter().any(AnyConnector::pushes) {
        return Ok(false);
    }
    let started = Instant::now();
    let until = started + PUSH_TURN;
    let keep_going = || {
        let now = Instant::now();
        !*stop.borrow() && (now < until || (now < started + LONGEST_PUSH_TURN && !others_wait()))
    };
    let pushes = push_all(store, connectors, claimant, &keep_going).await?;
    telemetry::record_pushes(&pushes, store, connectors);
    Ok(Instant::now() >= until && !*stop.borrow())
}

/// Makes every connector take its request slots from the account's pace shared in the store.
fn share_pace(connectors: &[AnyConnector], pace: &Arc<std::sync::Mutex<Box<dyn Store>>>) {
    for c in connectors {
        c.share_pace(|account| Arc::new(cluster::StorePace::new(Arc::clone(pace), account)));
    }
}

/// Resolves at the next wake-up (another replica committed pushes), after taking in every one
/// queued since; never, without a listener or once it is gone (the push ticker still polls).
async fn woken(wakeups: &mut Option<mpsc::UnboundedReceiver<()>>) {
    let Some(rx) = wakeups else {
        return std::future::pending().await;
    };
    match rx.recv().await {
        Some(()) => while rx.try_recv().is_ok() {},
        None => {
            tracing::warn!(
                "The wake-up listener's connection ended; pushes are found by polling (daemon.push_interval)."
            );
            *wakeups = None;
            std::future::pending::<()>().await;
        }
    }
}

/// How recently another replica must have run the daily pass for this one to skip it: half the
/// time between two of the schedule's runs, so replicas whose clocks differ a little run it once
/// between them.
fn requalify_gap(expr: &str) -> Duration {
    let half = || -> Option<Duration> {
        let cron = crate::config::check_cron(expr).ok()?;
        let first = cron.find_next_occurrence(&chrono::Utc::now(), false).ok()?;
        let second = cron.find_next_occurrence(&first, false).ok()?;
        (second - first).to_std().ok().map(|d| d / 2)
    };
    half()
        .unwrap_or(Duration::from_secs(1))
        .max(Duration::from_secs(1))
}
