//! The admin HTTP surface: liveness and a status view.

use crate::store::Store;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::DaemonError;

type Shared = Arc<Mutex<Box<dyn Store>>>;

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
pub(super) async fn serve(listen: SocketAddr, store: Box<dyn Store>) -> Result<Admin, DaemonError> {
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
    let state: Shared = Arc::new(Mutex::new(store));
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/status", get(status))
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

/// Persons, last runs and outbox counts, as JSON.
async fn status(
    State(store): State<Shared>,
) -> Result<Json<serde_json::Value>, (axum::http::StatusCode, String)> {
    let internal = |e: crate::store::StoreError| {
        (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    };
    let mut store = store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let runs = store.last_runs(20).map_err(internal)?;
    let persons = store.person_count().map_err(internal)?;
    let tiers = store.tier_counts().map_err(internal)?;
    Ok(Json(
        serde_json::json!({ "persons": persons, "tiers": tiers, "last_runs": runs }),
    ))
}
