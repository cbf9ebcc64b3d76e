use chrono::{DateTime, Utc};
use leadsync_connector_core::{Field, Stage, Tier};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A person's id. Assigned once, when the first record of the person arrives, and never reused
/// or changed by later records.
pub type PersonId = i64;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The connector id (`[connectors.ID]`).
    pub connector: String,
    /// The source record: `record 123` for a CRM, `contacts.csv row 12` for a drop.
    pub locator: String,
    pub observed_at: DateTime<Utc>,
}

/// One value of a field with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldValue {
    pub value: String,
    pub from: Provenance,
}

/// The golden record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    /// Single-valued fields hold one value; emails and phones hold every distinct value seen,
    /// the preferred one first.
    pub fields: BTreeMap<Field, Vec<FieldValue>>,
    /// The tier; `None` is "unqualified" (not even a subscriber).
    pub tier: Option<Tier>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Person {
    pub fn new(id: PersonId, now: DateTime<Utc>) -> Self {
        Person {
            id,
            fields: BTreeMap::new(),
            tier: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The preferred value of a field.
    pub fn get(&self, field: &Field) -> Option<&str> {
        self.fields.get(field)?.first().map(|v| v.value.as_str())
    }

    pub fn has(&self, field: &Field) -> bool {
        self.get(field).is_some_and(|v| !v.is_empty())
    }

    /// The highest tier any CRM stage of this person states.
    pub fn crm_tier(&self) -> Option<Tier> {
        self.get(&Field::CrmStage)
            .and_then(|s| Stage::parse(s).tier())
    }

    /// A short display name: "First Last", else the email, else `person N`.
    pub fn display_name(&self) -> String {
        let name = [self.get(&Field::FirstName), self.get(&Field::LastName)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() {
            return name;
        }
        self.get(&Field::Email)
            .map(str::to_string)
            .unwrap_or_else(|| format!("person {}", self.id))
    }
}
