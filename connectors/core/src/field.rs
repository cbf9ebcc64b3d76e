use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A canonical person field. Connectors map their columns or properties onto these; anything
/// else travels as [`Field::Custom`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Email,
    FirstName,
    LastName,
    /// A full name; split into first/last by the core when those are absent.
    FullName,
    Phone,
    Company,
    JobTitle,
    Role,
    Industry,
    CompanySize,
    Country,
    /// Source or channel (`Organic Search`, `google`, `Trade show`).
    Source,
    /// The form that produced the record: newsletter, ebook, contact-us, demo request…
    FormKind,
    Consent,
    CreatedAt,
    LastActivityAt,
    CrmStage,
    LeadStatus,
    Custom(String),
}

impl Field {
    /// Every built-in field (not `Custom`).
    pub const BUILT_IN: [Field; 18] = [
        Field::Email,
        Field::FirstName,
        Field::LastName,
        Field::FullName,
        Field::Phone,
        Field::Company,
        Field::JobTitle,
        Field::Role,
        Field::Industry,
        Field::CompanySize,
        Field::Country,
        Field::Source,
        Field::FormKind,
        Field::Consent,
        Field::CreatedAt,
        Field::LastActivityAt,
        Field::CrmStage,
        Field::LeadStatus,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            Field::Email => "email",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::FullName => "full_name",
            Field::Phone => "phone",
            Field::Company => "company",
            Field::JobTitle => "job_title",
            Field::Role => "role",
            Field::Industry => "industry",
            Field::CompanySize => "company_size",
            Field::Country => "country",
            Field::Source => "source",
            Field::FormKind => "form_kind",
            Field::Consent => "consent",
            Field::CreatedAt => "created_at",
            Field::LastActivityAt => "last_activity_at",
            Field::CrmStage => "crm_stage",
            Field::LeadStatus => "lead_status",
            Field::Custom(name) => name,
        }
    }

    /// The field's place in [`Field::BUILT_IN`]; `None` for a custom field.
    pub fn built_in_index(&self) -> Option<usize> {
        Some(match self {
            Field::Email => 0,
            Field::FirstName => 1,
            Field::LastName => 2,
            Field::FullName => 3,
            Field::Phone => 4,
            Field::Company => 5,
            Field::JobTitle => 6,
            Field::Role => 7,
            Field::Industry => 8,
            Field::CompanySize => 9,
            Field::Country => 10,
            Field::Source => 11,
            Field::FormKind => 12,
            Field::Consent => 13,
            Field::CreatedAt => 14,
            Field::LastActivityAt => 15,
            Field::CrmStage => 16,
            Field::LeadStatus => 17,
            Field::Custom(_) => return None,
        })
    }

    /// Whether a person may hold several values at once (several emails, several phones).
    pub fn is_multi_valued(&self) -> bool {
        matches!(self, Field::Email | Field::Phone)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a field name; custom fields are written `custom.NAME`")]
pub struct FieldParseError(pub String);

impl FromStr for Field {
    type Err = FieldParseError;
    /// Parses the snake_case names of [`Field::as_str`]; `custom.NAME` (or any name not built in,
    /// when prefixed) is a custom field.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(name) = s.strip_prefix("custom.") {
            if name.is_empty() {
                return Err(FieldParseError(s.to_string()));
            }
            return Ok(Field::Custom(name.to_string()));
        }
        Field::BUILT_IN
            .iter()
            .find(|f| f.as_str() == s)
            .cloned()
            .ok_or_else(|| FieldParseError(s.to_string()))
    }
}

impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Custom(name) => s.serialize_str(&format!("custom.{name}")),
            other => s.serialize_str(other.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_fields_know_their_place() {
        for (i, f) in Field::BUILT_IN.iter().enumerate() {
            assert_eq!(f.built_in_index(), Some(i), "{f}");
        }
        assert_eq!(Field::Custom("email".into()).built_in_index(), None);
    }

    #[test]
    fn names_round_trip() {
        for f in Field::BUILT_IN {
            assert_eq!(f.as_str().parse::<Field>().unwrap(), f);
        }
        let c: Field = "custom.budget".parse().unwrap();
        assert_eq!(c, Field::Custom("budget".into()));
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"custom.budget\"");
        assert!("emial".parse::<Field>().is_err());
        assert!("custom.".parse::<Field>().is_err());
    }
}
