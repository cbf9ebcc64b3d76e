//! HubSpot contact properties to canonical fields.

use crate::client::ApiContact;
use crate::config::HubspotConfig;
use chrono::{DateTime, TimeZone, Utc};
use leadsync_connector_core::{Field, Locator, SourceRecord};

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
pub(crate) fn to_record(contact: &ApiContact, cfg: &HubspotConfig) -> SourceRecord {
    let mut values = Vec::new();
    for (property, field) in MAPPED {
        if let Some(v) = contact.property(property) {
            let v = match field {
                // Custom (numeric) stages mean what the config says.
                Field::CrmStage => cfg.stages.get(v).map_or(v, |t| t.as_str()),
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
