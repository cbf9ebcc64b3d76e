//! A rate-limit permit before every attempt, retries included. Waiting for a permit is not a
//! failed attempt.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Evenly spaced permits for a rolling window of `max` requests, which the CRM's own answers
/// may reshape (its real limit) or pause (a window another client of the account emptied).
pub struct Permits {
    /// `(max, window)` the limiter is shaped for.
    shape: Mutex<(u32, Duration)>,
    limiter: Mutex<Arc<DefaultDirectRateLimiter>>,
    pause_until: Mutex<Option<Instant>>,
}

impl Permits {
    /// At most `max` requests in any rolling `window` (0 = unlimited).
    pub fn new(max: u32, window: Duration) -> Permits {
        Permits {
            shape: Mutex::new((max, window)),
            limiter: Mutex::new(Arc::new(limiter(max, window))),
            pause_until: Mutex::new(None),
        }
    }

    /// Waits for a pause to end, then for a permit.
    pub async fn acquire(&self) {
        let pause = *lock(&self.pause_until);
        if let Some(until) = pause {
            tokio::time::sleep_until(until).await;
        }
        let limiter = Arc::clone(&lock(&self.limiter));
        limiter.until_ready().await;
    }

    /// Adopts the account's real shape; answers whether it differed from the one in use.
    pub fn reshape(&self, max: u32, window: Duration) -> bool {
        let mut shape = lock(&self.shape);
        if *shape == (max, window) {
            return false;
        }
        *shape = (max, window);
        *lock(&self.limiter) = Arc::new(limiter(max, window));
        true
    }

    /// No permit until `wait` from now (`None`: one window of the current shape).
    pub fn pause(&self, wait: Option<Duration>) {
        let wait = wait.unwrap_or_else(|| lock(&self.shape).1);
        *lock(&self.pause_until) = Some(Instant::now() + wait);
    }

    /// `(max, window)` the permits are shaped for.
    pub fn shape(&self) -> (u32, Duration) {
        *lock(&self.shape)
    }

    /// Until when permits are paused, if they were.
    pub fn paused_until(&self) -> Option<Instant> {
        *lock(&self.pause_until)
    }
}

/// A limiter that never lets more than `per_period` requests into any rolling `period`.
///
/// GCRA with a burst of N admits up to about 2N in a sliding window (the burst, then the
/// refill), while CRMs count a rolling window. So: no burst, evenly spaced permits, 5% further
/// apart than the budget allows, so network jitter cannot push a window over the limit.
pub fn limiter(per_period: u32, period: Duration) -> DefaultDirectRateLimiter {
    let unlimited = || Quota::per_second(NonZeroU32::new(1_000_000).expect("non-zero"));
    let quota = match per_period {
        0 => unlimited(),
        n => Quota::with_period(spacing(n, period)).unwrap_or_else(unlimited),
    };
    RateLimiter::direct(quota)
}

/// The time between two permits: 105% of an even share of the period.
pub fn spacing(n: u32, period: Duration) -> Duration {
    period.mul_f64(MARGIN) / n.max(1)
}

/// 1/1.05 ≈ 95% of the budget at steady state: above the 90% the push must use.
const MARGIN: f64 = 1.05;

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    async fn a_pause_holds_permits_back_for_a_window_of_the_current_shape() {
        let window = Duration::from_millis(300);
        let permits = Permits::new(100, Duration::from_secs(10));
        assert!(!permits.reshape(100, Duration::from_secs(10)));
        assert!(permits.reshape(100, window));
        assert_eq!(permits.shape(), (100, window));
        let start = Instant::now();
        permits.pause(None);
        permits.acquire().await;
        assert!(start.elapsed() >= window, "{:?}", start.elapsed());
    }
}
