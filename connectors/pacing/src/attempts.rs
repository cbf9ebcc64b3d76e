//! The attempt loop every CRM client runs around one request: try, classify the failure, wait
//! (a rate limit) or back off (a failure), and give up after a bounded number of each.

use crate::retry::{Retry, backoff};
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

/// How many attempts a request gets, and how its backoff grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    /// Attempts that failed for a reason other than a rate limit, before giving up.
    pub max_failed: u32,
    /// Rate-limit waits before giving up: waiting for a limit is not a failed attempt, but a
    /// request that never gets through must still end.
    pub max_rate_limit_waits: u32,
    /// The first backoff's ceiling; it doubles with each failure, up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts {
            max_failed: 6,
            max_rate_limit_waits: 30,
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(30),
        }
    }
}

/// Why a request ended without an answer.
#[derive(Debug)]
pub enum GaveUp<E> {
    /// The last error: it never retries, or the attempts ran out.
    Failed(E),
    /// The daily budget is spent (the classification said [`Retry::StopForToday`]).
    StopForToday(E),
}

impl Attempts {
    /// Runs `attempt` until it succeeds or `decide` (what its error means) says to stop. Every
    /// retry is logged with `what`.
    pub async fn run<T, E: Display, F: Future<Output = Result<T, E>>>(
        self,
        what: &str,
        mut attempt: impl FnMut() -> F,
        decide: impl Fn(&E) -> Retry,
    ) -> Result<T, GaveUp<E>> {
        let (mut failed, mut waited) = (0u32, 0u32);
        loop {
            let error = match attempt().await {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            match decide(&error) {
                Retry::Never => return Err(GaveUp::Failed(error)),
                Retry::StopForToday => return Err(GaveUp::StopForToday(error)),
                Retry::After(wait) if waited < self.max_rate_limit_waits => {
                    waited += 1;
                    tracing::warn!(
                        what,
                        wait_ms = wait.as_millis() as u64,
                        "Rate limited; waiting."
                    );
                    tokio::time::sleep(wait).await;
                }
                Retry::Backoff if failed + 1 < self.max_failed => {
                    failed += 1;
                    let seed = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos() as u64);
                    let wait = backoff(failed, self.backoff_base, self.backoff_cap, seed);
                    tracing::warn!(what, attempt = failed, error = %error, "Retrying.");
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(GaveUp::Failed(error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn quick() -> Attempts {
        Attempts {
            max_failed: 3,
            max_rate_limit_waits: 2,
            backoff_base: Duration::from_millis(1),
            backoff_cap: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn failures_back_off_a_bounded_number_of_times_and_waits_are_counted_apart() {
        let calls = Cell::new(0);
        let out: Result<(), _> = quick()
            .run(
                "t",
                || {
                    calls.set(calls.get() + 1);
                    async { Err::<(), _>("boom") }
                },
                |_| Retry::Backoff,
            )
            .await;
        assert!(matches!(out, Err(GaveUp::Failed("boom"))));
        assert_eq!(calls.get(), 3);

        let calls = Cell::new(0);
        let out = quick()
            .run(
                "t",
                || {
                    calls.set(calls.get() + 1);
                    let n = calls.get();
                    async move { if n < 5 { Err("limited") } else { Ok(n) } }
                },
                |_| Retry::After(Duration::from_millis(1)),
            )
            .await;
        // Two rate-limit waits allowed: the third limited answer ends it.
        assert!(matches!(out, Err(GaveUp::Failed("limited"))));
        assert_eq!(calls.get(), 3);

        let calls = Cell::new(0);
        let out = quick()
            .run(
                "t",
                || {
                    calls.set(calls.get() + 1);
                    let n = calls.get();
                    async move { if n < 3 { Err("5xx") } else { Ok(n) } }
                },
                |_| Retry::Backoff,
            )
            .await;
        assert_eq!(out.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_spent_daily_budget_and_a_permanent_error_end_at_once() {
        let calls = Cell::new(0);
        let fail = |e: &'static str| {
            calls.set(calls.get() + 1);
            async move { Err::<(), _>(e) }
        };
        let out = quick()
            .run("t", || fail("daily"), |_| Retry::StopForToday)
            .await;
        assert!(matches!(out, Err(GaveUp::StopForToday("daily"))));
        let out = quick().run("t", || fail("400"), |_| Retry::Never).await;
        assert!(matches!(out, Err(GaveUp::Failed("400"))));
        assert_eq!(calls.get(), 2);
    }
}
