//! The org's API allocation: requests counted over a rolling window (24 hours in Salesforce),
//! so usage falls again as old requests age out.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Requests of the last `window`, oldest first, as (when, how many).
#[derive(Debug)]
pub(crate) struct Usage {
    window: Duration,
    recent: VecDeque<(Instant, u64)>,
    total: u64,
}

impl Usage {
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            recent: VecDeque::new(),
            total: 0,
        }
    }

    /// Requests counted within the window ending `now`.
    pub(crate) fn used(&mut self, now: Instant) -> u64 {
        while let Some(&(at, n)) = self.recent.front() {
            if now.duration_since(at) < self.window {
                break;
            }
            self.recent.pop_front();
            self.total -= n;
        }
        self.total
    }

    pub(crate) fn count(&mut self, now: Instant) {
        self.recent.push_back((now, 1));
        self.total += 1;
    }

    /// Forgets every request and counts `used` as made at `now`.
    pub(crate) fn reset(&mut self, now: Instant, used: u64) {
        self.recent.clear();
        self.total = used;
        if used > 0 {
            self.recent.push_back((now, used));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_age_out_of_the_window() {
        let start = Instant::now();
        let mut usage = Usage::new(Duration::from_secs(10));
        usage.reset(start, 5);
        usage.count(start + Duration::from_secs(4));
        assert_eq!(usage.used(start + Duration::from_secs(9)), 6);
        assert_eq!(usage.used(start + Duration::from_secs(10)), 1);
        assert_eq!(usage.used(start + Duration::from_secs(14)), 0);
    }
}
