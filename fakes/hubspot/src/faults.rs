//! Scripted faults: the failures a real HubSpot produces now and then, on demand.

use std::time::Duration;

use leadsync_fake_support::faults::ScriptedFault;

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

impl ScriptedFault for Fault {
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

/// The queue of this fake's faults, in the order scripted (one copy for both fakes).
pub(crate) type FaultQueue = leadsync_fake_support::faults::FaultQueue<Fault>;

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
