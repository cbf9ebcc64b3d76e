//! What happens to records in the org: updates (with Salesforce's refusals), deletions, merges,
//! lead conversion and the Lead Status picklist. Both the REST handlers and the test handle go
//! through here, so a refusal is the same whichever way an edit comes in.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::store::{Record, SObject, Store, format_date};

/// One refused record, as a collections answer reports it (`{statusCode, message, fields}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SaveError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) fields: Vec<String>,
}

impl SaveError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    fn on(mut self, field: &str) -> Self {
        self.fields.push(field.to_owned());
        self
    }
}

/// Salesforce's standard Lead Status picklist: (API name, sort order, converted).
pub(crate) const STANDARD_STATUSES: [(&str, i64, bool); 4] = [
    ("Open - Not Contacted", 1, false),
    ("Working - Contacted", 2, false),
    ("Closed - Converted", 3, true),
    ("Closed - Not Converted", 4, false),
];

/// The picklist in sort order: (API name, sort order, converted).
pub(crate) fn lead_statuses(store: &Store) -> Vec<(String, i64, bool)> {
    let mut statuses: Vec<(String, i64, bool)> = store
        .of(SObject::LeadStatus)
        .map(|r| {
            let sort = r.fields.get("SortOrder").and_then(Value::as_i64);
            let name = r.text("ApiName").unwrap_or_default().to_owned();
            (name, sort.unwrap_or(0), r.flag("IsConverted"))
        })
        .collect();
    statuses.sort_by_key(|s| s.1);
    statuses
}

/// Replaces the picklist. The first non-converted value (by sort order) is the default.
pub(crate) fn set_lead_statuses(
    store: &mut Store,
    values: &[(&str, i64, bool)],
    at: DateTime<Utc>,
) {
    let old: Vec<String> = store
        .of(SObject::LeadStatus)
        .map(|r| r.id.clone())
        .collect();
    for id in old {
        store.remove(&id);
    }
    let mut sorted = values.to_vec();
    sorted.sort_by_key(|v| v.1);
    let default = sorted.iter().find(|v| !v.2).map(|v| v.0);
    for (name, sort, converted) in sorted.iter().copied() {
        let fields = BTreeMap::from([
            ("ApiName".to_owned(), json!(name)),
            ("MasterLabel".to_owned(), json!(name)),
            ("SortOrder".to_owned(), json!(sort)),
            ("IsConverted".to_owned(), json!(converted)),
            ("IsDefault".to_owned(), json!(Some(name) == default)),
        ]);
        store.insert(SObject::LeadStatus, fields, at);
    }
}

/// The record `id` if the caller may update it as a `claimed` (the collection's
/// `attributes.type`) with `fields` (canonical names): Salesforce's refusals in its order.
pub(crate) fn check_update<'s>(
    store: &'s Store,
    claimed: SObject,
    id: &str,
    fields: &[(String, Value)],
) -> Result<&'s Record, SaveError> {
    let well_formed = matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !well_formed || SObject::of_id(id) != Some(claimed) {
        let message = format!("{} ID: id value of incorrect type: {id}", claimed.name());
        return Err(SaveError::new("MALFORMED_ID", message).on("Id"));
    }
    let record = store.get(id).ok_or_else(|| {
        SaveError::new("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
    })?;
    if record.deleted {
        return Err(SaveError::new("ENTITY_IS_DELETED", "entity is deleted"));
    }
    if claimed == SObject::Lead && record.flag("IsConverted") {
        let message = "cannot reference converted lead";
        return Err(SaveError::new("CANNOT_UPDATE_CONVERTED_LEAD", message));
    }
    let read_only: Vec<&str> = fields
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| !claimed.updateable(name))
        .collect();
    if !read_only.is_empty() {
        let message = format!(
            "Unable to create/update fields: {}. Please check the security settings of this \
             field and verify that it is read/write for your profile or permission set.",
            read_only.join(", ")
        );
        let mut error = SaveError::new("INVALID_FIELD_FOR_INSERT_UPDATE", message);
        error.fields = read_only.iter().map(|f| (*f).to_owned()).collect();
        return Err(error);
    }
    let status = fields.iter().find(|(name, _)| name == "Status");
    if claimed == SObject::Lead
        && let Some((_, status)) = status
        && !lead_statuses(store)
            .iter()
            .any(|s| Some(s.0.as_str()) == status.as_str())
    {
        let shown = status
            .as_str()
            .map_or_else(|| status.to_string(), str::to_owned);
        let message = format!("Lead Status: bad value for restricted picklist field: {shown}");
        return Err(
            SaveError::new("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message).on("Status"),
        );
    }
    Ok(record)
}

/// Sets `fields` (a null clears one) and bumps `SystemModstamp` to `at`, as every save does,
/// even one that changes nothing.
pub(crate) fn apply_update(
    store: &mut Store,
    id: &str,
    fields: &[(String, Value)],
    at: DateTime<Utc>,
) {
    if let Some(record) = store.get_mut(id) {
        for (name, value) in fields {
            if value.is_null() {
                record.fields.remove(name);
            } else {
                record.fields.insert(name.clone(), value.clone());
            }
        }
        record.modstamp = at;
    }
}

/// Soft-deletes `id` at `at`: it goes to the recycle bin and its `SystemModstamp` moves.
///
/// # Panics
/// If `id` names no record.
pub(crate) fn delete(store: &mut Store, id: &str, at: DateTime<Utc>) {
    let record = store
        .get_mut(id)
        .unwrap_or_else(|| panic!("no record with id {id}"));
    record.deleted = true;
    record.deleted_at = Some(at);
    record.modstamp = at;
}

/// Merges up to two `losers` into `master` (same object, Lead or Contact): the losers are
/// deleted with `MasterRecordId` = master, the master keeps its values and its `SystemModstamp`
/// moves. Opportunities of a losing contact move to the master, as Salesforce reparents
/// related records.
///
/// # Panics
/// On anything Salesforce's merge refuses: more than two losers, unknown or deleted records,
/// mixed objects, objects that cannot merge, a loser that is the master.
pub(crate) fn merge(store: &mut Store, master: &str, losers: &[&str], at: DateTime<Utc>) {
    assert!(
        (1..=2).contains(&losers.len()),
        "a merge takes one or two losers, got {}",
        losers.len()
    );
    let live = |id: &str| -> SObject {
        let record = store
            .get(id)
            .unwrap_or_else(|| panic!("merge: no record with id {id}"));
        assert!(!record.deleted, "merge: {id} is deleted");
        record.sobject
    };
    let object = live(master);
    assert!(
        matches!(object, SObject::Lead | SObject::Contact),
        "merge: {} records cannot merge",
        object.name()
    );
    for loser in losers {
        assert_ne!(*loser, master, "merge: the master cannot also lose");
        assert_eq!(
            live(loser),
            object,
            "merge: {loser} is not a {}",
            object.name()
        );
    }
    for loser in losers {
        delete(store, loser, at);
        if let Some(record) = store.get_mut(loser) {
            record.fields.insert("MasterRecordId".into(), json!(master));
        }
        if object == SObject::Contact {
            for opportunity in store.of_mut(SObject::Opportunity) {
                if opportunity.text("ContactId") == Some(*loser) {
                    opportunity.fields.insert("ContactId".into(), json!(master));
                    opportunity.modstamp = at;
                }
            }
        }
    }
    if let Some(record) = store.get_mut(master) {
        record.modstamp = at;
    }
}

/// Creates an Opportunity of `contact_id` (and its account); returns its id.
///
/// # Panics
/// If `contact_id` names no contact.
pub(crate) fn insert_opportunity(
    store: &mut Store,
    contact_id: &str,
    stage: (&str, bool, bool),
    at: DateTime<Utc>,
) -> String {
    let contact = store
        .get(contact_id)
        .filter(|r| r.sobject == SObject::Contact)
        .unwrap_or_else(|| panic!("no contact with id {contact_id}"));
    let name = contact.value("Name");
    let account = contact
        .fields
        .get("AccountId")
        .cloned()
        .unwrap_or(Value::Null);
    let (stage_name, closed, won) = stage;
    let fields = BTreeMap::from([
        (
            "Name".to_owned(),
            json!(format!("{} deal", name.as_str().unwrap_or("")).trim()),
        ),
        ("StageName".to_owned(), json!(stage_name)),
        ("IsClosed".to_owned(), json!(closed)),
        ("IsWon".to_owned(), json!(won)),
        ("ContactId".to_owned(), json!(contact_id)),
        ("AccountId".to_owned(), account),
        ("CloseDate".to_owned(), json!(format_date(at))),
    ]);
    store.insert(SObject::Opportunity, fields, at)
}

/// Converts `lead_id` as `convertLead` does: a new Contact (and account id) with the lead's
/// person fields, the lead marked converted with the first converted status of the picklist,
/// optionally an Opportunity of the new contact. Returns the contact id.
///
/// # Panics
/// If the lead does not exist, is deleted or already converted, or the picklist has no
/// converted status.
pub(crate) fn convert_lead(
    store: &mut Store,
    lead_id: &str,
    opportunity: Option<(&str, bool, bool)>,
    at: DateTime<Utc>,
) -> String {
    let lead = store
        .get(lead_id)
        .filter(|r| r.sobject == SObject::Lead)
        .unwrap_or_else(|| panic!("no lead with id {lead_id}"));
    assert!(!lead.deleted, "convert: lead {lead_id} is deleted");
    assert!(
        !lead.flag("IsConverted"),
        "convert: lead {lead_id} is already converted"
    );
    let status = lead_statuses(store)
        .into_iter()
        .find(|s| s.2)
        .unwrap_or_else(|| panic!("convert: the Lead Status picklist has no converted value"))
        .0;
    let copied = [
        "FirstName",
        "LastName",
        "Email",
        "Phone",
        "MobilePhone",
        "Title",
        "LeadSource",
    ];
    let mut fields: BTreeMap<String, Value> = copied
        .iter()
        .filter_map(|f| lead.fields.get(*f).map(|v| ((*f).to_owned(), v.clone())))
        .collect();
    let account = store.new_id("001");
    fields.insert("AccountId".into(), json!(account));
    let contact = store.insert(SObject::Contact, fields, at);
    let opportunity = opportunity.map(|stage| insert_opportunity(store, &contact, stage, at));
    if let Some(lead) = store.get_mut(lead_id) {
        let set = [
            ("IsConverted", json!(true)),
            ("Status", json!(status)),
            ("ConvertedContactId", json!(contact)),
            ("ConvertedAccountId", json!(account)),
            ("ConvertedOpportunityId", json!(opportunity)),
            ("ConvertedDate", json!(format_date(at))),
        ];
        for (name, value) in set {
            if !value.is_null() {
                lead.fields.insert(name.to_owned(), value);
            }
        }
        lead.modstamp = at;
    }
    contact
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::now;

    #[test]
    fn the_default_status_is_the_first_open_one() {
        let mut store = Store::default();
        set_lead_statuses(
            &mut store,
            &[("B", 2, false), ("A", 1, true), ("C", 3, false)],
            now(),
        );
        let defaults: Vec<String> = store
            .of(SObject::LeadStatus)
            .filter(|r| r.flag("IsDefault"))
            .map(|r| r.text("ApiName").unwrap().to_owned())
            .collect();
        assert_eq!(defaults, ["B"]);
        let names: Vec<String> = lead_statuses(&store).into_iter().map(|s| s.0).collect();
        assert_eq!(names, ["A", "B", "C"]);
    }
}
