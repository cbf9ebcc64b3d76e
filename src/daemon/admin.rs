//! The admin HTTP surface: liveness and readiness for probes, Prometheus metrics, the status
//! view and the explain view, and the dashboard's pages (`super::dashboard`). With `admin.token` set, everything but the probes asks for
//! `Authorization: Bearer <token>`.
//!
//! The handlers never run SQLite on the runtime's worker threads: store queries go to blocking
//! threads (`off_runtime`), and readiness comes from memory, so `/healthz` and `/readyz` answer
//! at once however long the status and explain queries take.

use crate::config::IdentityConfig;
use crate::explain;
use crate::rules::Rules;
use crate::store::Store;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::DaemonError;
use super::live::Live;
use super::ready::Readiness;

/// What the handlers are given: a store connection of their own, the rules (for the explain
/// view), identity settings (to find a person by email or phone), the metrics handle, the
/// daemon's live view and the bearer token, if any.
pub(super) struct Shared {
    pub(super) store: Box<dyn Store>,
    pub(super) rules: Arc<Rules>,
    pub(super) identity: IdentityConfig,
    /// How persons are merged and qualified, for review decisions.
    pub(super) ingest: Arc<crate::pipeline::PageIngest>,
    pub(super) metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub(super) live: Live,
    pub(super) ready: Readiness,
    pub(super) token: Option<SecretString>,
    /// This replica, for `/api/v1/status`.
    pub(super) replica: crate::store::Replica,
    /// A connection of its own for the dashboard's funnel facts (a pass over every person).
    pub(super) facts_store: Box<dyn Store>,
    /// `admin.record_links`: a CRM record's address per connector, `{id}` for its id.
    pub(super) record_links: std::collections::BTreeMap<String, String>,
}

pub(super) struct AdminState {
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub(super) store: Mutex<Box<dyn Store>>,
    pub(super) rules: Arc<Rules>,
    pub(super) identity: IdentityConfig,
    pub(super) ingest: Arc<crate::pipeline::PageIngest>,
    pub(super) live: Live,
    ready: Readiness,
    pub(super) token: Option<SecretString>,
    pub(super) replica: crate::store::Replica,
    pub(super) sessions: super::dashboard::Sessions,
    pub(super) facts: Arc<super::dashboard::cache::FactsCache>,
    pub(super) record_links: std::collections::BTreeMap<String, String>,
}

pub(super) type Handle = Arc<AdminState>;

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
pub(super) async fn serve(listen: SocketAddr, shared: Shared) -> Result<Admin, DaemonError> {
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
    let rules_for_facts = Arc::clone(&shared.rules);
    let state: Handle = Arc::new(AdminState {
        metrics: shared.metrics,
        store: Mutex::new(shared.store),
        rules: shared.rules,
        identity: shared.identity,
        ingest: shared.ingest,
        live: shared.live,
        ready: shared.ready,
        token: shared.token,
        replica: shared.replica,
        sessions: super::dashboard::Sessions::default(),
        facts: super::dashboard::cache::FactsCache::new(shared.facts_store, rules_for_facts),
        record_links: shared.record_links,
    });
    // The funnel page's figures are read once at start, so the first visit finds them.
    state.facts.rebuild();
    let protected = Router::new()
        .route("/metrics", get(prometheus))
        .route("/api/v1/status", get(status))
        .route("/api/v1/persons/{who}", get(person))
        .route("/api/v1/review", get(review_list))
        .route("/api/v1/review/{id}", get(review_item))
        .route("/api/v1/review/{id}/{decision}", post(review_decide))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authorised,
        ));
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .merge(protected)
        .merge(super::dashboard::routes(&state))
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

/// Lets a request through when no token is configured, or when it carries the token.
async fn authorised(State(state): State<Handle>, request: Request, next: Next) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    if carries_token(request.headers(), token) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "a bearer token is required (admin.token)\n",
    )
        .into_response()
}

/// The leases held at `now`: an expired row's holder is gone (or paused past it).
pub(super) fn live_leases(
    store: &mut dyn Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<crate::store::Lease>, crate::store::StoreError> {
    Ok(store
        .leases()?
        .into_iter()
        .filter(|l| l.expires_at > now)
        .collect())
}

/// Whether a request's `Authorization: Bearer` header carries the admin token.
pub(super) fn carries_token(headers: &axum::http::HeaderMap, token: &SecretString) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .is_some_and(|given| same(given.as_bytes(), token.expose_secret().as_bytes()))
}

/// The token of an `Authorization: Bearer <token>` value. The scheme's name is
/// case-insensitive (RFC 7235: `bearer`, `BEARER`), and spaces may follow it.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

/// Compares in time that depends on the lengths only, not on where the bytes differ.
pub(super) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn internal(e: crate::store::StoreError) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Runs a store query, and encodes its answer, on a blocking thread: neither SQLite nor
/// encoding a large answer (an explain view can be megabytes of JSON) holds up the runtime's
/// workers, which also answer the probes. Queries take the admin's connection in turn.
async fn off_runtime<T, Q>(state: Handle, query: Q) -> Answer<Response>
where
    T: IntoResponse,
    Q: FnOnce(&AdminState, &mut dyn Store) -> Answer<T> + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let mut store = state
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        query(&state, store.as_mut()).map(IntoResponse::into_response)
    })
    .await
    .unwrap_or_else(|e| {
        Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the query stopped: {e}\n"),
        ))
    })
}

/// The Prometheus text exposition.
async fn prometheus(State(state): State<Handle>) -> Answer<String> {
    state
        .metrics
        .as_ref()
        .map(metrics_exporter_prometheus::PrometheusHandle::render)
        .ok_or((
            StatusCode::NOT_FOUND,
            "metrics are recorded elsewhere in this process\n".into(),
        ))
}

/// Ready when no configured connector's last run failed (from memory: never waits for the
/// store).
async fn ready(State(state): State<Handle>) -> Answer<String> {
    let connectors = state.live.connectors();
    let failing = state
        .ready
        .failing(connectors.iter().map(|c| c.id.as_str()));
    if failing.is_empty() {
        Ok("ready\n".into())
    } else {
        Err((
            StatusCode::SERVICE_UNAVAILABLE,
            format!("last run failed: {}\n", failing.join(", ")),
        ))
    }
}

/// `?status=pending|accepted|rejected|all` (default `pending`).
#[derive(serde::Deserialize)]
struct ReviewQuery {
    status: Option<String>,
}

/// The review queue: pairs with their scores and every field's comparison.
async fn review_list(
    State(state): State<Handle>,
    axum::extract::Query(q): axum::extract::Query<ReviewQuery>,
) -> Answer<Response> {
    let status = match q.status.as_deref().unwrap_or("pending") {
        "all" => None,
        s => Some(crate::store::ReviewStatus::parse(s).ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                format!("status `{s}`: one of pending, accepted, rejected, all\n"),
            )
        })?),
    };
    off_runtime(state, move |_, store| {
        let items = store.reviews(status).map_err(internal)?;
        Ok(Json(serde_json::json!({ "items": items })))
    })
    .await
}

async fn review_item(State(state): State<Handle>, Path(id): Path<i64>) -> Answer<Response> {
    off_runtime(state, move |_, store| {
        let item = store
            .review(id)
            .map_err(internal)?
            .ok_or_else(|| (StatusCode::NOT_FOUND, format!("no review item {id}\n")))?;
        Ok(Json(serde_json::to_value(item).expect("items serialise")))
    })
    .await
}

/// `POST /api/v1/review/{id}/accept` or `…/reject`.
async fn review_decide(
    State(state): State<Handle>,
    Path((id, decision)): Path<(i64, String)>,
) -> Answer<Response> {
    let accept = match decision.as_str() {
        "accept" => true,
        "reject" => false,
        other => {
            return Err((
                StatusCode::NOT_FOUND,
                format!("`{other}`: a decision is accept or reject\n"),
            ));
        }
    };
    off_runtime(
        state,
        move |state, store| match crate::pipeline::matcher::decide(store, &state.ingest, id, accept)
            .map_err(internal)?
        {
            Ok(message) => Ok(Json(serde_json::json!({ "id": id, "message": message }))),
            Err(message) => Err((StatusCode::NOT_FOUND, format!("{message}\n"))),
        },
    )
    .await
}

/// The explain view of a person, found by id, email or phone.
async fn person(State(state): State<Handle>, Path(who): Path<String>) -> Answer<Response> {
    off_runtime(state, move |state, store| person_of(state, store, &who)).await
}

fn person_of(
    state: &AdminState,
    store: &mut dyn Store,
    who: &str,
) -> Answer<Json<serde_json::Value>> {
    let id = explain::find(store, &state.identity, who)
        .map_err(internal)?
        .ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                format!("no person matches `{who}`\n"),
            )
        })?;
    let view = explain::view(store, id, &state.rules, crate::clock::now())
        .map_err(internal)?
        .ok_or_else(|| (StatusCode::NOT_FOUND, format!("person {id} vanished\n")))?;
    Ok(Json(serde_json::to_value(view).expect("views serialise")))
}

/// Persons and tiers, each connector (schedule and next run, outbox, request budget), the last
/// runs and the newest dead letters, as JSON.
async fn status(State(state): State<Handle>) -> Answer<Response> {
    off_runtime(state, status_of).await
}

fn status_of(state: &AdminState, store: &mut dyn Store) -> Answer<Json<serde_json::Value>> {
    let runs = store.last_runs(20).map_err(internal)?;
    let persons = store.person_count().map_err(internal)?;
    let tiers = store.tier_counts().map_err(internal)?;
    let dead_letters = store.dead_letters(50).map_err(internal)?;
    let now = chrono::Utc::now();
    let leases = live_leases(store, now).map_err(internal)?;
    let lease_view = |l: &crate::store::Lease| {
        serde_json::json!({
            "name": l.name,
            "holder": l.holder,
            "epoch": l.epoch,
            "expires_at": l.expires_at,
            "mine": l.instance == state.replica.instance,
        })
    };
    let mut outbox_total = std::collections::BTreeMap::<String, u64>::new();
    let mut connectors = Vec::new();
    for c in state.live.connectors() {
        let outbox = store.outbox_counts(&c.id).map_err(internal)?;
        for (status, n) in &outbox {
            *outbox_total.entry(status.clone()).or_default() += n;
        }
        connectors.push(serde_json::json!({
            "id": c.id,
            "type": c.kind,
            "schedule": c.schedule,
            "next_run": c.next_run(now),
            "pushes": c.pushes,
            "outbox": outbox,
            "rate_budget": c.rate_budget,
            "inbox": c.inbox,
            "lease": leases
                .iter()
                .find(|l| super::cluster::lease_connector(&l.name) == Some(c.id.as_str()))
                .map(lease_view),
        }));
    }
    Ok(Json(serde_json::json!({
        "replica": {"id": state.replica.id, "instance": state.replica.instance},
        "replicas": leases
            .iter()
            .filter(|l| l.name.starts_with("replica:"))
            .map(|l| serde_json::json!({"id": l.holder, "instance": l.instance, "expires_at": l.expires_at}))
            .collect::<Vec<_>>(),
        "leases": leases.iter().map(lease_view).collect::<Vec<_>>(),
        "persons": persons,
        "tiers": tiers,
        "connectors": connectors,
        "outbox": outbox_total,
        "dead_letters": dead_letters,
        "last_runs": runs,
    })))
}
