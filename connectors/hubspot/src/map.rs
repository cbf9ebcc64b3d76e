//! HubSpot contact properties to canonical fields.

use crate::config::HubspotConfig;
use crate::wire::ApiContact;
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

/// The place of a property in [`MAPPED`] (a `match` on the name: one pass over a contact's
/// properties finds them all).
fn mapped_index(property: &str) -> Option<usize> {
    Some(match property {
        "email" => 0,
        "firstname" => 1,
        "lastname" => 2,
        "phone" => 3,
        "mobilephone" => 4,
        "company" => 5,
        "jobtitle" => 6,
        "industry" => 7,
        "country" => 8,
        "numemployees" => 9,
        "hs_analytics_source" => 10,
        "lifecyclestage" => 11,
        "hs_lead_status" => 12,
        "createdate" => 13,
        "notes_last_updated" => 14,
        _ => return None,
    })
}

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
    // The first value of each mapped property (the first of repeated names wins).
    let mut mapped: [Option<&str>; MAPPED.len()] = [None; MAPPED.len()];
    for (name, value) in contact.properties.iter() {
        if let Some(i) = mapped_index(name) {
            mapped[i].get_or_insert(value);
        }
    }
    let mut values = Vec::with_capacity(MAPPED.len() + cfg.properties.len() + 1);
    for ((_, field), v) in MAPPED.iter().zip(mapped) {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            let v = match field {
                // Custom (numeric) stages mean what the config says.
                Field::CrmStage => stages.get(v).map_or(v, |t| t.as_str()),
                _ => v,
            };
            values.push((field.clone(), v.to_string()));
        }
    }
    let extras = cfg.properties.iter().map(String::as_str);
    for extra in extras.chain(std::iter::once("hs_merged_object_ids")) {
        if let Some(v) = contact.property(extra)
            && mapped_index(extra).is_none()
        {
            values.push((Field::Custom(extra.to_string()), v.to_string()));
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
    fn every_mapped_property_knows_its_place() {
        for (i, (property, _)) in MAPPED.iter().enumerate() {
            assert_eq!(mapped_index(property), Some(i), "{property}");
        }
        assert_eq!(mapped_index("hs_object_id"), None);
    }

    #[test]
    fn a_contact_maps_to_its_fields_in_order_first_value_winning() {
        let contact = ApiContact {
            id: "7".into(),
            properties: crate::properties::Properties::from([
                ("mobilephone", "+1 555 0100"),
                ("email", "a@x.io"),
                ("firstname", ""),
                ("phone", "+1 555 0199"),
                ("email", "second@x.io"),
                ("lifecyclestage", "1234"),
                ("favourite_colour", "blue"),
                ("hs_merged_object_ids", "3;5"),
            ]),
            updated_at: Some("2026-11-30T10:00:00Z".into()),
            archived: false,
        };
        let mut c = cfg(&[("1234", Tier::MQL)]);
        c.properties = vec!["favourite_colour".into(), "email".into()];
        let stages = stage_tiers(&c, &[]);
        let record = to_record(&contact, &c, &stages);
        let values: Vec<(String, &str)> = record
            .values
            .iter()
            .map(|(f, v)| (f.to_string(), v.as_str()))
            .collect();
        assert_eq!(
            values,
            [
                ("email".to_string(), "a@x.io"),
                ("phone".to_string(), "+1 555 0199"),
                ("phone".to_string(), "+1 555 0100"),
                ("crm_stage".to_string(), "mql"),
                ("favourite_colour".to_string(), "blue"),
                ("hs_merged_object_ids".to_string(), "3;5"),
            ]
        );
        assert_eq!(record.locator, Locator::Crm { id: "7".into() });
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
        assert_eq!(tiers["1234"], Tier::MQL);
        assert_eq!(tiers["5678"], Tier::SQL);
        assert_eq!(tiers["customer"], Tier::CUSTOMER);
        // A configured mapping wins.
        let tiers = stage_tiers(&cfg(&[("5678", Tier::OPPORTUNITY)]), &order);
        assert_eq!(tiers["5678"], Tier::OPPORTUNITY);
    }
}
