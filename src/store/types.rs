use crate::model::PersonId;
pub use crate::model::TierChange;
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Field, Locator, Tier};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A source record as stored, linked to its person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRecord {
    pub connector: String,
    pub locator: Locator,
    pub observed_at: DateTime<Utc>,
    pub archived: bool,
    pub values: Vec<(Field, String)>,
}

/// Two identity keys of one record that point at different persons, or a CRM id guard that kept
/// two records apart. Nothing is merged automatically; an operator reviews these.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub connector: String,
    pub locator: String,
    pub key_kind: String,
    pub key_value: String,
    /// The person the record was linked to.
    pub person: PersonId,
    /// The person the key already belongs to.
    pub other_person: PersonId,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Persons per tier of the main ladder (those in a side tier by the main tier they hold);
/// `unqualified` counts persons with no tier.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TierCounts {
    pub tiers: BTreeMap<Tier, u64>,
    pub unqualified: u64,
    /// Persons in each side tier now.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub side: BTreeMap<Tier, u64>,
    /// Of those, by the main tier they hold (the rest have none).
    #[serde(skip)]
    pub side_by_tier: BTreeMap<Tier, u64>,
}

impl TierCounts {
    /// Counts `n` persons at `tier` of the main ladder, in side tier `side` if any.
    pub fn add(&mut self, tier: Option<Tier>, side: Option<Tier>, n: u64) {
        match tier {
            Some(t) => *self.tiers.entry(t).or_default() += n,
            None => self.unqualified += n,
        }
        if let Some(s) = side {
            *self.side.entry(s).or_default() += n;
            if let Some(t) = tier {
                *self.side_by_tier.entry(t).or_default() += n;
            }
        }
    }

    /// Persons at `tier` and in no side tier: those the funnel counts at it.
    pub fn at(&self, tier: Tier) -> u64 {
        self.tiers.get(&tier).copied().unwrap_or(0)
            - self.side_by_tier.get(&tier).copied().unwrap_or(0)
    }

    /// Persons with no tier and in no side tier.
    pub fn unqualified_apart_from_sides(&self) -> u64 {
        self.unqualified
            - (self.side.values().sum::<u64>() - self.side_by_tier.values().sum::<u64>())
    }
}

/// Something worth telling an operator that is not a record: a duplicate drop, a failed file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreEvent {
    pub connector: String,
    pub stream: String,
    pub kind: String,
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunStats {
    pub records: u64,
    pub rejects: u64,
    pub files: u64,
    pub duplicates: u64,
    pub failed: u64,
    /// `ok` or `failed`.
    pub status: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub connector: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub stats: Option<RunStats>,
}

/// What the funnel and cohort reports need of one person: the current tier, the source, and when
/// each tier was first reached (from the tier history).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelFact {
    pub person: PersonId,
    pub tier: Option<Tier>,
    /// The side tier the person is in now, if any.
    pub side: Option<Tier>,
    /// The golden record's source/channel (lower-cased), if any.
    pub source: Option<String>,
    pub created_at: DateTime<Utc>,
    /// For each tier the person's history moved *to*, the first time it did, in tier order. A
    /// move that skips tiers (subscriber → mql) reached the skipped ones at the same time.
    pub moved_to: Vec<(Tier, DateTime<Utc>)>,
}

/// One stage push: the desired tier for one CRM record, and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub connector: String,
    pub record_id: String,
    pub person: PersonId,
    pub tier: Tier,
    /// `pending`, `done`, `dead` (will not be retried; `reason` says why) or `kept` (a person
    /// lowered the record's stage in the CRM and the connector respects it; `reason` says so).
    pub status: String,
    pub attempts: u32,
    pub reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}
