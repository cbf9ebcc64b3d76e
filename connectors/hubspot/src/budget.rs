//! The request budget, following what HubSpot says about it.
//!
//! Every non-search answer carries `X-HubSpot-RateLimit-Max`, `-Remaining`,
//! `-Interval-Milliseconds` and (for private apps) `-Daily-Remaining`. The permits start from the
//! configured shape and adopt the account's real one as soon as an answer states it; a window
//! that another app of the account has emptied (`Remaining: 0`) pauses requests for an interval;
//! and when the daily budget left falls to the reserve, requests stop until the reset, so other
//! integrations of the account keep working. The mechanics are `leadsync-pacing`'s; the header
//! names are HubSpot's.

use crate::error::ApiError;
use chrono::{DateTime, Utc};
use leadsync_pacing::{DailyLedger, Permits};
use reqwest::header::HeaderMap;
use std::sync::Mutex;
use std::time::Duration;

pub(crate) struct Budget {
    permits: Permits,
    daily: DailyLedger,
    /// `(Remaining, Max)` of the rolling window, as the last answer stated them.
    window_remaining: Mutex<Option<(u64, u64)>>,
}

impl Budget {
    pub(crate) fn new(max: u32, window: Duration, reserve: u64, zone: chrono_tz::Tz) -> Budget {
        Budget {
            permits: Permits::new(max, window),
            daily: DailyLedger::new(reserve, zone),
            window_remaining: Mutex::new(None),
        }
    }

    /// Refuses once the daily reserve is reached, until the reset. Searches count against the
    /// daily budget too, so both lanes ask.
    pub(crate) fn check_daily(&self) -> Result<(), ApiError> {
        self.daily.check().map_err(|_| ApiError::DailyBudget)
    }

    /// See [`Permits::share`].
    pub(crate) fn share_pace(&self, pace: std::sync::Arc<dyn leadsync_pacing::SharedPace>) {
        self.permits.share(pace);
    }

    /// Waits for a permit; refuses once the daily reserve is reached, until the reset.
    pub(crate) async fn permit(&self) -> Result<(), ApiError> {
        self.check_daily()?;
        self.permits.acquire().await;
        Ok(())
    }

    /// Learns from an answer's rate-limit headers.
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        let max = number("x-hubspot-ratelimit-max");
        let interval =
            number("x-hubspot-ratelimit-interval-milliseconds").map(Duration::from_millis);
        if let (Some(max), Some(interval)) = (max, interval)
            && max > 0
            && !interval.is_zero()
            && self.permits.reshape(max as u32, interval)
        {
            tracing::info!(
                max,
                interval_ms = interval.as_millis() as u64,
                "Following HubSpot's rate limit."
            );
        }
        if let (Some(left), Some(max)) = (number("x-hubspot-ratelimit-remaining"), max) {
            *lock(&self.window_remaining) = Some((left, max));
        }
        if number("x-hubspot-ratelimit-remaining") == Some(0) {
            self.permits.pause(interval);
        }
        if let Some(left) = number("x-hubspot-ratelimit-daily-remaining")
            && let Some(stop) = self.daily.record(left)
        {
            let (reserve, reset) = (self.daily.reserve(), stop.until);
            tracing::warn!(left, reserve, %reset, "Daily request budget down to the reserve; pausing until the reset.");
        }
    }

    /// Until when requests are stopped because the daily reserve was reached.
    pub(crate) fn stopped_until(&self) -> Option<DateTime<Utc>> {
        self.daily.stopped_until()
    }

    /// Restores a stop recorded before a restart (ignored once passed).
    pub(crate) fn restore_stop(&self, until: DateTime<Utc>) {
        self.daily.restore_stop(until);
    }

    /// The daily requests left, as last reported.
    pub(crate) fn daily_remaining(&self) -> Option<u64> {
        self.daily.remaining()
    }

    /// `(Remaining, Max)` of the rolling window, as last reported.
    pub(crate) fn window_remaining(&self) -> Option<(u64, u64)> {
        *lock(&self.window_remaining)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[tokio::test]
    async fn the_daily_reserve_stops_requests_until_midnight() {
        let b = Budget::new(100, Duration::from_secs(10), 1_000, chrono_tz::UTC);
        b.permit().await.unwrap();
        b.observe(&headers(&[("x-hubspot-ratelimit-daily-remaining", "1500")]));
        b.permit().await.unwrap();
        b.observe(&headers(&[("x-hubspot-ratelimit-daily-remaining", "1000")]));
        assert!(matches!(b.permit().await, Err(ApiError::DailyBudget)));
        assert_eq!(b.daily_remaining(), Some(1000));
        let reset = b.stopped_until();
        assert_eq!(reset.unwrap().time(), chrono::NaiveTime::MIN);
    }

    #[test]
    fn the_account_shape_replaces_the_configured_one() {
        let b = Budget::new(100, Duration::from_secs(10), 0, chrono_tz::UTC);
        b.observe(&headers(&[
            ("x-hubspot-ratelimit-max", "190"),
            ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
        ]));
        assert_eq!(b.permits.shape(), (190, Duration::from_secs(10)));
        b.observe(&headers(&[("x-hubspot-ratelimit-remaining", "0")]));
        assert!(
            b.permits.paused_until().is_some(),
            "an emptied window pauses requests"
        );
    }
}
