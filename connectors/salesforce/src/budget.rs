//! The org's API allocation, as `Sforce-Limit-Info` states it on every answer, and the cap on
//! requests in flight.
//!
//! Salesforce counts requests over a rolling 24 hours, shared by every integration of the org.
//! When an answer says that only the configured reserve is left, requests stop for
//! [`RECHECK`]: as the oldest requests of the window age out, the allocation frees up, and the
//! first answer after the stop tells whether it did (if not, the stop starts again). A stop is
//! kept by the host across restarts.

use crate::error::ApiError;
use crate::wire::ApiUsage;
use chrono::{DateTime, Utc};
use std::sync::Mutex;
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long requests stop once the allocation is down to the reserve.
pub(crate) const RECHECK: chrono::TimeDelta = chrono::TimeDelta::hours(1);
/// Requests in flight at once. Salesforce refuses more than 25 concurrent requests running
/// 20 s or longer (5 on developer orgs); ten keeps well under it and busy enough.
pub(crate) const MAX_IN_FLIGHT: usize = 10;

pub(crate) struct Budget {
    reserve: u64,
    usage: Mutex<Option<ApiUsage>>,
    stopped_until: Mutex<Option<DateTime<Utc>>>,
    in_flight: Semaphore,
}

impl Budget {
    pub(crate) fn new(reserve: u64) -> Budget {
        Budget {
            reserve,
            usage: Mutex::new(None),
            stopped_until: Mutex::new(None),
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
        }
    }

    /// Refuses while stopped at the reserve.
    pub(crate) fn check(&self) -> Result<(), ApiError> {
        match self.stopped_until() {
            Some(until) => Err(ApiError::Allocation { until }),
            None => Ok(()),
        }
    }

    /// A slot among the requests in flight, held until the answer is read.
    pub(crate) async fn slot(&self) -> SemaphorePermit<'_> {
        self.in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }

    /// Learns from an answer's `Sforce-Limit-Info`; stops at the reserve.
    pub(crate) fn observe(&self, headers: &reqwest::header::HeaderMap) {
        let Some(usage) = headers
            .get("sforce-limit-info")
            .and_then(|v| v.to_str().ok())
            .and_then(ApiUsage::parse)
        else {
            return;
        };
        *lock(&self.usage) = Some(usage);
        if usage.left() <= self.reserve {
            self.stop(Utc::now() + RECHECK, usage.left());
        }
    }

    /// The allocation is spent (403 `REQUEST_LIMIT_EXCEEDED`, `TotalRequests`): stop as at the
    /// reserve.
    pub(crate) fn exhausted(&self) -> DateTime<Utc> {
        let until = Utc::now() + RECHECK;
        self.stop(until, 0);
        until
    }

    fn stop(&self, until: DateTime<Utc>, left: u64) {
        let mut stopped = lock(&self.stopped_until);
        if stopped.is_none_or(|s| s < until) {
            tracing::warn!(left, reserve = self.reserve, %until, "Salesforce API allocation down to the reserve; pausing.");
            *stopped = Some(until);
        }
    }

    /// Until when requests are stopped; `None` once that has passed.
    pub(crate) fn stopped_until(&self) -> Option<DateTime<Utc>> {
        let mut stopped = lock(&self.stopped_until);
        if stopped.is_some_and(|until| until <= Utc::now()) {
            *stopped = None;
        }
        *stopped
    }

    /// Restores a stop recorded before a restart (ignored once passed).
    pub(crate) fn restore_stop(&self, until: DateTime<Utc>) {
        if until > Utc::now() {
            let mut stopped = lock(&self.stopped_until);
            if stopped.is_none_or(|s| s < until) {
                *stopped = Some(until);
            }
        }
    }

    /// The allocation as last reported.
    pub(crate) fn usage(&self) -> Option<ApiUsage> {
        *lock(&self.usage)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn info(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("sforce-limit-info", HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn requests_stop_at_the_reserve_and_a_restored_stop_holds() {
        let b = Budget::new(1_000);
        b.observe(&info("api-usage=500/100000"));
        assert!(b.check().is_ok());
        assert_eq!(b.usage().unwrap().left(), 99_500);
        b.observe(&info("api-usage=99000/100000"));
        let Err(ApiError::Allocation { until }) = b.check() else {
            panic!("expected a stop at the reserve")
        };
        assert!(until > Utc::now() + RECHECK - chrono::TimeDelta::minutes(1));

        let restarted = Budget::new(1_000);
        restarted.restore_stop(until);
        assert_eq!(restarted.stopped_until(), Some(until));
        let passed = Budget::new(1_000);
        passed.restore_stop(Utc::now() - chrono::TimeDelta::seconds(1));
        assert!(passed.check().is_ok(), "a stop that has passed is ignored");
    }
}
