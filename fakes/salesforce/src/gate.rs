//! Shared state and the checks around every REST API call: bearer token, the rolling API
//! allocation, scripted faults, requests in flight, and the `Sforce-Limit-Info` header on every
//! answer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use leadsync_fake_support::conn::ConnAddr;
use serde_json::Value;

use crate::config::FakeConfig;
use crate::cursor::Cursor;
use crate::errors::ApiError;
use crate::faults::{Fault, FaultQueue};
use crate::store::Store;
use crate::usage::Usage;

/// The account shared by the handle and every server of it.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: FakeConfig,
    pub(crate) state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(config: FakeConfig) -> Self {
        let state = State::new(&config);
        Self {
            config,
            state: Mutex::new(state),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock must not hide the real failure.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One field a collections update set: (record id, field, value).
pub(crate) type Applied = (String, String, Value);

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) store: Store,
    /// Access tokens currently valid.
    pub(crate) tokens: BTreeSet<String>,
    pub(crate) tokens_issued: u64,
    /// API requests counted against the allocation.
    pub(crate) usage: Usage,
    /// Open query locators by id.
    pub(crate) cursors: BTreeMap<String, Cursor>,
    pub(crate) cursors_opened: u64,
    /// Batches served so far, which picks the next batch size.
    pub(crate) batches_served: usize,
    pub(crate) faults: FaultQueue,
    /// REST requests being handled now, and the most ever at once.
    pub(crate) in_flight: u32,
    pub(crate) max_in_flight: u32,
    /// Collections requests answered, and every field they set, in order.
    pub(crate) writes: u64,
    pub(crate) write_log: Vec<Applied>,
}

impl State {
    fn new(config: &FakeConfig) -> Self {
        Self {
            store: Store::default(),
            tokens: BTreeSet::new(),
            tokens_issued: 0,
            usage: Usage::new(config.usage_window),
            cursors: BTreeMap::new(),
            cursors_opened: 0,
            batches_served: 0,
            faults: FaultQueue::default(),
            in_flight: 0,
            max_in_flight: 0,
            writes: 0,
            write_log: Vec::new(),
        }
    }
}

/// What a handler returns inside the gate.
pub(crate) type Outcome = Result<Response, ApiError>;

/// The API version segment: `v` then digits, `.0`.
pub(crate) fn valid_version(version: &str) -> bool {
    version
        .strip_prefix('v')
        .and_then(|v| v.strip_suffix(".0"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Counts a request in flight until dropped (also when the client goes away mid-request).
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> Self {
        let mut state = shared.lock();
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        Self(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
    }
}

/// Runs a reading `handler` as one REST API call (see [`run_write`]).
pub(crate) async fn run(
    shared: &Shared,
    headers: &HeaderMap,
    handler: impl FnOnce(&mut State, &FakeConfig) -> Outcome,
) -> Response {
    run_inner(shared, headers, None, handler).await
}

/// Runs `handler` as one REST API call: 401 without a valid bearer token, 403
/// `REQUEST_LIMIT_EXCEEDED` once the allocation is spent (neither is counted), and the limit
/// header on every answer. A write is the only kind of call a
/// [`Fault::DropAfterWrite`] hits: its connection `conn` is cut after the handler ran.
pub(crate) async fn run_write(
    shared: &Shared,
    headers: &HeaderMap,
    conn: &ConnAddr,
    handler: impl FnOnce(&mut State, &FakeConfig) -> Outcome,
) -> Response {
    run_inner(shared, headers, Some(conn), handler).await
}

async fn run_inner(
    shared: &Shared,
    headers: &HeaderMap,
    conn: Option<&ConnAddr>,
    handler: impl FnOnce(&mut State, &FakeConfig) -> Outcome,
) -> Response {
    let _in_flight = InFlight::enter(shared);
    let fault = shared.lock().faults.take(conn.is_some());
    let mut injected = None;
    let mut drop_after = false;
    match fault {
        Some(Fault::Slow { delay, .. }) => tokio::time::sleep(delay).await,
        Some(Fault::ServerError { status, .. }) => injected = Some(ApiError::injected(status)),
        Some(Fault::DropAfterWrite { .. }) => drop_after = true,
        None => {}
    }
    let mut state = shared.lock();
    let limit = shared.config.daily_limit;
    let now = Instant::now();
    let outcome = if !authorised(&state, headers) {
        Err(ApiError::invalid_session())
    } else if state.usage.used(now) >= limit {
        Err(ApiError::limit_exceeded())
    } else {
        state.usage.count(now);
        match injected {
            Some(error) => Err(error),
            None => {
                let outcome = handler(&mut state, &shared.config);
                if drop_after && let Some(conn) = conn {
                    conn.kill();
                }
                outcome
            }
        }
    };
    let used = state.usage.used(now);
    drop(state);
    let mut response = outcome.unwrap_or_else(IntoResponse::into_response);
    let info = format!("api-usage={used}/{limit}");
    if let Ok(value) = HeaderValue::from_str(&info) {
        response.headers_mut().insert("sforce-limit-info", value);
    }
    response
}

/// `Authorization: Bearer <token>` (or Salesforce's older `OAuth <token>`) naming a live token.
fn authorised(state: &State, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("OAuth "));
    token.is_some_and(|t| state.tokens.contains(t.trim()))
}
