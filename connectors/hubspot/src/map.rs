//! HubSpot contact properties to canonical fields.

use crate::client::ApiContact;
use crate::config::HubspotConfig;
use chrono::{DateTime, TimeZone, Utc};
use leadsync_connector_core::{Field, Locator, SourceRecord, Stage, Tier};
use std::collections::HashMap;

/// The standard properties leadsync reads, and their fields.
const MAPPED: &[(&str, Field)] = &[
    ("email", Field::Email),
    ("firstname", Field::FirstName),
    ("lastname", Field::LastName),
    ("phone", Field::Phone),
    ("mobilephone", Field::Phone),
    ("company", Field::Company),
    ("jobtitle", Field::JobTitle),
    ("industry", Field::Industry),
    ("country", Field::Country),
    ("numemployees", Field::CompanySize),
    ("hs_analytics_source", Field::Source),
    ("lifecyclestage", Field::CrmStage),
    ("hs_lead_status", Field::LeadStatus),
    ("createdate", Field::CreatedAt),
    ("notes_last_updated", Field::LastActivityAt),
];

/// Properties that drive the pull itself.
const BOOKKEEPING: &[&str] = &["lastmodifieddate", "hs_object_id", "hs_merged_object_ids"];

/// Every property to ask for: the mapped ones, the bookkeeping ones, and the configured extras.
pub(crate) fn properties(cfg: &HubspotConfig) -> Vec<String> {
    let mut all: Vec<String> = MAPPED.iter().map(|(p, _)| p.to_string()).collect();
    all.extend(BOOKKEEPING.iter().map(|p| p.to_string()));
    for extra in &cfg.properties {
        if !all.contains(extra) {
            all.push(extra.clone());
        }
    }
    all
}

/// A contact as a source record: the CRM id is the locator (and the strongest identity key),
/// `updatedAt` (else `lastmodifieddate`) is when it was observed.
/// What each lifecycle stage of the account means as a tier: the configured `stages` first, then
/// the standard names, then — for custom stages nobody mapped — the tier of the nearest standard
/// stage before it in the account's own order (a custom stage placed between MQL and SQL counts
/// as MQL).
pub(crate) fn stage_tiers(cfg: &HubspotConfig, ordered: &[String]) -> HashMap<String, Tier> {
    let mut tiers = HashMap::new();
    let mut current: Option<Tier> = None;
    for value in ordered {
        let tier = cfg.stages.get(value).copied().or_else(|| {
            Stage::parse(value)
                .tier()
                .filter(|_| STANDARD.contains(&value.as_str()))
        });
        if tier.is_some() {
            current = tier;
        }
        if let Some(t) = tier.or(current) {
            tiers.insert(value.clone(), t);
        }
    }
    for (value, tier) in &cfg.stages {
        tiers.entry(value.clone()).or_insert(*tier);
    }
    tiers
}

/// HubSpot's standard internal stage names.
const STANDARD: &[&str] = &[
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
];

pub(crate) fn to_record(
    contact: &ApiContact,
    cfg: &HubspotConfig,
    stages: &HashMap<String, Tier>,
) -> SourceRecord {
    let mut values = Vec::new();
    for (property, field) in MAPPED {
        if let Some(v) = contact.property(property) {
            let v = match field {
                // Custom (numeric) stages mean what the config says.
                Field::CrmStage => stages.get(v).map_or(v, |t| t.as_str()),
                _ => v,
            };
            values.push((field.clone(), v.to_string()));
        }
    }
    for extra in cfg
        .properties
        .iter()
        .chain(std::iter::once(&"hs_merged_object_ids".to_string()))
    {
        if let Some(v) = contact.property(extra)
            && !MAPPED.iter().any(|(p, _)| p == extra)
        {
            values.push((Field::Custom(extra.clone()), v.to_string()));
        }
    }
    let observed_at = contact
        .updated_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            Utc.timestamp_millis_opt(contact.modified_ms() as i64)
                .single()
        })
        .unwrap_or_else(Utc::now);
    SourceRecord {
        locator: Locator::Crm {
            id: contact.id.clone(),
        },
        observed_at,
        values,
        archived: contact.archived,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(stages: &[(&str, Tier)]) -> HubspotConfig {
        let mut c: HubspotConfig = toml::from_str("token = { env = \"X\" }").unwrap();
        c.stages = stages.iter().map(|(k, t)| (k.to_string(), *t)).collect();
        c
    }

    #[test]
    fn custom_stages_take_the_tier_of_the_standard_stage_before_them() {
        let order: Vec<String> = [
            "subscriber",
            "lead",
            "marketingqualifiedlead",
            "1234",
            "salesqualifiedlead",
            "5678",
            "customer",
        ]
        .map(String::from)
        .to_vec();
        let tiers = stage_tiers(&cfg(&[]), &order);
        assert_eq!(tiers["1234"], Tier::Mql);
        assert_eq!(tiers["5678"], Tier::Sql);
        assert_eq!(tiers["customer"], Tier::Customer);
        // A configured mapping wins.
        let tiers = stage_tiers(&cfg(&[("5678", Tier::Opportunity)]), &order);
        assert_eq!(tiers["5678"], Tier::Opportunity);
    }
}
