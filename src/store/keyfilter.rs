//! Which identity keys the store may hold: a Bloom filter over every stored key, so that linking
//! a page asks the database only about keys it may hold. Most keys of a first backfill or of a
//! new drop are new, and an index lookup that finds nothing costs as much as one that finds a
//! row.
//!
//! The filter answers "certainly absent" or "maybe present", never wrongly "absent", as long as
//! the backend keeps it whole:
//! - it is built from a scan of `identity_keys`, and every key the store's connection inserts is
//!   added (keys of a transaction that rolls back stay in it: they only cost a lookup);
//! - keys are never deleted or re-keyed, only inserted;
//! - a backend drops its filter as soon as it cannot rule out that another connection inserted
//!   keys since (SQLite: `data_version`, in `sqlite/tx.rs`; PostgreSQL: the last transaction
//!   that wrote keys, in `postgres/keyfilter.rs`), and builds it again when next needed.

use std::hash::BuildHasher;

/// Bits per key the filter is sized for: with four probes, about 0.2% of absent keys are
/// looked up anyway.
const BITS_PER_KEY: usize = 16;
/// Probes per key.
const PROBES: u64 = 4;
/// The fewest keys a filter is sized for (128 KiB of bits).
pub(crate) const MIN_KEYS: usize = 1 << 16;

pub(crate) struct KeyFilter {
    bits: Vec<u64>,
    /// The number of bits minus one (a power of two minus one).
    mask: u64,
    hasher: foldhash::fast::RandomState,
    /// Keys added, and how many the filter is sized for.
    added: usize,
    capacity: usize,
}

impl KeyFilter {
    pub(crate) fn with_capacity(keys: usize) -> Self {
        let capacity = keys.max(MIN_KEYS);
        let bits = (capacity * BITS_PER_KEY).next_power_of_two();
        KeyFilter {
            bits: vec![0; bits / 64],
            mask: bits as u64 - 1,
            hasher: foldhash::fast::RandomState::default(),
            added: 0,
            capacity,
        }
    }

    /// Probe positions: double hashing over the two halves of one 64-bit hash.
    fn probes(&self, kind: &str, value: &str) -> impl Iterator<Item = u64> + use<> {
        let h = self.hasher.hash_one((kind, value));
        let (a, b) = (h, h.rotate_left(32) | 1);
        let mask = self.mask;
        (0..PROBES).map(move |i| a.wrapping_add(i.wrapping_mul(b)) & mask)
    }

    pub(crate) fn insert(&mut self, kind: &str, value: &str) {
        for bit in self.probes(kind, value) {
            self.bits[(bit / 64) as usize] |= 1 << (bit % 64);
        }
        self.added += 1;
    }

    /// `false` only for keys never inserted.
    pub(crate) fn may_contain(&self, kind: &str, value: &str) -> bool {
        self.probes(kind, value)
            .all(|bit| self.bits[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }

    /// More keys than it was sized for: false positives grow; time to build a bigger one.
    pub(crate) fn is_full(&self) -> bool {
        self.added > self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inserted_key_is_maybe_present_and_few_absent_ones_are() {
        let mut filter = KeyFilter::with_capacity(100_000);
        for i in 0..100_000 {
            filter.insert("email", &format!("person{i}@example.com"));
        }
        assert!(!filter.is_full());
        for i in 0..100_000 {
            assert!(filter.may_contain("email", &format!("person{i}@example.com")));
        }
        let wrongly = (100_000..200_000)
            .filter(|i| filter.may_contain("email", &format!("person{i}@example.com")))
            .count();
        assert!(
            wrongly < 1_000,
            "{wrongly} of 100,000 absent keys maybe present"
        );
        // The kind is part of the key.
        let other_kind = (0..100_000)
            .filter(|i| filter.may_contain("phone", &format!("person{i}@example.com")))
            .count();
        assert!(other_kind < 1_000, "{other_kind}");
    }

    #[test]
    fn a_filter_fills_past_its_capacity() {
        let mut filter = KeyFilter::with_capacity(0);
        for i in 0..=MIN_KEYS {
            filter.insert("phone", &i.to_string());
        }
        assert!(filter.is_full());
    }
}
