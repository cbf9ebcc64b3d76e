//! The request budget, following what HubSpot says about it.
//!
//! Every non-search answer carries `X-HubSpot-RateLimit-Max`, `-Remaining`,
//! `-Interval-Milliseconds` and (for private apps) `-Daily-Remaining`. The limiter starts from the
//! configured shape and adopts the account's real one as soon as an answer states it; a window
//! that another app of the account has emptied (`Remaining: 0`) pauses requests for an interval;
//! and when the daily budget left falls to the reserve, requests stop until the reset, so other
//! integrations of the account keep working.

use crate::error::ApiError;
use chrono::{DateTime, Days, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

pub(crate) struct Budget {
    /// `(max, window)` the limiter is shaped for.
    shape: Mutex<(u32, Duration)>,
    limiter: Mutex<Arc<DefaultDirectRateLimiter>>,
    pause_until: Mutex<Option<Instant>>,
    stopped_until: Mutex<Option<DateTime<Utc>>>,
    daily_remaining: Mutex<Option<u64>>,
    /// `(Remaining, Max)` of the rolling window, as the last answer stated them.
    window_remaining: Mutex<Option<(u64, u64)>>,
    reserve: u64,
    zone: chrono_tz::Tz,
}

impl Budget {
    pub(crate) fn new(max: u32, window: Duration, reserve: u64, zone: chrono_tz::Tz) -> Budget {
        Budget {
            shape: Mutex::new((max, window)),
            limiter: Mutex::new(Arc::new(limiter(max, window))),
            pause_until: Mutex::new(None),
            stopped_until: Mutex::new(None),
            daily_remaining: Mutex::new(None),
            window_remaining: Mutex::new(None),
            reserve,
            zone,
        }
    }

    /// Refuses once the daily reserve is reached, until the reset. Searches count against the
    /// daily budget too, so both lanes ask.
    pub(crate) fn check_daily(&self) -> Result<(), ApiError> {
        let mut stopped = lock(&self.stopped_until);
        match *stopped {
            Some(until) if Utc::now() < until => Err(ApiError::DailyBudget),
            Some(_) => {
                *stopped = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Waits for a permit; refuses once the daily reserve is reached, until the reset.
    pub(crate) async fn permit(&self) -> Result<(), ApiError> {
        self.check_daily()?;
        let pause = *lock(&self.pause_until);
        if let Some(until) = pause {
            tokio::time::sleep_until(until).await;
        }
        let limiter = Arc::clone(&lock(&self.limiter));
        limiter.until_ready().await;
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
        {
            let mut shape = lock(&self.shape);
            if *shape != (max as u32, interval) {
                tracing::info!(
                    max,
                    interval_ms = interval.as_millis() as u64,
                    "Following HubSpot's rate limit."
                );
                *shape = (max as u32, interval);
                *lock(&self.limiter) = Arc::new(limiter(max as u32, interval));
            }
        }
        if let (Some(left), Some(max)) = (number("x-hubspot-ratelimit-remaining"), max) {
            *lock(&self.window_remaining) = Some((left, max));
        }
        if number("x-hubspot-ratelimit-remaining") == Some(0) {
            let wait = interval.unwrap_or(lock(&self.shape).1);
            *lock(&self.pause_until) = Some(Instant::now() + wait);
        }
        if let Some(left) = number("x-hubspot-ratelimit-daily-remaining") {
            *lock(&self.daily_remaining) = Some(left);
            if left <= self.reserve {
                let reset = next_midnight(Utc::now(), self.zone);
                tracing::warn!(left, reserve = self.reserve, %reset, "Daily request budget down to the reserve; pausing until the reset.");
                *lock(&self.stopped_until) = Some(reset);
            }
        }
    }

    /// Until when requests are stopped because the daily reserve was reached.
    pub(crate) fn stopped_until(&self) -> Option<DateTime<Utc>> {
        *lock(&self.stopped_until)
    }

    /// Restores a stop recorded before a restart (ignored once passed).
    pub(crate) fn restore_stop(&self, until: DateTime<Utc>) {
        if until > Utc::now() {
            *lock(&self.stopped_until) = Some(until);
        }
    }

    /// The daily requests left, as last reported.
    pub(crate) fn daily_remaining(&self) -> Option<u64> {
        *lock(&self.daily_remaining)
    }

    /// `(Remaining, Max)` of the rolling window, as last reported.
    pub(crate) fn window_remaining(&self) -> Option<(u64, u64)> {
        *lock(&self.window_remaining)
    }
}

/// The next midnight in the account's time zone, when the daily budget resets. Where midnight
/// does not exist that day (a daylight-saving jump at 00:00), the first instant after it.
fn next_midnight(now: DateTime<Utc>, zone: chrono_tz::Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    let local_today = now.with_timezone(&zone).date_naive();
    let tomorrow = local_today
        .checked_add_days(Days::new(1))
        .expect("a date after today");
    let midnight = tomorrow.and_hms_opt(0, 0, 0).expect("midnight exists");
    match zone.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        chrono::LocalResult::None => zone
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map_or(now + chrono::Duration::days(1), |t| t.with_timezone(&Utc)),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A limiter that never lets more than `per_period` requests into any rolling `period`.
///
/// GCRA with a burst of N admits up to about 2N in a sliding window (the burst, then the
/// refill), while HubSpot counts a rolling window. So: no burst, evenly spaced permits, 5% further
/// apart than the budget allows, so network jitter cannot push a window over the limit.
pub(crate) fn limiter(per_period: u32, period: Duration) -> DefaultDirectRateLimiter {
    let unlimited = || Quota::per_second(NonZeroU32::new(1_000_000).expect("non-zero"));
    let quota = match per_period {
        0 => unlimited(),
        n => Quota::with_period(spacing(n, period)).unwrap_or_else(unlimited),
    };
    RateLimiter::direct(quota)
}

/// The time between two permits: 105% of an even share of the period.
pub(crate) fn spacing(n: u32, period: Duration) -> Duration {
    period.mul_f64(MARGIN) / n.max(1)
}

/// 1/1.05 ≈ 95% of the budget at steady state: above the 90% the push must use.
const MARGIN: f64 = 1.05;

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

    #[test]
    fn the_limiter_keeps_a_margin_below_the_budget() {
        let ten = Duration::from_secs(10);
        assert_eq!(spacing(100, ten), Duration::from_millis(105));
        assert_eq!(
            spacing(5, Duration::from_secs(1)),
            Duration::from_millis(210)
        );
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
        let reset = *lock(&b.stopped_until);
        assert_eq!(reset.unwrap().time(), chrono::NaiveTime::MIN);
    }

    #[test]
    fn the_daily_reset_is_midnight_in_the_accounts_zone() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 3, 30, 0).unwrap();
        // 03:30 UTC is 22:30 the day before in New York (UTC-5): midnight there is 05:00 UTC.
        let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            next_midnight(now, ny),
            Utc.with_ymd_and_hms(2026, 11, 24, 5, 0, 0).unwrap()
        );
        assert_eq!(
            next_midnight(now, chrono_tz::UTC),
            Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap()
        );
        // Summer time: UTC-4.
        let july = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(
            next_midnight(july, ny),
            Utc.with_ymd_and_hms(2026, 7, 2, 4, 0, 0).unwrap()
        );
    }

    #[test]
    fn the_account_shape_replaces_the_configured_one() {
        let b = Budget::new(100, Duration::from_secs(10), 0, chrono_tz::UTC);
        b.observe(&headers(&[
            ("x-hubspot-ratelimit-max", "190"),
            ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
        ]));
        assert_eq!(*lock(&b.shape), (190, Duration::from_secs(10)));
        b.observe(&headers(&[("x-hubspot-ratelimit-remaining", "0")]));
        assert!(
            lock(&b.pause_until).is_some(),
            "an emptied window pauses requests"
        );
    }
}
