//! Scripted faults: the failures a real Salesforce produces now and then, on demand.

use std::collections::VecDeque;
use std::time::Duration;

/// A failure to inject into the next REST API requests (`times` of them), in the order scripted.
/// The token endpoint is never faulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer `status` with an `UNKNOWN_EXCEPTION` body without running the request. The request
    /// still counts against the daily allocation: it reached the org.
    ServerError { status: u16, times: u32 },
    /// Sleep `delay`, then handle the request normally.
    Slow { delay: Duration, times: u32 },
}

impl Fault {
    fn times_mut(&mut self) -> &mut u32 {
        match self {
            Self::ServerError { times, .. } | Self::Slow { times, .. } => times,
        }
    }
}

/// Faults waiting for requests.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    queue: VecDeque<Fault>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, mut fault: Fault) {
        if *fault.times_mut() > 0 {
            self.queue.push_back(fault);
        }
    }

    /// Takes one use of the first fault (`times` is 1 in the copy).
    pub(crate) fn take(&mut self) -> Option<Fault> {
        let first = self.queue.front_mut()?;
        let mut taken = first.clone();
        *taken.times_mut() = 1;
        *first.times_mut() -= 1;
        if *first.times_mut() == 0 {
            self.queue.pop_front();
        }
        Some(taken)
    }
}
