//! Notifications of overdue follow-ups: each breach of a commitment (a person, a commitment, a
//! deadline) recorded once and sent once, retried until the receiver takes it.

use super::StoreError;
use crate::model::PersonId;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// One breach: a person not followed up by a commitment's deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub person: PersonId,
    pub sla: String,
    pub due_at: DateTime<Utc>,
    /// The JSON body to send.
    pub payload: String,
    /// Tries so far.
    pub attempts: u32,
}

/// The columns an outcome sets: status, last error, sent at.
pub(in crate::store) fn outcome_columns(
    outcome: Result<(), &str>,
    now: DateTime<Utc>,
) -> (&'static str, Option<&str>, Option<String>) {
    match outcome {
        Ok(()) => ("sent", None, Some(super::codec::ts(&now))),
        Err(e) => ("waiting", Some(e), None),
    }
}

/// Recording and sending breaches, each call a transaction of its own.
pub trait NotifyStore {
    /// Records the breaches not recorded yet (the same person, commitment and deadline is one
    /// breach whatever the number of checks or replicas that find it); answers how many were
    /// new. New ones wait to be sent from `now`.
    fn add_breaches(&mut self, breaches: &[Breach], now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Takes up to `limit` breaches to send now: those waiting whose time has come, and those
    /// taken at `stale_before` or earlier without an outcome (their sender died). A taken
    /// breach is handed to nobody else until then.
    fn take_breaches(
        &mut self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Breach>, StoreError>;
    /// What sending did: `Ok` — sent, never sent again; `Err(reason)` — waiting again, until
    /// `retry_at`.
    fn breach_outcome(
        &mut self,
        breach: &Breach,
        outcome: Result<(), &str>,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Breaches per status: `waiting`, `taken`, `sent`.
    fn breach_counts(&mut self) -> Result<BTreeMap<String, u64>, StoreError>;
}
