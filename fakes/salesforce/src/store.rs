//! The records of the org: Lead, Contact, Opportunity and the LeadStatus picklist.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;

/// The objects the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SObject {
    Lead,
    Contact,
    Opportunity,
    /// The Lead `Status` picklist; query only.
    LeadStatus,
}

/// The type of a field, which decides how SOQL literals compare with it and how it renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Id,
    Text,
    Number,
    Bool,
    DateTime,
    Date,
}

/// One standard field: name, type, and whether an API update may set it.
type FieldDef = (&'static str, Kind, bool);

const SYSTEM: [FieldDef; 3] = [
    ("CreatedDate", Kind::DateTime, false),
    ("LastModifiedDate", Kind::DateTime, false),
    ("SystemModstamp", Kind::DateTime, false),
];

const LEAD: &[FieldDef] = &[
    ("Id", Kind::Id, false),
    ("FirstName", Kind::Text, true),
    ("LastName", Kind::Text, true),
    ("Name", Kind::Text, false),
    ("Email", Kind::Text, true),
    ("Phone", Kind::Text, true),
    ("MobilePhone", Kind::Text, true),
    ("Company", Kind::Text, true),
    ("Title", Kind::Text, true),
    ("Industry", Kind::Text, true),
    ("Country", Kind::Text, true),
    ("NumberOfEmployees", Kind::Number, true),
    ("LeadSource", Kind::Text, true),
    ("Status", Kind::Text, true),
    ("IsConverted", Kind::Bool, false),
    ("ConvertedContactId", Kind::Id, false),
    ("ConvertedAccountId", Kind::Id, false),
    ("ConvertedOpportunityId", Kind::Id, false),
    ("ConvertedDate", Kind::Date, false),
    ("IsDeleted", Kind::Bool, false),
    ("MasterRecordId", Kind::Id, false),
    ("LastActivityDate", Kind::Date, false),
];

const CONTACT: &[FieldDef] = &[
    ("Id", Kind::Id, false),
    ("FirstName", Kind::Text, true),
    ("LastName", Kind::Text, true),
    ("Name", Kind::Text, false),
    ("Email", Kind::Text, true),
    ("Phone", Kind::Text, true),
    ("MobilePhone", Kind::Text, true),
    ("Title", Kind::Text, true),
    ("LeadSource", Kind::Text, true),
    ("AccountId", Kind::Id, true),
    ("IsDeleted", Kind::Bool, false),
    ("MasterRecordId", Kind::Id, false),
    ("LastActivityDate", Kind::Date, false),
];

const OPPORTUNITY: &[FieldDef] = &[
    ("Id", Kind::Id, false),
    ("Name", Kind::Text, true),
    ("StageName", Kind::Text, true),
    // Derived from the stage in Salesforce, so not writable.
    ("IsClosed", Kind::Bool, false),
    ("IsWon", Kind::Bool, false),
    ("ContactId", Kind::Id, true),
    ("AccountId", Kind::Id, true),
    ("Amount", Kind::Number, true),
    ("CloseDate", Kind::Date, true),
    ("IsDeleted", Kind::Bool, false),
];

const LEAD_STATUS: &[FieldDef] = &[
    ("Id", Kind::Id, false),
    ("ApiName", Kind::Text, false),
    ("MasterLabel", Kind::Text, false),
    ("SortOrder", Kind::Number, false),
    ("IsConverted", Kind::Bool, false),
    ("IsDefault", Kind::Bool, false),
];

impl SObject {
    const ALL: [Self; 4] = [
        Self::Lead,
        Self::Contact,
        Self::Opportunity,
        Self::LeadStatus,
    ];

    /// The API name, as in SOQL and `attributes.type`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lead => "Lead",
            Self::Contact => "Contact",
            Self::Opportunity => "Opportunity",
            Self::LeadStatus => "LeadStatus",
        }
    }

    /// The object named in a SOQL `FROM` or `attributes.type` (case-insensitive, as in
    /// Salesforce).
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(name))
    }

    /// The key prefix of record ids (`00Q…` leads, `003…` contacts, `006…` opportunities,
    /// `01J…` lead statuses).
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Self::Lead => "00Q",
            Self::Contact => "003",
            Self::Opportunity => "006",
            Self::LeadStatus => "01J",
        }
    }

    /// The object whose ids start with `id`'s prefix.
    pub(crate) fn of_id(id: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|o| id.get(..3) == Some(o.prefix()))
    }

    fn standard(self) -> impl Iterator<Item = &'static FieldDef> {
        let own = match self {
            Self::Lead => LEAD,
            Self::Contact => CONTACT,
            Self::Opportunity => OPPORTUNITY,
            Self::LeadStatus => LEAD_STATUS,
        };
        own.iter().chain(SYSTEM.iter())
    }

    /// The canonical spelling of `field` on this object, or `None` if it has no such field.
    /// Custom fields (`…__c`) exist on every object but LeadStatus.
    pub(crate) fn canonical(self, field: &str) -> Option<String> {
        if let Some((known, ..)) = self.standard().find(|f| f.0.eq_ignore_ascii_case(field)) {
            return Some((*known).to_owned());
        }
        let custom = self != Self::LeadStatus
            && field.len() > 3
            && field[field.len() - 3..].eq_ignore_ascii_case("__c")
            && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        custom.then(|| format!("{}__c", &field[..field.len() - 3]))
    }

    /// The type of `field` (canonical spelling); custom fields are text.
    pub(crate) fn kind(self, field: &str) -> Kind {
        self.standard()
            .find(|f| f.0 == field)
            .map_or(Kind::Text, |f| f.1)
    }

    /// Whether an API update may set `field` (canonical spelling); custom fields may.
    pub(crate) fn updateable(self, field: &str) -> bool {
        self.standard().find(|f| f.0 == field).is_none_or(|f| f.2)
    }
}

/// Salesforce's datetime wire format: `2026-01-31T09:30:00.000+0000`.
pub fn format_datetime(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Salesforce's date wire format: `2026-01-31`.
pub(crate) fn format_date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// Wall-clock now, at Salesforce's millisecond precision.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// A snapshot of one record, for tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The 18-character record id.
    pub id: String,
    pub sobject: SObject,
    /// Every set field except the system ones (`Id`, `CreatedDate`, `SystemModstamp`, …).
    pub fields: BTreeMap<String, Value>,
    pub created: DateTime<Utc>,
    pub modstamp: DateTime<Utc>,
    /// Soft-deleted (in the recycle bin): `query` no longer returns it, `queryAll` does.
    pub deleted: bool,
    /// When it was deleted, for the `deleted` feed.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A field's value, borrowed where possible, for comparisons in `WHERE` and `ORDER BY`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Str(Cow<'a, str>),
    Num(f64),
    Bool(bool),
    Time(DateTime<Utc>),
}

impl Cell<'_> {
    /// SOQL's order: nulls first, then by value; values of different types tie.
    pub(crate) fn order(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Null, Self::Null) => Ordering::Equal,
            (Self::Null, _) => Ordering::Less,
            (_, Self::Null) => Ordering::Greater,
            (Self::Str(a), Self::Str(b)) => a.cmp(b),
            (Self::Num(a), Self::Num(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (Self::Bool(a), Self::Bool(b)) => a.cmp(b),
            (Self::Time(a), Self::Time(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }
}

impl Record {
    /// The value of `field` (canonical spelling) as the REST API renders it; `Null` if unset.
    pub(crate) fn value(&self, field: &str) -> Value {
        match self.cell(field) {
            Cell::Null => Value::Null,
            Cell::Str(s) => Value::String(s.into_owned()),
            Cell::Bool(b) => Value::Bool(b),
            Cell::Time(at) => Value::String(format_datetime(at)),
            Cell::Num(_) => self.fields.get(field).cloned().unwrap_or(Value::Null),
        }
    }

    /// The value of `field` (canonical spelling) without copying it.
    pub(crate) fn cell(&self, field: &str) -> Cell<'_> {
        match field {
            "Id" => return Cell::Str(Cow::Borrowed(&self.id)),
            "SystemModstamp" | "LastModifiedDate" => return Cell::Time(self.modstamp),
            "CreatedDate" => return Cell::Time(self.created),
            "IsDeleted" => return Cell::Bool(self.deleted),
            "Name" if matches!(self.sobject, SObject::Lead | SObject::Contact) => {
                let part = |f: &str| self.fields.get(f).and_then(Value::as_str).unwrap_or("");
                let name = format!("{} {}", part("FirstName"), part("LastName"));
                return Cell::Str(Cow::Owned(name.trim().to_owned()));
            }
            _ => {}
        }
        match self.fields.get(field) {
            Some(Value::String(s)) => Cell::Str(Cow::Borrowed(s)),
            Some(Value::Number(n)) => n.as_f64().map_or(Cell::Null, Cell::Num),
            Some(Value::Bool(b)) => Cell::Bool(*b),
            // Checkboxes are never null in Salesforce.
            _ if self.sobject.kind(field) == Kind::Bool => Cell::Bool(false),
            _ => Cell::Null,
        }
    }

    /// A text field's value, if set.
    pub(crate) fn text(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(Value::as_str)
    }

    /// A checkbox field's value (unset is false).
    pub(crate) fn flag(&self, field: &str) -> bool {
        self.fields
            .get(field)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// Every record of the org, keyed by id (ids of one object sort in creation order).
#[derive(Debug, Default)]
pub(crate) struct Store {
    records: BTreeMap<String, Record>,
    next: u64,
}

impl Store {
    /// A fresh 18-character id for `prefix`.
    pub(crate) fn new_id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:012}AAA", self.next)
    }

    /// Creates a record with `CreatedDate` = `SystemModstamp` = `at`; returns its id. Nulls and
    /// system fields in `fields` are dropped.
    pub(crate) fn insert(
        &mut self,
        sobject: SObject,
        mut fields: BTreeMap<String, Value>,
        at: DateTime<Utc>,
    ) -> String {
        let id = self.new_id(sobject.prefix());
        fields.retain(|name, value| {
            !value.is_null()
                && !matches!(
                    name.as_str(),
                    "Id" | "CreatedDate" | "LastModifiedDate" | "SystemModstamp" | "IsDeleted"
                )
        });
        let record = Record {
            id: id.clone(),
            sobject,
            fields,
            created: at,
            modstamp: at,
            deleted: false,
            deleted_at: None,
        };
        self.records.insert(id.clone(), record);
        id
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Record> {
        self.records.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Record> {
        self.records.get_mut(id)
    }

    /// Erases a record for good (no recycle bin): for picklist values replaced by a test.
    pub(crate) fn remove(&mut self, id: &str) -> Option<Record> {
        self.records.remove(id)
    }

    /// Records of one object, in id order, soft-deleted ones included.
    pub(crate) fn of(&self, sobject: SObject) -> impl Iterator<Item = &Record> {
        // Ids start with the object's prefix, so one object's records are one range of the map.
        let prefix = sobject.prefix();
        self.records
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(id, _)| id.starts_with(prefix))
            .map(|(_, record)| record)
    }

    /// Records of one object, mutable, soft-deleted ones included.
    pub(crate) fn of_mut(&mut self, sobject: SObject) -> impl Iterator<Item = &mut Record> {
        let prefix = sobject.prefix();
        self.records
            .range_mut::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(id, _)| id.starts_with(prefix))
            .map(|(_, record)| record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_object_is_one_id_range() {
        let mut store = Store::default();
        let at = now();
        let lead = store.insert(SObject::Lead, BTreeMap::new(), at);
        let contact = store.insert(SObject::Contact, BTreeMap::new(), at);
        let lead2 = store.insert(SObject::Lead, BTreeMap::new(), at);
        let ids: Vec<&str> = store.of(SObject::Lead).map(|r| r.id.as_str()).collect();
        assert_eq!(ids, [lead.as_str(), lead2.as_str()]);
        assert_eq!(store.of(SObject::Contact).count(), 1);
        assert_eq!(SObject::of_id(&contact), Some(SObject::Contact));
        assert_eq!(store.of(SObject::Opportunity).count(), 0);
    }

    #[test]
    fn checkboxes_are_false_when_unset_and_system_fields_are_read_only() {
        let mut store = Store::default();
        let id = store.insert(SObject::Opportunity, BTreeMap::new(), now());
        let record = store.get(&id).unwrap();
        assert_eq!(record.value("IsWon"), Value::Bool(false));
        assert_eq!(record.value("Amount"), Value::Null);
        assert!(!SObject::Lead.updateable("IsConverted"));
        assert!(SObject::Lead.updateable("Status"));
        assert!(SObject::Contact.updateable("Lifecycle_Stage__c"));
        assert_eq!(SObject::LeadStatus.canonical("x__c"), None);
    }
}
