//! The Lead and Contact records of the org.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;

/// The objects the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SObject {
    Lead,
    Contact,
}

impl SObject {
    /// The API name, as in SOQL and `attributes.type`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lead => "Lead",
            Self::Contact => "Contact",
        }
    }

    /// The object named in a SOQL `FROM` (case-insensitive, as in Salesforce).
    pub(crate) fn parse(name: &str) -> Option<Self> {
        [Self::Lead, Self::Contact]
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(name))
    }

    /// The key prefix of record ids (`00Q…` for leads, `003…` for contacts).
    fn prefix(self) -> &'static str {
        match self {
            Self::Lead => "00Q",
            Self::Contact => "003",
        }
    }

    /// Standard fields a query may name; custom fields (`…__c`) are accepted on both objects.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Lead => &[
                "Id",
                "FirstName",
                "LastName",
                "Name",
                "Email",
                "Phone",
                "Company",
                "Status",
                "LeadSource",
                "IsConverted",
                "ConvertedContactId",
                "ConvertedAccountId",
                "ConvertedOpportunityId",
                "ConvertedDate",
                "IsDeleted",
                "MasterRecordId",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
            ],
            Self::Contact => &[
                "Id",
                "FirstName",
                "LastName",
                "Name",
                "Email",
                "Phone",
                "AccountId",
                "LeadSource",
                "IsDeleted",
                "MasterRecordId",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
            ],
        }
    }

    /// The canonical spelling of `field` on this object, or `None` if it has no such field.
    pub(crate) fn canonical(self, field: &str) -> Option<String> {
        if let Some(known) = self.fields().iter().find(|f| f.eq_ignore_ascii_case(field)) {
            return Some((*known).to_owned());
        }
        let custom = field.len() > 3
            && field[field.len() - 3..].eq_ignore_ascii_case("__c")
            && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        custom.then(|| format!("{}__c", &field[..field.len() - 3]))
    }
}

/// Salesforce's datetime wire format: `2026-01-31T09:30:00.000+0000`.
pub fn format_datetime(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
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
    /// Soft-deleted (in the recycle bin): `query` no longer returns it.
    pub deleted: bool,
}

impl Record {
    /// The value of `field` (canonical spelling) as the REST API renders it; `Null` if unset.
    pub(crate) fn value(&self, field: &str) -> Value {
        match field {
            "Id" => Value::String(self.id.clone()),
            "SystemModstamp" | "LastModifiedDate" => Value::String(format_datetime(self.modstamp)),
            "CreatedDate" => Value::String(format_datetime(self.created)),
            "IsDeleted" => Value::Bool(self.deleted),
            "IsConverted" => Value::Bool(
                self.fields
                    .get(field)
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            ),
            "Name" => {
                let part = |f: &str| self.fields.get(f).and_then(Value::as_str).unwrap_or("");
                let name = format!("{} {}", part("FirstName"), part("LastName"));
                Value::String(name.trim().to_owned())
            }
            _ => self.fields.get(field).cloned().unwrap_or(Value::Null),
        }
    }
}

/// Every record of the org, keyed by id (ids of one object sort in creation order).
#[derive(Debug, Default)]
pub(crate) struct Store {
    records: BTreeMap<String, Record>,
    next: u64,
}

impl Store {
    /// Creates a record with `SystemModstamp` = `at`; returns its id.
    pub(crate) fn insert(
        &mut self,
        sobject: SObject,
        mut fields: BTreeMap<String, Value>,
        at: DateTime<Utc>,
    ) -> String {
        self.next += 1;
        let id = format!("{}{:012}AAA", sobject.prefix(), self.next);
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

    /// Records of one object, in id order, soft-deleted ones included.
    pub(crate) fn of(&self, sobject: SObject) -> impl Iterator<Item = &Record> {
        self.records.values().filter(move |r| r.sobject == sobject)
    }
}
