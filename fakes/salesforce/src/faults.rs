//! Scripted faults: the failures a real Salesforce produces now and then, on demand.

use std::time::Duration;

use leadsync_fake_support::faults::ScriptedFault;

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

impl ScriptedFault for Fault {
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

/// The queue of this fake's faults, in the order scripted (one copy for both fakes).
pub(crate) type FaultQueue = leadsync_fake_support::faults::FaultQueue<Fault>;

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
