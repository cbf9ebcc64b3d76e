//! The admin HTTP surface: liveness and a status view.

use crate::config::IdentityConfig;
use crate::explain;
use crate::rules::Rules;
use crate::store::Store;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::DaemonError;

/// What the handlers share: a store connection of their own, the rules (for the explain view)
/// and identity settings (to find a person by email or phone).
struct AdminState {
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    store: Mutex<Box<dyn Store>>,
    rules: Arc<Rules>,
    identity: IdentityConfig,
}

type Shared = Arc<AdminState>;

pub(super) struct Admin {
    pub(super) addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Admin {
    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Serves on `listen` with its own store connection (the daemon's writes never wait on it).
pub(super) async fn serve(
    listen: SocketAddr,
    store: Box<dyn Store>,
    rules: Arc<Rules>,
    identity: IdentityConfig,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> Result<Admin, DaemonError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| DaemonError::Admin {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| DaemonError::Admin {
        addr: listen,
        source,
    })?;
    let state: Shared = Arc::new(AdminState {
        metrics,
        store: Mutex::new(store),
        rules,
        identity,
    });
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(prometheus))
        .route("/api/v1/status", get(status))
        .route("/api/v1/persons/{who}", get(person))
        .with_state(state);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "Admin HTTP stopped.");
        }
    });
    Ok(Admin { addr, stop, task })
}

type Answer<T> = Result<T, (StatusCode, String)>;

fn internal(e: crate::store::StoreError) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn lock(state: &AdminState) -> std::sync::MutexGuard<'_, Box<dyn Store>> {
    state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The Prometheus text exposition.
async fn prometheus(State(state): State<Shared>) -> Answer<String> {
    state
        .metrics
        .as_ref()
        .map(metrics_exporter_prometheus::PrometheusHandle::render)
        .ok_or((
            StatusCode::NOT_FOUND,
            "metrics are recorded elsewhere in this process\n".into(),
        ))
}

/// Ready when the store answers and no connector's last run failed.
async fn ready(State(state): State<Shared>) -> Answer<String> {
    let runs = lock(&state)
        .last_runs(50)
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let mut latest: std::collections::BTreeMap<&str, bool> = std::collections::BTreeMap::new();
    for run in &runs {
        let ok = run.stats.as_ref().is_none_or(|s| s.status == "ok");
        latest.entry(run.connector.as_str()).or_insert(ok);
    }
    let failing: Vec<&str> = latest
        .iter()
        .filter(|(_, ok)| !**ok)
        .map(|(id, _)| *id)
        .collect();
    if failing.is_empty() {
        Ok("ready\n".into())
    } else {
        Err((
            StatusCode::SERVICE_UNAVAILABLE,
            format!("last run failed: {}\n", failing.join(", ")),
        ))
    }
}

/// The explain view of a person, found by id, email or phone.
async fn person(
    State(state): State<Shared>,
    Path(who): Path<String>,
) -> Answer<Json<serde_json::Value>> {
    let mut store = lock(&state);
    let id = explain::find(store.as_mut(), &state.identity, &who)
        .map_err(internal)?
        .ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                format!("no person matches `{who}`\n"),
            )
        })?;
    let view = explain::view(store.as_mut(), id, &state.rules, chrono::Utc::now())
        .map_err(internal)?
        .ok_or_else(|| (StatusCode::NOT_FOUND, format!("person {id} vanished\n")))?;
    Ok(Json(serde_json::to_value(view).expect("views serialise")))
}

/// Persons, tiers and the last runs, as JSON.
async fn status(State(state): State<Shared>) -> Answer<Json<serde_json::Value>> {
    let mut store = lock(&state);
    let runs = store.last_runs(20).map_err(internal)?;
    let persons = store.person_count().map_err(internal)?;
    let tiers = store.tier_counts().map_err(internal)?;
    Ok(Json(
        serde_json::json!({ "persons": persons, "tiers": tiers, "last_runs": runs }),
    ))
}
