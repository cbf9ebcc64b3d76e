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
    #[serde(serialize_with = "super::time::serialize")]
    pub observed_at: DateTime<Utc>,
}

/// One value of a field, with the index of its provenance in [`Person::sources`] (each source
/// record is stored once per person, not once per value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldValue {
    #[serde(rename = "v")]
    pub value: String,
    #[serde(rename = "s")]
    pub source: u32,
}

/// A "would demote" finding: the rules ask for a lower tier than the person has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demotion {
    pub from: Tier,
    /// `None`: the rules would leave the person unqualified.
    pub to: Option<Tier>,
    pub rules_version: String,
    #[serde(serialize_with = "super::time::serialize")]
    pub at: DateTime<Utc>,
}

/// The golden record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    /// Single-valued fields hold one value; emails and phones hold every distinct value seen,
    /// the preferred one first.
    pub fields: BTreeMap<Field, Vec<FieldValue>>,
    /// The source records values came from; [`FieldValue::source`] indexes this list.
    #[serde(default)]
    pub sources: Vec<Provenance>,
    /// The tier on the main ladder; `None` is "unqualified" (not even a subscriber).
    pub tier: Option<Tier>,
    /// The side tier the person is in now (`recycled`), off the main ladder: their main tier
    /// stays what it was, and they count apart in the funnel until they leave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<Tier>,
    /// The rules version that last qualified this person; persons qualified by other rules
    /// are re-qualified.
    #[serde(default)]
    pub rules_version: Option<String>,
    /// A lower tier the rules ask for but that was not applied (tiers never drop automatically).
    #[serde(default)]
    pub demotion: Option<Demotion>,
    #[serde(serialize_with = "super::time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "super::time::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl Person {
    pub fn new(id: PersonId, now: DateTime<Utc>) -> Self {
        Person {
            id,
            fields: BTreeMap::new(),
            sources: Vec::new(),
            tier: None,
            side: None,
            rules_version: None,
            demotion: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Where a value came from.
    pub fn source_of(&self, value: &FieldValue) -> &Provenance {
        &self.sources[value.source as usize]
    }

    /// The index of a source in [`Person::sources`], adding it when new (the same record seen
    /// again keeps its index, with the newer observation time).
    pub fn source_index(&mut self, from: Provenance) -> u32 {
        let known = self
            .sources
            .iter()
            .position(|s| s.connector == from.connector && s.locator == from.locator);
        match known {
            Some(i) => {
                let s = &mut self.sources[i];
                s.observed_at = s.observed_at.max(from.observed_at);
                i as u32
            }
            None => {
                self.sources.push(from);
                (self.sources.len() - 1) as u32
            }
        }
    }

    /// The preferred value of a field.
    pub fn get(&self, field: &Field) -> Option<&str> {
        self.fields.get(field)?.first().map(|v| v.value.as_str())
    }

    pub fn has(&self, field: &Field) -> bool {
        self.get(field).is_some_and(|v| !v.is_empty())
    }

    /// The highest tier of the main ladder any CRM stage of this person states.
    pub fn crm_tier(&self) -> Option<Tier> {
        self.get(&Field::CrmStage)
            .and_then(|s| Stage::parse(s).tier())
            .filter(|t| !t.is_side())
    }

    /// The side tier a CRM states for this person: a stage or a lead status that names one
    /// (`Recycled`), by its name or label. Without side tiers on the ladder, none is looked for.
    pub fn crm_side(&self) -> Option<Tier> {
        if !leadsync_connector_core::Ladder::current().has_sides() {
            return None;
        }
        [Field::CrmStage, Field::LeadStatus]
            .iter()
            .filter_map(|f| self.get(f))
            .filter_map(|s| Stage::parse(s).tier())
            .find(|t| t.is_side())
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

/// One step of a person's tier history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierChange {
    pub person: PersonId,
    pub from: Option<Tier>,
    pub to: Tier,
    /// The rule that fired (`crm_stage`, `fields_present`, or a rule of the rules file).
    pub rule: String,
    /// Content hash of the rules that decided it (`builtin` for the built-in baseline).
    pub rules_version: String,
    /// The values that made the rule true.
    pub evidence: BTreeMap<String, String>,
    pub at: DateTime<Utc>,
}
