//! The outbox: the stage pushes leadsync owes the CRMs.

use super::{OutboxEntry, StoreError};
use crate::model::PersonId;
use leadsync_connector_core::Tier;
use std::collections::BTreeMap;

/// Draining and reading the outbox outside a transaction. Reads are read-only snapshots of the
/// last committed state.
pub trait OutboxStore {
    /// Up to `limit` pending pushes of a connector with an id above `after`, oldest first.
    fn pending_pushes(
        &mut self,
        connector: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Records what happened to pushes: `done`, `dead` (with the reason), or still `pending`
    /// after a failed attempt (with the reason). All of `results` in one transaction of its
    /// own; a `done` push also marks its record as holding the pushed tier.
    fn push_results(&mut self, results: &[(i64, &str, Option<String>)]) -> Result<(), StoreError>;
    /// A person's outbox entries, in id order.
    fn outbox_of(&mut self, person: PersonId) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Entries per status for a connector.
    fn outbox_counts(&mut self, connector: &str) -> Result<BTreeMap<String, u64>, StoreError>;
    /// The newest dead-lettered pushes (any connector), newest first.
    fn dead_letters(&mut self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Sends a dead-lettered push again: the entry becomes pending with no attempts and no
    /// reason, and the next drain takes it. False when `id` is no dead letter (never one, or
    /// already retried).
    fn retry_dead(&mut self, id: i64) -> Result<bool, StoreError>;
    /// The oldest `limit` entries of a connector with `status`, in id order.
    fn outbox_with_status(
        &mut self,
        connector: &str,
        status: &str,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError>;
}

/// Planning pushes, inside a [`StoreTx`](super::StoreTx): an entry is written in the same
/// transaction as the tier change that asks for it, so a tier is never stored without its
/// pushes (nor a push without its tier).
pub trait OutboxTx {
    /// Asks for `tier` on a CRM record: a new pending entry, or the existing one made pending
    /// again when its tier differs or it was done (the caller saw the record below `tier`
    /// since) or kept. A pending or dead entry of the same tier stays as it is.
    fn plan_push(
        &mut self,
        connector: &str,
        record_id: &str,
        person: PersonId,
        tier: Tier,
    ) -> Result<(), StoreError>;
    /// [`Self::plan_push`] for many records at once: `(connector, record_id, person, tier)`,
    /// each record at most once.
    fn plan_pushes(&mut self, entries: &[(&str, &str, PersonId, Tier)]) -> Result<(), StoreError> {
        for (connector, record_id, person, tier) in entries {
            self.plan_push(connector, record_id, *person, *tier)?;
        }
        Ok(())
    }
    /// The outbox entry of a CRM record, if any: its tier and status.
    fn push_entry(
        &mut self,
        connector: &str,
        record_id: &str,
    ) -> Result<Option<(Tier, String)>, StoreError>;
    /// Records that a person lowered a CRM record's stage below `tier` and that the connector
    /// respects it: an entry with status `kept` and the reason, never pushed.
    fn keep_downgrade(
        &mut self,
        connector: &str,
        record_id: &str,
        person: PersonId,
        tier: Tier,
        reason: &str,
    ) -> Result<(), StoreError>;
    /// Closes a `kept` finding of a record that holds its tier again.
    fn close_kept(&mut self, connector: &str, record_id: &str) -> Result<(), StoreError>;
}
