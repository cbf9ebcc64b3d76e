//! Lead statuses, contact stages and opportunities to tiers, and tiers back to the status a push
//! sets. The org's own `LeadStatus` order places the statuses nobody mapped.

use crate::wire::{Contact, Lead, LeadStatusValue, Opportunity};
use leadsync_connector_core::{Field, Locator, SourceRecord, Stage, Tier};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The configured `lead_status` table, completed with the org's picklist.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusMap {
    /// Every status with a tier: the configured ones and those placed by sort order.
    tiers: HashMap<String, Tier>,
    /// Statuses the org marks `IsConverted`.
    converted: HashSet<String>,
    /// Tier → status to push: the configured table only.
    push: BTreeMap<Tier, String>,
}

impl StatusMap {
    /// `org` is the `LeadStatus` picklist as read at this pull, in any order. A status nobody
    /// mapped takes the tier of the nearest mapped status below it in `SortOrder` (a
    /// "Nurturing" placed between "Marketing Qualified" and "Sales Qualified" counts as MQL); one
    /// below every mapped status has no tier.
    pub fn new(lead_status: &BTreeMap<Tier, String>, org: &[LeadStatusValue]) -> StatusMap {
        let configured: HashMap<&str, Tier> = lead_status
            .iter()
            .map(|(tier, status)| (status.as_str(), *tier))
            .collect();
        let mut ordered: Vec<&LeadStatusValue> = org.iter().collect();
        ordered.sort_by(|a, b| (a.sort_order, &a.api_name).cmp(&(b.sort_order, &b.api_name)));
        let mut tiers = HashMap::new();
        let mut current = None;
        for value in ordered {
            if let Some(tier) = configured.get(value.api_name.as_str()) {
                current = Some(*tier);
            }
            if let Some(tier) = current {
                tiers.insert(value.api_name.clone(), tier);
            }
        }
        // Mapped statuses the picklist did not list still mean what the config says.
        for (status, tier) in configured {
            tiers.insert(status.to_string(), tier);
        }
        StatusMap {
            tiers,
            converted: org
                .iter()
                .filter(|v| v.is_converted)
                .map(|v| v.api_name.clone())
                .collect(),
            push: lead_status.clone(),
        }
    }

    /// The tier a `Status` value is evidence of.
    pub fn tier_of(&self, status: &str) -> Option<Tier> {
        self.tiers.get(status).copied()
    }

    /// A lead's tier: its status's, and at least `sql` once converted (by `IsConverted` or a
    /// status the org counts as converted).
    pub fn lead_tier(&self, lead: &Lead) -> Option<Tier> {
        let status = lead.status.as_deref();
        let tier = status.and_then(|s| self.tier_of(s));
        let converted = lead.is_converted || status.is_some_and(|s| self.converted.contains(s));
        if converted {
            Some(tier.map_or(Tier::SQL, |t| t.max(Tier::SQL)))
        } else {
            tier
        }
    }

    /// The status a push sets for `tier`: its own, else that of the nearest mapped tier below
    /// it. `None` when no tier at or below it is mapped: nothing is pushed.
    pub fn status_for(&self, tier: Tier) -> Option<&str> {
        self.push
            .range(..=tier)
            .next_back()
            .map(|(_, status)| status.as_str())
    }
}

/// A contact's tier from the configured `contact_stage_field`: a tier name in any spelling
/// (`MQL`, `Marketing Qualified Lead`, `sql`).
pub fn contact_tier(contact: &Contact, stage_field: Option<&str>) -> Option<Tier> {
    match Stage::parse(contact.text(stage_field?)?) {
        Stage::Tier(tier) => Some(tier),
        Stage::Other(_) => None,
    }
}

/// What a person's opportunities say. The default rules read it through `crm_stage` (an open
/// opportunity is rank 5, a won one 6) and the `open_deal` / `deal_won` flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpportunityEvidence {
    /// Opportunities not closed.
    pub open: usize,
    /// Opportunities closed and won.
    pub won: usize,
}

impl OpportunityEvidence {
    /// Counts open and won opportunities; closed-lost ones say nothing.
    pub fn of<'a>(opportunities: impl IntoIterator<Item = &'a Opportunity>) -> Self {
        let mut evidence = OpportunityEvidence::default();
        for o in opportunities {
            if o.is_won {
                evidence.won += 1;
            } else if !o.is_closed {
                evidence.open += 1;
            }
        }
        evidence
    }

    /// `customer` once one is won, `opportunity` while one is open.
    pub fn tier(self) -> Option<Tier> {
        if self.won > 0 {
            Some(Tier::CUSTOMER)
        } else if self.open > 0 {
            Some(Tier::OPPORTUNITY)
        } else {
            None
        }
    }

    /// The flags the default rules test (`flag('open_deal')`, `flag('deal_won')`).
    pub fn flags(self) -> Vec<(Field, String)> {
        let mut flags = Vec::new();
        if self.open > 0 {
            flags.push((Field::Custom("open_deal".into()), "true".into()));
        }
        if self.won > 0 {
            flags.push((Field::Custom("deal_won".into()), "true".into()));
        }
        flags
    }
}

/// A record's stage evidence as source values: `crm_stage` is the highest of its own tier and
/// its opportunities', then the opportunity flags.
pub fn stage_values(own: Option<Tier>, opportunities: OpportunityEvidence) -> Vec<(Field, String)> {
    let mut values = Vec::new();
    if let Some(tier) = own.max(opportunities.tier()) {
        values.push((Field::CrmStage, tier.as_str().to_string()));
    }
    values.extend(opportunities.flags());
    values
}

/// Salesforce's datetime (`2026-01-31T09:30:00.000+0000`) in milliseconds since the epoch.
pub fn modstamp_ms(raw: &str) -> Option<u64> {
    chrono::DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(raw))
        .ok()
        .map(|t| t.timestamp_millis().max(0) as u64)
}

/// When the record was last changed, as an observation time.
fn observed(modstamp: Option<&str>) -> chrono::DateTime<chrono::Utc> {
    modstamp
        .and_then(modstamp_ms)
        .and_then(|ms| chrono::DateTime::from_timestamp_millis(ms as i64))
        .unwrap_or_else(chrono::Utc::now)
}

fn push_value(values: &mut Vec<(Field, String)>, field: Field, value: Option<&str>) {
    if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
        values.push((field, v.to_string()));
    }
}

/// The ids of other records of the same person, as the `sf_linked_ids` value.
fn linked(values: &mut Vec<(Field, String)>, ids: &[String]) {
    if !ids.is_empty() {
        values.push((Field::Custom(crate::LINKED_IDS.into()), ids.join(";")));
    }
}

/// A lead as a source record. `linked` are the ids of the same person's other records (the
/// converted contact, merged-away leads).
pub fn lead_record(lead: &Lead, statuses: &StatusMap, linked_ids: &[String]) -> SourceRecord {
    let mut values = Vec::with_capacity(16);
    push_value(&mut values, Field::Email, lead.email.as_deref());
    push_value(&mut values, Field::FirstName, lead.first_name.as_deref());
    push_value(&mut values, Field::LastName, lead.last_name.as_deref());
    push_value(&mut values, Field::Phone, lead.phone.as_deref());
    push_value(&mut values, Field::Phone, lead.mobile_phone.as_deref());
    push_value(&mut values, Field::Company, lead.company.as_deref());
    push_value(&mut values, Field::JobTitle, lead.title.as_deref());
    push_value(&mut values, Field::Industry, lead.industry.as_deref());
    push_value(&mut values, Field::Country, lead.country.as_deref());
    if let Some(n) = lead.number_of_employees {
        values.push((Field::CompanySize, n.to_string()));
    }
    push_value(&mut values, Field::Source, lead.lead_source.as_deref());
    push_value(&mut values, Field::LeadStatus, lead.status.as_deref());
    push_value(&mut values, Field::CreatedAt, lead.created_date.as_deref());
    push_value(
        &mut values,
        Field::LastActivityAt,
        lead.last_activity_date.as_deref(),
    );
    values.extend(stage_values(
        statuses.lead_tier(lead),
        OpportunityEvidence::default(),
    ));
    let mut ids: Vec<String> = lead.converted_contact_id.iter().cloned().collect();
    ids.extend(
        linked_ids
            .iter()
            .filter(|i| !ids.contains(i))
            .cloned()
            .collect::<Vec<_>>(),
    );
    linked(&mut values, &ids);
    SourceRecord {
        locator: Locator::Crm {
            id: lead.id.clone(),
        },
        observed_at: observed(lead.system_modstamp.as_deref()),
        values,
        archived: lead.is_deleted,
    }
}

/// A contact as a source record, with its opportunities' evidence. `linked` are the ids of the
/// same person's other records (the lead converted into it, merged-away contacts).
pub fn contact_record(
    contact: &Contact,
    stage_field: Option<&str>,
    opportunities: OpportunityEvidence,
    linked_ids: &[String],
) -> SourceRecord {
    let mut values = Vec::with_capacity(12);
    push_value(&mut values, Field::Email, contact.email.as_deref());
    push_value(&mut values, Field::FirstName, contact.first_name.as_deref());
    push_value(&mut values, Field::LastName, contact.last_name.as_deref());
    push_value(&mut values, Field::Phone, contact.phone.as_deref());
    push_value(&mut values, Field::Phone, contact.mobile_phone.as_deref());
    push_value(&mut values, Field::JobTitle, contact.title.as_deref());
    push_value(&mut values, Field::Source, contact.lead_source.as_deref());
    push_value(
        &mut values,
        Field::CreatedAt,
        contact.created_date.as_deref(),
    );
    push_value(
        &mut values,
        Field::LastActivityAt,
        contact.last_activity_date.as_deref(),
    );
    values.extend(stage_values(
        contact_tier(contact, stage_field),
        opportunities,
    ));
    linked(&mut values, linked_ids);
    SourceRecord {
        locator: Locator::Crm {
            id: contact.id.clone(),
        },
        observed_at: observed(contact.system_modstamp.as_deref()),
        values,
        archived: contact.is_deleted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> Vec<LeadStatusValue> {
        // Deliberately not in sort order.
        [
            ("Sales Qualified", 5, false),
            ("Open - Not Contacted", 1, false),
            ("Nurturing", 4, false),
            ("Marketing Qualified", 3, false),
            ("Working - Contacted", 2, false),
            ("Closed - Converted", 7, true),
            ("Closed - Not Converted", 6, false),
        ]
        .into_iter()
        .map(|(name, order, converted)| LeadStatusValue {
            api_name: name.into(),
            master_label: None,
            sort_order: order,
            is_converted: converted,
            is_default: false,
        })
        .collect()
    }

    fn config(pairs: &[(Tier, &str)]) -> BTreeMap<Tier, String> {
        pairs.iter().map(|(t, s)| (*t, s.to_string())).collect()
    }

    fn lead(status: &str, converted: bool) -> Lead {
        Lead {
            id: "00Q1".into(),
            status: Some(status.into()),
            is_converted: converted,
            ..Lead::default()
        }
    }

    #[test]
    fn unmapped_statuses_take_the_tier_of_the_nearest_mapped_one_below() {
        let map = StatusMap::new(
            &config(&[
                (Tier::LEAD, "Working - Contacted"),
                (Tier::MQL, "Marketing Qualified"),
                (Tier::SQL, "Sales Qualified"),
            ]),
            &org(),
        );
        assert_eq!(
            map.tier_of("Open - Not Contacted"),
            None,
            "below every mapped one"
        );
        assert_eq!(map.tier_of("Working - Contacted"), Some(Tier::LEAD));
        assert_eq!(map.tier_of("Nurturing"), Some(Tier::MQL));
        assert_eq!(map.tier_of("Sales Qualified"), Some(Tier::SQL));
        assert_eq!(map.tier_of("Closed - Not Converted"), Some(Tier::SQL));
        assert_eq!(map.tier_of("Not In The Org"), None);
    }

    #[test]
    fn the_org_order_decides_not_the_config_order() {
        // The same config, with the org's picklist reordered: Nurturing now follows SQL.
        let mut reordered = org();
        reordered
            .iter_mut()
            .find(|v| v.api_name == "Nurturing")
            .unwrap()
            .sort_order = 6;
        let cfg = config(&[
            (Tier::MQL, "Marketing Qualified"),
            (Tier::SQL, "Sales Qualified"),
        ]);
        assert_eq!(
            StatusMap::new(&cfg, &org()).tier_of("Nurturing"),
            Some(Tier::MQL)
        );
        assert_eq!(
            StatusMap::new(&cfg, &reordered).tier_of("Nurturing"),
            Some(Tier::SQL)
        );
        // A mapped status the picklist lacks still counts.
        assert_eq!(
            StatusMap::new(&cfg, &[]).tier_of("Sales Qualified"),
            Some(Tier::SQL)
        );
    }

    #[test]
    fn a_converted_lead_is_at_least_sql() {
        let map = StatusMap::new(
            &config(&[(Tier::MQL, "Marketing Qualified"), (Tier::CUSTOMER, "Won")]),
            &org(),
        );
        assert_eq!(
            map.lead_tier(&lead("Marketing Qualified", false)),
            Some(Tier::MQL)
        );
        assert_eq!(
            map.lead_tier(&lead("Marketing Qualified", true)),
            Some(Tier::SQL)
        );
        assert_eq!(
            map.lead_tier(&lead("Open - Not Contacted", true)),
            Some(Tier::SQL)
        );
        assert_eq!(
            map.lead_tier(&lead("Won", true)),
            Some(Tier::CUSTOMER),
            "never lowered"
        );
        // A status the org marks as converted counts even before IsConverted is read back.
        assert_eq!(
            map.lead_tier(&lead("Closed - Converted", false)),
            Some(Tier::SQL)
        );
        assert_eq!(map.lead_tier(&lead("Open - Not Contacted", false)), None);
    }

    #[test]
    fn a_tier_without_a_status_pushes_the_nearest_mapped_tier_below() {
        let map = StatusMap::new(
            &config(&[
                (Tier::LEAD, "Working - Contacted"),
                (Tier::MQL, "Marketing Qualified"),
            ]),
            &org(),
        );
        assert_eq!(map.status_for(Tier::SUBSCRIBER), None);
        assert_eq!(map.status_for(Tier::LEAD), Some("Working - Contacted"));
        assert_eq!(map.status_for(Tier::MQL), Some("Marketing Qualified"));
        assert_eq!(map.status_for(Tier::CUSTOMER), Some("Marketing Qualified"));
    }

    #[test]
    fn contacts_read_their_stage_field_in_any_spelling() {
        let mut contact = Contact {
            id: "0031".into(),
            ..Contact::default()
        };
        contact
            .custom
            .insert("Lifecycle_Stage__c".into(), "Sales Qualified Lead".into());
        assert_eq!(
            contact_tier(&contact, Some("Lifecycle_Stage__c")),
            Some(Tier::SQL)
        );
        assert_eq!(contact_tier(&contact, None), None, "no field configured");
        contact
            .custom
            .insert("Lifecycle_Stage__c".into(), "Partner".into());
        assert_eq!(contact_tier(&contact, Some("Lifecycle_Stage__c")), None);
    }

    #[test]
    fn opportunities_become_the_facts_the_default_rules_read() {
        let opp = |closed, won| Opportunity {
            id: "0061".into(),
            is_closed: closed,
            is_won: won,
            ..Opportunity::default()
        };
        let lost = [opp(true, false)];
        assert_eq!(OpportunityEvidence::of(&lost).tier(), None);
        assert_eq!(
            stage_values(Some(Tier::MQL), OpportunityEvidence::of(&lost)),
            [(Field::CrmStage, "mql".to_string())]
        );

        let open = OpportunityEvidence::of(&[opp(false, false), opp(true, false)]);
        assert_eq!(open, OpportunityEvidence { open: 1, won: 0 });
        assert_eq!(
            stage_values(Some(Tier::SQL), open),
            [
                (Field::CrmStage, "opportunity".to_string()),
                (Field::Custom("open_deal".into()), "true".to_string()),
            ]
        );

        let won = OpportunityEvidence::of(&[opp(true, true), opp(false, false)]);
        assert_eq!(won.tier(), Some(Tier::CUSTOMER));
        assert_eq!(
            stage_values(None, won),
            [
                (Field::CrmStage, "customer".to_string()),
                (Field::Custom("open_deal".into()), "true".to_string()),
                (Field::Custom("deal_won".into()), "true".to_string()),
            ]
        );
        assert!(stage_values(None, OpportunityEvidence::default()).is_empty());
    }
}
