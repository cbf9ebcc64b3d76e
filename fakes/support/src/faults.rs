//! The queue of scripted faults, shared by the fakes. Each fake has its own fault enum (the
//! failures its CRM produces); the queue only needs to count a fault's uses down and to know
//! whether it waits for a write.

use std::collections::VecDeque;

/// A fault a fake can queue: it applies to `times` requests, and some kinds apply to writes only.
pub trait ScriptedFault: Clone {
    /// How many more requests this fault applies to.
    fn times_mut(&mut self) -> &mut u32;

    /// Whether this fault applies to a request that is (`write`) or is not a write. A fault that
    /// only applies to writes (a dropped connection after the write) lets reads pass it by.
    fn matches(&self, write: bool) -> bool;
}

/// Faults waiting for requests, in the order scripted.
#[derive(Debug)]
pub struct FaultQueue<F> {
    queue: VecDeque<F>,
}

impl<F> Default for FaultQueue<F> {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
        }
    }
}

impl<F: ScriptedFault> FaultQueue<F> {
    /// Queues `fault` behind the others; a fault for no requests (`times` 0) is dropped.
    pub fn push(&mut self, mut fault: F) {
        if *fault.times_mut() > 0 {
            self.queue.push_back(fault);
        }
    }

    /// Takes one use of the first fault that matches this request (`times` is 1 in the copy).
    pub fn take(&mut self, write: bool) -> Option<F> {
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

    /// The smallest fault: `write_only` stands for the drop-after-write kinds.
    #[derive(Debug, Clone, PartialEq)]
    struct Fault {
        write_only: bool,
        times: u32,
    }

    impl ScriptedFault for Fault {
        fn times_mut(&mut self) -> &mut u32 {
            &mut self.times
        }

        fn matches(&self, write: bool) -> bool {
            write || !self.write_only
        }
    }

    fn fault(write_only: bool, times: u32) -> Fault {
        Fault { write_only, times }
    }

    #[test]
    fn faults_are_taken_in_order_one_use_at_a_time() {
        let mut q = FaultQueue::default();
        q.push(fault(false, 0));
        q.push(fault(true, 2));
        q.push(fault(false, 1));
        // A read passes the write-only fault by; the zero-times fault was never queued.
        assert_eq!(q.take(false), Some(fault(false, 1)));
        assert_eq!(q.take(false), None);
        assert_eq!(q.take(true), Some(fault(true, 1)));
        assert_eq!(q.take(true), Some(fault(true, 1)));
        assert_eq!(q.take(true), None);
    }
}
