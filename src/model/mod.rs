//! The canonical person: one golden record per human, every value with where it came from.

pub mod json;
pub mod matching;
pub(crate) mod number;
mod person;
pub mod region;
pub mod time;

pub use person::{Demotion, FieldValue, Person, PersonId, Provenance, TierChange};

/// An identity key: a value two records must share to be the same person (`email`,
/// `phone`, or a CRM's own id as `crm:CONNECTOR`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// One of a handful of kinds, shared rather than copied into every key: `EMAIL`, `PHONE`,
    /// or one per CRM connector from `resolve::keys::crm_kind`.
    pub kind: &'static str,
    pub value: String,
}

/// A map keyed by identity keys, hashed with foldhash (seeded per process, so crafted emails
/// cannot collide on purpose): linking a page looks every key of every record up.
pub type KeyMap<V> = foldhash::HashMap<Key, V>;
