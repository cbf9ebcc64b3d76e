//! Shared state and the checks around every REST API call: bearer token, daily allocation, and
//! the `Sforce-Limit-Info` header on every answer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::config::FakeConfig;
use crate::cursor::Cursor;
use crate::errors::ApiError;
use crate::faults::{Fault, FaultQueue};
use crate::store::Store;

/// The account shared by the handle and every server of it.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: FakeConfig,
    pub(crate) state: Mutex<State>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock must not hide the real failure.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) store: Store,
    /// Access tokens currently valid.
    pub(crate) tokens: BTreeSet<String>,
    pub(crate) tokens_issued: u64,
    /// API requests counted against the daily allocation.
    pub(crate) api_used: u64,
    /// Open query locators by id.
    pub(crate) cursors: BTreeMap<String, Cursor>,
    pub(crate) cursors_opened: u64,
    /// Batches served so far, which picks the next batch size.
    pub(crate) batches_served: usize,
    pub(crate) faults: FaultQueue,
}

/// What a handler returns inside the gate.
pub(crate) type Outcome = Result<Response, ApiError>;

/// Runs `handler` as one REST API call: 401 without a valid bearer token, 403
/// `REQUEST_LIMIT_EXCEEDED` once the allocation is spent (neither is counted), and the limit
/// header on every answer.
pub(crate) async fn run(
    shared: &Shared,
    headers: &HeaderMap,
    handler: impl FnOnce(&mut State, &FakeConfig) -> Outcome,
) -> Response {
    let fault = shared.lock().faults.take();
    let mut injected = None;
    match fault {
        Some(Fault::Slow { delay, .. }) => tokio::time::sleep(delay).await,
        Some(Fault::ServerError { status, .. }) => injected = Some(ApiError::injected(status)),
        None => {}
    }
    let mut state = shared.lock();
    let limit = shared.config.daily_limit;
    let outcome = if !authorised(&state, headers) {
        Err(ApiError::invalid_session())
    } else if state.api_used >= limit {
        Err(ApiError::limit_exceeded())
    } else {
        state.api_used += 1;
        match injected {
            Some(error) => Err(error),
            None => handler(&mut state, &shared.config),
        }
    };
    let used = state.api_used;
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
