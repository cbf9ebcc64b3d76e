//! HubSpot's rate limits: a rolling window for ordinary calls, a daily budget, and a separate
//! per-second limit for search. Only accepted requests count; a 429 costs the client nothing but
//! time, as with the real API.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::config::FakeConfig;

/// Values for the `X-HubSpot-RateLimit-*` headers of one answer (`None` = unlimited, omitted).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateHeaders {
    max: Option<(u32, u32)>,
    interval_ms: u128,
    daily: Option<(u64, u64)>,
}

impl RateHeaders {
    pub(crate) fn write(&self, headers: &mut HeaderMap) {
        let mut put = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        if let Some((max, remaining)) = self.max {
            put("x-hubspot-ratelimit-max", max.to_string());
            put("x-hubspot-ratelimit-remaining", remaining.to_string());
            put(
                "x-hubspot-ratelimit-interval-milliseconds",
                self.interval_ms.to_string(),
            );
        }
        if let Some((daily, remaining)) = self.daily {
            put("x-hubspot-ratelimit-daily", daily.to_string());
            put("x-hubspot-ratelimit-daily-remaining", remaining.to_string());
        }
    }
}

/// The limiter's answer for one request.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Go ahead; non-search answers carry these headers.
    Admit(Option<RateHeaders>),
    /// 429 with this `policyName` (and headers for non-search calls).
    Limited(&'static str, Option<RateHeaders>),
}

#[derive(Debug)]
pub(crate) struct Limiter {
    window: Duration,
    per_window: u32,
    daily_limit: u64,
    per_second: u32,
    /// Accepted non-search requests within the last `window`.
    recent: VecDeque<Instant>,
    /// Accepted searches within the last second.
    searches: VecDeque<Instant>,
    /// UTC day number of `daily_used` (HubSpot resets at midnight in the account's zone).
    day: i64,
    daily_used: u64,
    /// Most non-search requests ever accepted within one window-length interval.
    pub(crate) max_in_window: u32,
    /// Most searches ever accepted within one second.
    pub(crate) max_searches_per_second: u32,
}

fn today() -> i64 {
    chrono::Utc::now().timestamp().div_euclid(86_400)
}

/// Drops instants older than `span` and returns how many remain.
fn prune(queue: &mut VecDeque<Instant>, now: Instant, span: Duration) -> u32 {
    while queue
        .front()
        .is_some_and(|t| now.duration_since(*t) >= span)
    {
        queue.pop_front();
    }
    u32::try_from(queue.len()).unwrap_or(u32::MAX)
}

impl Limiter {
    pub(crate) fn new(config: &FakeConfig) -> Self {
        Self {
            window: config.window,
            per_window: config.requests_per_window,
            daily_limit: config.daily_limit,
            per_second: config.search_per_second,
            recent: VecDeque::new(),
            searches: VecDeque::new(),
            day: today(),
            daily_used: 0,
            max_in_window: 0,
            max_searches_per_second: 0,
        }
    }

    pub(crate) fn admit(&mut self, search: bool) -> Verdict {
        let now = Instant::now();
        let day = today();
        if day != self.day {
            self.day = day;
            self.daily_used = 0;
        }
        let in_window = prune(&mut self.recent, now, self.window);
        let daily_full = self.daily_limit > 0 && self.daily_used >= self.daily_limit;
        if search {
            let in_second = prune(&mut self.searches, now, Duration::from_secs(1));
            if daily_full {
                return Verdict::Limited("DAILY", None);
            }
            if self.per_second > 0 && in_second >= self.per_second {
                return Verdict::Limited("SECONDLY", None);
            }
            self.searches.push_back(now);
            self.daily_used += 1;
            self.max_searches_per_second = self.max_searches_per_second.max(in_second + 1);
            return Verdict::Admit(None);
        }
        if daily_full {
            return Verdict::Limited("DAILY", Some(self.headers(in_window)));
        }
        if self.per_window > 0 && in_window >= self.per_window {
            return Verdict::Limited("TEN_SECONDLY_ROLLING", Some(self.headers(in_window)));
        }
        self.recent.push_back(now);
        self.daily_used += 1;
        self.max_in_window = self.max_in_window.max(in_window + 1);
        Verdict::Admit(Some(self.headers(in_window + 1)))
    }

    fn headers(&self, in_window: u32) -> RateHeaders {
        RateHeaders {
            max: (self.per_window > 0)
                .then(|| (self.per_window, self.per_window.saturating_sub(in_window))),
            interval_ms: self.window.as_millis(),
            daily: (self.daily_limit > 0).then(|| {
                (
                    self.daily_limit,
                    self.daily_limit.saturating_sub(self.daily_used),
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(per_window: u32, daily: u64) -> FakeConfig {
        FakeConfig {
            requests_per_window: per_window,
            daily_limit: daily,
            ..FakeConfig::default()
        }
    }

    #[test]
    fn window_then_daily() {
        let mut l = Limiter::new(&config(2, 3));
        assert!(matches!(l.admit(false), Verdict::Admit(_)));
        assert!(matches!(l.admit(false), Verdict::Admit(_)));
        assert!(matches!(
            l.admit(false),
            Verdict::Limited("TEN_SECONDLY_ROLLING", Some(_))
        ));
        assert!(matches!(l.admit(true), Verdict::Admit(None)));
        assert!(matches!(l.admit(true), Verdict::Limited("DAILY", None)));
        assert_eq!(l.max_in_window, 2);
    }

    #[test]
    fn unlimited_still_measures() {
        let mut l = Limiter::new(&config(0, 0));
        for _ in 0..150 {
            assert!(matches!(l.admit(false), Verdict::Admit(_)));
        }
        assert_eq!(l.max_in_window, 150);
    }
}
