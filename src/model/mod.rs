//! The canonical person: one golden record per human, every value with where it came from.

mod person;

pub use person::{FieldValue, Person, PersonId, Provenance};
