//! What every request goes through before and after its handler: auth, counting, rate limits,
//! scripted faults, and the rate-limit headers on the answer.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header::AUTHORIZATION};
use axum::response::{IntoResponse, Response};
use leadsync_fake_support::conn::ConnAddr;
use serde_json::Value;

use crate::config::FakeConfig;
use crate::errors::{ApiError, rate_limited};
use crate::faults::{Fault, FaultQueue};
use crate::limits::{Limiter, RateHeaders, Verdict};
use crate::store::Store;

/// Counters for assertions about how a client behaved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Authenticated requests by endpoint (`list`, `get`, `create`, `update`, `delete`, `search`,
    /// `batch_read`, `batch_update`, `merge`, `properties`), 429s and faults included.
    pub requests: BTreeMap<String, u64>,
    /// 429 answers by `policyName` (`TEN_SECONDLY_ROLLING`, `DAILY`, `SECONDLY`).
    pub rate_limited: BTreeMap<String, u64>,
    /// Requests refused with 401.
    pub unauthorized: u64,
    /// Most non-search requests accepted within any window-length interval (measured even when
    /// the limit is 0 = unlimited, so a test can check a client's own limiter).
    pub max_in_window: u32,
    /// Most searches accepted within any one-second interval.
    pub max_searches_per_second: u32,
    /// Searches answered 200.
    pub searches: u64,
    /// Batch updates applied (200 or 207).
    pub batch_updates: u64,
    /// Contacts found and written by PATCH or batch update (no-op writes included).
    pub items_updated: u64,
    /// Of those, writes that changed something.
    pub items_changed: u64,
    /// Scripted faults that fired.
    pub faults_injected: u64,
    /// Most requests being handled at once (let through and not yet answered).
    pub max_concurrent: u32,
}

impl Stats {
    /// All authenticated requests.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    /// All 429 answers.
    pub fn total_rate_limited(&self) -> u64 {
        self.rate_limited.values().sum()
    }
}

/// Which operation a request is, for counting and for matching faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    List,
    Get,
    Create,
    Update,
    Delete,
    Search,
    BatchRead,
    BatchUpdate,
    Merge,
    Properties,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Get => "get",
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Search => "search",
            Self::BatchRead => "batch_read",
            Self::BatchUpdate => "batch_update",
            Self::Merge => "merge",
            Self::Properties => "properties",
        }
    }

    fn is_write(self) -> bool {
        matches!(
            self,
            Self::Create | Self::Update | Self::Delete | Self::BatchUpdate | Self::Merge
        )
    }
}

/// The whole account: contacts, limiter, fault script and counters, under one lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) store: Store,
    pub(crate) limiter: Limiter,
    pub(crate) faults: FaultQueue,
    pub(crate) stats: Stats,
    /// Requests let through and not yet answered.
    in_progress: u32,
}

impl State {
    pub(crate) fn new(config: &FakeConfig) -> Self {
        Self {
            store: Store::new(config.search_lag),
            limiter: Limiter::new(config),
            faults: FaultQueue::default(),
            stats: Stats::default(),
            in_progress: 0,
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            max_in_window: self.limiter.max_in_window,
            max_searches_per_second: self.limiter.max_searches_per_second,
            ..self.stats.clone()
        }
    }

    pub(crate) fn reset_stats(&mut self) {
        self.stats = Stats::default();
        self.limiter.max_in_window = 0;
        self.limiter.max_searches_per_second = 0;
    }

    /// Auth, then the rate limit, then the fault script.
    fn admit(&mut self, ep: Endpoint, authorized: bool) -> Result<Admitted, Refusal> {
        if !authorized {
            self.stats.unauthorized += 1;
            return Err(Refusal::Unauthorized);
        }
        *self.stats.requests.entry(ep.name().into()).or_default() += 1;
        let rate = match self.limiter.admit(ep == Endpoint::Search) {
            Verdict::Admit(rate) => rate,
            Verdict::Limited(policy, rate) => {
                *self.stats.rate_limited.entry(policy.into()).or_default() += 1;
                return Err(Refusal::Limited(policy, rate));
            }
        };
        let fault = self.faults.take(ep.is_write());
        if fault.is_some() {
            self.stats.faults_injected += 1;
        }
        self.in_progress += 1;
        self.stats.max_concurrent = self.stats.max_concurrent.max(self.in_progress);
        Ok(Admitted { rate, fault })
    }
}

/// A request let through: its rate-limit headers and the fault to inject, if any.
struct Admitted {
    rate: Option<RateHeaders>,
    fault: Option<Fault>,
}

/// Why a request is turned away before its handler runs.
enum Refusal {
    Unauthorized,
    Limited(&'static str, Option<RateHeaders>),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => ApiError::unauthorized().into_response(),
            Self::Limited(policy, rate) => {
                let mut answer = rate_limited(policy);
                if let Some(rate) = rate {
                    rate.write(answer.headers_mut());
                }
                answer
            }
        }
    }
}

/// The account shared by the servers and the test helpers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: FakeConfig,
    pub(crate) state: Mutex<State>,
}

impl Shared {
    /// A panic in a handler must not wedge every later request, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(scheme, token)| {
                scheme.eq_ignore_ascii_case("bearer") && token.trim() == self.config.token
            })
    }
}

/// What a handler's work produces: a JSON answer or an error answer.
pub(crate) type Outcome = Result<(StatusCode, Value), ApiError>;

/// Runs one request: gate, optional fault, `work` under the lock, headers on the answer.
pub(crate) async fn run<F>(
    shared: &Shared,
    ep: Endpoint,
    headers: &HeaderMap,
    conn: &ConnAddr,
    work: F,
) -> Response
where
    F: FnOnce(&mut State) -> Outcome,
{
    let authorized = shared.authorized(headers);
    let admitted = shared.lock().admit(ep, authorized);
    let Admitted { rate, fault } = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal.into_response(),
    };
    let mut answer = match fault {
        Some(Fault::ServerError { status, .. }) => ApiError::injected(status).into_response(),
        Some(Fault::Locked { .. }) => ApiError::locked().into_response(),
        Some(Fault::Slow { delay, .. }) => {
            tokio::time::sleep(delay).await;
            respond(work(&mut shared.lock()))
        }
        Some(Fault::DropAfterApply { .. }) => {
            let answer = respond(work(&mut shared.lock()));
            conn.kill();
            answer
        }
        None => respond(work(&mut shared.lock())),
    };
    let mut state = shared.lock();
    state.in_progress = state.in_progress.saturating_sub(1);
    drop(state);
    if let Some(rate) = rate {
        rate.write(answer.headers_mut());
    }
    answer
}

fn respond(outcome: Outcome) -> Response {
    match outcome {
        // A 204 must not carry a body.
        Ok((StatusCode::NO_CONTENT, _)) => StatusCode::NO_CONTENT.into_response(),
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(error) => error.into_response(),
    }
}
