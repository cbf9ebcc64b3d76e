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
    /// Slots shared with the other processes on the account, when there are any.
    shared: Mutex<Option<Arc<dyn SharedPace>>>,
}

/// Request slots of one account shared by several processes (replicas of one store): each
/// request takes the account's next slot, whoever asks, so together they stay within the limit.
pub trait SharedPace: Send + Sync {
    /// Takes the account's next slot, `spacing` after the one before it; answers how long to
    /// wait for it. An error (the shared ledger unreachable) falls back to this process's own
    /// spacing.
    fn take(&self, spacing: Duration) -> Result<Duration, String>;
}

impl Permits {
    /// At most `max` requests in any rolling `window` (0 = unlimited).
    pub fn new(max: u32, window: Duration) -> Permits {
        Permits {
            shape: Mutex::new((max, window)),
            limiter: Mutex::new(Arc::new(limiter(max, window))),
            pause_until: Mutex::new(None),
            shared: Mutex::new(None),
        }
    }

    /// Takes every permit from `pace` from now on, instead of this process's own limiter.
    pub fn share(&self, pace: Arc<dyn SharedPace>) {
        *lock(&self.shared) = Some(pace);
    }

    /// Waits for a pause to end, then for a permit.
    pub async fn acquire(&self) {
        let pause = *lock(&self.pause_until);
        if let Some(until) = pause {
            tokio::time::sleep_until(until).await;
        }
        let shared = lock(&self.shared).clone();
        let (max, window) = self.shape();
        if let Some(pace) = shared
            && max > 0
        {
            let spacing = spacing(max, window);
            loop {
                match pace.take(spacing) {
                    Ok(wait) => {
                        let slot = Instant::now() + wait;
                        tokio::time::sleep_until(slot).await;
                        // Woken long after the slot (the process was paused): the slot is
                        // history, and sending now could crowd the next ones; take another.
                        if Instant::now() < slot + spacing / 2 {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "The shared request pace is out of reach; spacing this process's requests on its own.");
                        break;
                    }
                }
            }
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

    /// Slots kept in memory, as the store keeps them for replicas.
    struct Slots(Mutex<Option<Instant>>);

    impl SharedPace for Slots {
        fn take(&self, spacing: Duration) -> Result<Duration, String> {
            let now = Instant::now();
            let mut next = lock(&self.0);
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + spacing);
            Ok(slot - now)
        }
    }

    #[tokio::test]
    async fn permits_that_share_a_pace_together_keep_its_spacing() {
        // GIVEN two processes' permits on one account of 10 requests per 200 ms
        let window = Duration::from_millis(200);
        let pace: Arc<dyn SharedPace> = Arc::new(Slots(Mutex::new(None)));
        let (a, b) = (Permits::new(10, window), Permits::new(10, window));
        a.share(Arc::clone(&pace));
        b.share(pace);
        // WHEN each takes ten permits at once
        let start = Instant::now();
        let each = |p: &'static Permits| async move {
            for _ in 0..10 {
                p.acquire().await;
            }
        };
        let (a, b): (&'static Permits, &'static Permits) =
            (Box::leak(Box::new(a)), Box::leak(Box::new(b)));
        tokio::join!(each(a), each(b));
        // THEN the twenty permits took two windows (less one spacing), not one
        let spacing = spacing(10, window);
        assert!(start.elapsed() >= spacing * 19, "{:?}", start.elapsed());
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
