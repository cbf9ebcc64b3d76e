//! The JSON shapes HubSpot's v3 contacts API sends and expects: contacts, pages, search bodies,
//! lifecycle stage options, batch answers and error bodies.

use crate::properties::Properties;
use serde::{Deserialize, Serialize};

/// A contact as the API returns it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub(crate) struct ApiContact {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) properties: Properties,
    #[serde(rename = "updatedAt", default)]
    pub(crate) updated_at: Option<String>,
    #[serde(default)]
    pub(crate) archived: bool,
}

impl ApiContact {
    pub(crate) fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).filter(|v| !v.is_empty())
    }

    /// `lastmodifieddate` in epoch ms (0 when absent). The v3 API writes it as ISO 8601; epoch
    /// milliseconds are accepted too.
    pub(crate) fn modified_ms(&self) -> u64 {
        let Some(v) = self.property("lastmodifieddate") else {
            return 0;
        };
        v.parse::<u64>().ok().unwrap_or_else(|| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map_or(0, |t| t.timestamp_millis().max(0) as u64)
        })
    }

    pub(crate) fn numeric_id(&self) -> u64 {
        self.id.parse().unwrap_or(0)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    pub(crate) results: Vec<ApiContact>,
    #[serde(default)]
    pub(crate) paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Paging {
    pub(crate) next: Option<Next>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Next {
    pub(crate) after: String,
}

impl Page {
    pub(crate) fn next_after(&self) -> Option<&str> {
        self.paging
            .as_ref()?
            .next
            .as_ref()
            .map(|n| n.after.as_str())
    }
}

/// A search request body.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Search {
    #[serde(rename = "filterGroups")]
    pub(crate) filter_groups: Vec<FilterGroup>,
    pub(crate) sorts: Vec<Sort>,
    pub(crate) properties: Vec<String>,
    pub(crate) limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) after: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FilterGroup {
    pub(crate) filters: Vec<Filter>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Filter {
    #[serde(rename = "propertyName")]
    pub(crate) property: String,
    pub(crate) operator: String,
    pub(crate) value: String,
}

impl Filter {
    pub(crate) fn new(property: &str, operator: &str, value: impl ToString) -> Self {
        Filter {
            property: property.into(),
            operator: operator.into(),
            value: value.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Sort {
    #[serde(rename = "propertyName")]
    pub(crate) property: String,
    pub(crate) direction: String,
}

/// The lifecycle stage property.
#[derive(Debug, Deserialize)]
pub(crate) struct StageProperty {
    #[serde(default)]
    pub(crate) options: Vec<StageOption>,
}

/// One lifecycle stage of the account.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StageOption {
    pub(crate) value: String,
    #[serde(rename = "displayOrder", default)]
    pub(crate) display_order: i64,
}

/// A batch answer (200 or 207).
#[derive(Debug, Deserialize)]
pub(crate) struct BatchAnswer {
    #[serde(default)]
    pub(crate) errors: Vec<BatchError>,
}

/// One error of a 207: which inputs (`context.ids`) and why.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BatchError {
    #[serde(default)]
    pub(crate) category: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) context: std::collections::HashMap<String, Vec<String>>,
}

/// The body of an error answer.
#[derive(Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default, rename = "policyName")]
    pub(crate) policy_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(modified: &str) -> ApiContact {
        ApiContact {
            id: "7".into(),
            properties: [("lastmodifieddate", modified)].into(),
            updated_at: None,
            archived: false,
        }
    }

    #[test]
    fn modification_times_read_in_both_spellings() {
        assert_eq!(contact("1700000000123").modified_ms(), 1_700_000_000_123);
        assert_eq!(
            contact("2023-11-14T22:13:20.123Z").modified_ms(),
            1_700_000_000_123
        );
        assert_eq!(contact("").modified_ms(), 0);
    }
}
