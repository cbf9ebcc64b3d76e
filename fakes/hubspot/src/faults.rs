//! Scripted faults: the failures a real HubSpot produces now and then, on demand.

use std::collections::VecDeque;
use std::time::Duration;

/// A failure to inject into the next matching requests (`times` of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer `status` with an error body without applying anything (any request).
    ServerError { status: u16, times: u32 },
    /// Apply a write, then close the connection without answering, so the client sees a transport
    /// error after a successful write (only write requests match).
    DropAfterApply { times: u32 },
    /// Sleep `delay`, then handle the request normally (any request).
    Slow { delay: Duration, times: u32 },
    /// Answer 423 Locked without applying anything (any request).
    Locked { times: u32 },
}

impl Fault {
    fn times_mut(&mut self) -> &mut u32 {
        match self {
            Self::ServerError { times, .. }
            | Self::DropAfterApply { times }
            | Self::Slow { times, .. }
            | Self::Locked { times } => times,
        }
    }

    fn matches(&self, write: bool) -> bool {
        write || !matches!(self, Self::DropAfterApply { .. })
    }
}

/// Faults waiting for requests, in the order scripted.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    queue: VecDeque<Fault>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        let mut fault = fault;
        if *fault.times_mut() > 0 {
            self.queue.push_back(fault);
        }
    }

    /// Takes one use of the first fault that matches this request (`times` is 1 in the copy).
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
    fn drop_after_apply_skips_reads_and_counts_down() {
        let mut q = FaultQueue::default();
        q.push(Fault::DropAfterApply { times: 2 });
        q.push(Fault::Locked { times: 1 });
        assert_eq!(q.take(false), Some(Fault::Locked { times: 1 }));
        assert_eq!(q.take(false), None);
        assert_eq!(q.take(true), Some(Fault::DropAfterApply { times: 1 }));
        assert_eq!(q.take(true), Some(Fault::DropAfterApply { times: 1 }));
        assert_eq!(q.take(true), None);
    }
}
