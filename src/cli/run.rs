use super::{Args, Failure, load_rules, load_settings};
use crate::daemon;
use crate::pipeline::select;

/// The daemon: until SIGTERM or SIGINT.
pub(super) async fn run(args: &Args) -> Result<(), Failure> {
    let settings = load_settings(args)?;
    let admin_token = match &settings.admin.token {
        Some(source) => Some(
            source
                .load()
                .map_err(|e| Failure::usage(format!("key admin.token: {e}")))?,
        ),
        None => None,
    };
    let rules = load_rules(&settings, None)?;
    // A reload keeps the ladder: stored tiers, pushes in flight and the funnel stand on it.
    leadsync_connector_core::Ladder::freeze();
    let connectors = select(&settings, None).map_err(Failure::usage)?;
    let mut store = super::open_store(&settings)?;
    super::check_ladder(store.as_mut(), None)?;
    let admin_store = super::open_store(&settings)?;
    let facts_store = super::open_store(&settings)?;
    let heartbeat_store = super::open_store(&settings)?;
    let pace_store = super::open_store(&settings)?;
    // SIGHUP: reload the config and the rules from the same places.
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| Failure::runtime(format!("cannot listen for SIGHUP: {e}")))?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading.");
            let _ = reload_tx.try_send(());
        }
    });
    let load = || {
        let settings = load_settings(args).map_err(|f| f.message)?;
        let rules = load_rules(&settings, None).map_err(|f| f.message)?;
        Ok((settings, rules))
    };
    let start = daemon::Start {
        settings,
        rules,
        connectors,
        store,
        admin_store,
        facts_store,
        heartbeat_store,
        pace_store,
        admin_token,
    };
    daemon::run(start, stop_signal(), reload_rx, load)
        .await
        .map_err(|e| Failure::runtime(e.to_string()))
}

/// Resolves on SIGTERM (systemd, docker stop) or SIGINT (Ctrl-C).
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "Cannot listen for SIGTERM; only Ctrl-C stops the daemon.");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received."),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received."),
    }
}
