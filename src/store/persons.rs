//! Persons, their identity keys, tier history and conflicts.

use super::{Conflict, StoreError, TierChange};
use crate::model::{Key, KeyMap, Person, PersonId};

/// Reading persons outside a transaction. Each call is read-only and sees the last committed
/// state as of its start (a snapshot: a transaction committing meanwhile is seen whole or not
/// at all).
pub trait PersonStore {
    fn person(&mut self, id: PersonId) -> Result<Option<Person>, StoreError>;
    /// Up to `limit` persons with ids above `after`, in id order; with `stale_for`, only those
    /// not qualified by that rules version. Each call is its own snapshot: paging through every
    /// person while others write may see a later page of a newer state.
    fn persons_after(
        &mut self,
        after: PersonId,
        limit: usize,
        stale_for: Option<&str>,
    ) -> Result<Vec<Person>, StoreError>;
    /// The person holding an identity key (`email`, `phone`, `crm:…`), if any.
    fn person_by_key(&mut self, kind: &str, value: &str) -> Result<Option<PersonId>, StoreError>;
    /// A person's tier history, in the order it was appended.
    fn tier_history(&mut self, person: PersonId) -> Result<Vec<TierChange>, StoreError>;
    /// The unresolved conflicts a person is part of (on either side), oldest first.
    fn conflicts_of(&mut self, person: PersonId) -> Result<Vec<Conflict>, StoreError>;
}

/// Writing persons, inside a [`StoreTx`](super::StoreTx): nothing is visible to others before
/// the transaction commits, and reads here see this transaction's own writes.
pub trait PersonTx {
    /// The owners of those of `keys` that are held (committed, or inserted by this
    /// transaction), in one pass.
    fn find_keys(&mut self, keys: &[Key]) -> Result<KeyMap<PersonId>, StoreError>;
    /// Inserts keys. A key already held is a [`StoreError::Constraint`]; the transaction must
    /// then be dropped (rows of the failed call may have been written into it).
    fn insert_keys(&mut self, keys: &[(Key, PersonId)]) -> Result<(), StoreError>;
    /// The ids of one CRM a person holds: the values of keys of `kind`, a CRM kind (`crm:…`;
    /// only those are indexed by person).
    fn crm_ids_of(&mut self, person: PersonId, kind: &str) -> Result<Vec<String>, StoreError>;

    /// A fresh person id, never handed out before (ids grow; the store has one writer at a
    /// time, so two transactions never hand out the same id).
    fn next_person_id(&mut self) -> Result<PersonId, StoreError>;
    /// The persons among `ids` that exist.
    fn load_persons(&mut self, ids: &[PersonId]) -> Result<Vec<Person>, StoreError>;
    /// Inserts or replaces persons.
    fn save_persons(&mut self, persons: &[&Person]) -> Result<(), StoreError>;
    /// Records that these persons were qualified by `version` and nothing else changed.
    fn mark_qualified(&mut self, ids: &[PersonId], version: &str) -> Result<(), StoreError>;
    /// Appends tier changes to the history, in order. Written in the same transaction as the
    /// persons' new tiers and the outbox entries they plan.
    fn add_tier_changes(&mut self, changes: &[TierChange]) -> Result<(), StoreError>;
    /// Records a conflict for review; the same conflict recorded twice is kept once.
    fn add_conflict(&mut self, conflict: &Conflict) -> Result<(), StoreError>;
}
