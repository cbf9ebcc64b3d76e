//! Probabilistic matching's state: each person's blocking keys, merges (the tombstones of
//! merged-away persons), the review queue and the trained models.

use super::{StoreError, StoredRecord};
use crate::model::{Key, PersonId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One person merged into another: the tombstone of `person`, and what is needed to undo it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Merge {
    /// The merged-away person; its id now leads to `into`.
    pub person: PersonId,
    /// The survivor.
    pub into: PersonId,
    /// `match:<score>` (linked automatically) or `review` (a reviewer accepted the pair).
    pub how: String,
    pub score: f64,
    /// Every field's comparison, as scored (JSON, [`crate::resolve::matching::Score`]).
    pub detail: serde_json::Value,
    /// The merged-away person as it was (JSON of [`crate::model::Person`]), for a split.
    pub before: serde_json::Value,
    pub at: DateTime<Utc>,
    /// Set when a reviewer split the merge: the person is its own again.
    pub split_at: Option<DateTime<Utc>>,
}

/// What a reviewer decided about a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Pending,
    Accepted,
    Rejected,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Accepted => "accepted",
            ReviewStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewStatus> {
        match s {
            "pending" => Some(ReviewStatus::Pending),
            "accepted" => Some(ReviewStatus::Accepted),
            "rejected" => Some(ReviewStatus::Rejected),
            _ => None,
        }
    }
}

/// A pair of persons put to a reviewer (or decided by one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub id: i64,
    /// The pair, `a < b`.
    pub a: PersonId,
    pub b: PersonId,
    pub score: f64,
    /// Every field's comparison with its weight (JSON of the score).
    pub detail: serde_json::Value,
    /// A digest of the compared values: a decision stands while it is unchanged.
    pub fingerprint: String,
    pub status: ReviewStatus,
    /// Once rejected, a pair never merges automatically, whatever it scores later.
    pub ever_rejected: bool,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// A pair to queue for review (`a < b`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewDraft {
    pub a: PersonId,
    pub b: PersonId,
    pub score: f64,
    pub detail: serde_json::Value,
    pub fingerprint: String,
}

/// Reading matching state outside a transaction.
pub trait MatchStore {
    /// The newest trained model (JSON of [`crate::resolve::matching::Model`]) and its version.
    fn match_model(&mut self) -> Result<Option<(i64, String)>, StoreError>;
    /// Where a merged-away id leads now (following merges of merges); `None` for a person that
    /// was never merged away (or was split back out).
    fn merged_into(&mut self, person: PersonId) -> Result<Option<PersonId>, StoreError>;
    /// The merges (not split) that went into `survivor`, oldest first.
    fn merges_into(&mut self, survivor: PersonId) -> Result<Vec<Merge>, StoreError>;
    /// Every merge not split, oldest first.
    fn merges(&mut self) -> Result<Vec<Merge>, StoreError>;
    /// The merge (not split) that took `person` away, if any.
    fn active_merge(&mut self, person: PersonId) -> Result<Option<Merge>, StoreError>;
    /// Review items with `status` (every item with `None`), oldest first.
    fn reviews(&mut self, status: Option<ReviewStatus>) -> Result<Vec<ReviewItem>, StoreError>;
    fn review(&mut self, id: i64) -> Result<Option<ReviewItem>, StoreError>;
    /// Up to `limit` source records with row ids above `after`, in row order: the row id, the
    /// person, the record.
    fn records_after(
        &mut self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, PersonId, StoredRecord)>, StoreError>;
}

/// A person's preferred value of each field of its golden record.
pub type PersonValues = std::collections::BTreeMap<leadsync_connector_core::Field, String>;

/// Writing matching state, inside a [`StoreTx`](super::StoreTx).
pub trait MatchTx {
    /// The persons holding any of `blocks`, as `(block, person)`: at most `limit` per block
    /// (a block larger than matching compares needs only to be known as too large).
    fn match_candidates(
        &mut self,
        blocks: &[i64],
        limit: usize,
    ) -> Result<Vec<(i64, PersonId)>, StoreError>;
    /// Adds blocking keys (hashes) of persons; a key already held is kept once. Keys are never
    /// removed: a key a person no longer has, or of a person merged away, only brings a
    /// candidate that scores low or no longer exists.
    fn add_match_blocks(&mut self, persons: &[(PersonId, Vec<i64>)]) -> Result<(), StoreError>;
    /// Each of these persons' golden values, the preferred one per field (no provenance, no
    /// tier): what matching compares, a fraction of the cost of loading the persons.
    fn person_values(
        &mut self,
        ids: &[PersonId],
    ) -> Result<Vec<(PersonId, PersonValues)>, StoreError>;
    /// A person's source records, oldest observation first (this transaction's writes seen).
    fn person_records(&mut self, person: PersonId) -> Result<Vec<StoredRecord>, StoreError>;
    /// The CRM ids these persons hold, as `(person, kind, value)`.
    fn crm_keys_of(
        &mut self,
        persons: &[PersonId],
    ) -> Result<Vec<(PersonId, String, String)>, StoreError>;
    /// Those of `persons` with a stage pushed to a CRM (a record's pushed stage, or an outbox
    /// entry done).
    fn pushed_persons(&mut self, persons: &[PersonId]) -> Result<Vec<PersonId>, StoreError>;
    /// Those of `pairs` (`a < b`) a reviewer ever rejected.
    fn rejected_pairs(
        &mut self,
        pairs: &[(PersonId, PersonId)],
    ) -> Result<Vec<(PersonId, PersonId)>, StoreError>;
    /// Moves everything of `merge.person` to `merge.into`: its records, those of `keys` it
    /// holds (the keys of its records) and its CRM ids, its tier history, outbox entries and
    /// conflicts; removes the person, and records the merge with what
    /// moved. The survivor's merged golden record is the caller's to save.
    fn merge_persons(&mut self, merge: &Merge, keys: &[Key]) -> Result<(), StoreError>;
    /// Undoes the merge of `merge.person`: the records, keys and tier history that moved go
    /// back to it, and the merge is marked split at `at`. Saving both persons (rebuilt) is the
    /// caller's.
    fn split_merge(&mut self, merge: &Merge, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Queues a pair for review. A pair already queued or decided on the same fingerprint is
    /// left as it is; a changed fingerprint re-raises it (pending, its rejection remembered).
    /// Answers whether the queue changed.
    fn raise_review(&mut self, draft: &ReviewDraft, now: DateTime<Utc>)
    -> Result<bool, StoreError>;
    /// The id of the review item of a pair (`a < b`), if any.
    fn review_of(&mut self, a: PersonId, b: PersonId) -> Result<Option<i64>, StoreError>;
    /// Records a reviewer's decision.
    fn decide_review(
        &mut self,
        id: i64,
        status: ReviewStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Stores a trained model; answers its version.
    fn save_match_model(&mut self, model: &str, now: DateTime<Utc>) -> Result<i64, StoreError>;
}
