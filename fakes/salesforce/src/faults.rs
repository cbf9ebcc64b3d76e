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
    /// Apply a write (a collections `PATCH`), then cut the connection before the answer is
    /// complete: the client sees a transport error although the write landed. Reads pass this
    /// fault by and it waits for the next write.
    DropAfterWrite { times: u32 },
}

impl Fault {
    fn times_mut(&mut self) -> &mut u32 {
        match self {
            Self::ServerError { times, .. }
            | Self::Slow { times, .. }
            | Self::DropAfterWrite { times } => times,
        }
    }

    fn matches(&self, write: bool) -> bool {
        write || !matches!(self, Self::DropAfterWrite { .. })
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

    /// Takes one use of the first fault that applies to this request (`times` is 1 in the copy).
    pub(crate) fn take(&mut self, write: bool) -> Option<Fault> {
        let at = self.queue.iter().position(|f| f.matches(write))?;
        let queued = &mut self.queue[at];
        let mut taken = queued.clone();
        *taken.times_mut() = 1;
        *queued.times_mut() -= 1;
        if *queued.times_mut() == 0 {
            self.queue.remove(at);
        }
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_after_write_waits_for_a_write() {
        let mut q = FaultQueue::default();
        q.push(Fault::DropAfterWrite { times: 2 });
        q.push(Fault::ServerError {
            status: 503,
            times: 1,
        });
        assert_eq!(
            q.take(false),
            Some(Fault::ServerError {
                status: 503,
                times: 1
            })
        );
        assert_eq!(q.take(false), None);
        assert_eq!(q.take(true), Some(Fault::DropAfterWrite { times: 1 }));
        assert_eq!(q.take(true), Some(Fault::DropAfterWrite { times: 1 }));
        assert_eq!(q.take(true), None);
    }
}
