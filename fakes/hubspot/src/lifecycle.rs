//! Lifecycle stages: HubSpot only lets the value move forward, and answers success when it ignores
//! a backward set. The fake reproduces that silent no-op so the client must read back.

use serde_json::{Value, json};

/// Internal values in HubSpot's default order.
const STAGES: [(&str, &str); 8] = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
];

/// The wildcard stage, outside the forward-only order.
const OTHER: &str = "other";

const LEAD_STATUSES: [(&str, &str); 8] = [
    ("NEW", "New"),
    ("OPEN", "Open"),
    ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
];

/// The account's lifecycle stages, `(internal value, label)` in the account's order: HubSpot's
/// defaults until custom stages are added.
pub(crate) fn default_stages() -> Vec<(String, String)> {
    STAGES
        .iter()
        .map(|(v, l)| (v.to_string(), l.to_string()))
        .collect()
}

fn rank(order: &[(String, String)], stage: &str) -> Option<usize> {
    order.iter().position(|(value, _)| value == stage)
}

/// Whether setting `new` (non-empty) over `current` takes effect. Unknown values and backward
/// moves are ignored; `other` can be set from and left for any stage; an empty (cleared) stage
/// accepts anything known.
pub(crate) fn accepts(order: &[(String, String)], current: Option<&str>, new: &str) -> bool {
    let Some(new_rank) = rank(order, new) else {
        return false;
    };
    match current.and_then(|c| rank(order, c)) {
        None => true,
        Some(_) if new == OTHER || current == Some(OTHER) => true,
        Some(current_rank) => new_rank >= current_rank,
    }
}

/// `GET /properties/contacts/{name}` for the enumerations the connector reads.
pub(crate) fn property_json(order: &[(String, String)], name: &str) -> Option<Value> {
    let lead_statuses: Vec<(String, String)>;
    let (label, options): (&str, &[(String, String)]) = match name {
        "lifecyclestage" => ("Lifecycle Stage", order),
        "hs_lead_status" => {
            lead_statuses = LEAD_STATUSES
                .iter()
                .map(|(v, l)| (v.to_string(), l.to_string()))
                .collect();
            ("Lead Status", &lead_statuses)
        }
        _ => return None,
    };
    let options: Vec<Value> = options
        .iter()
        .enumerate()
        .map(|(order, (value, label))| {
            json!({"label": label, "value": value, "displayOrder": order, "hidden": false})
        })
        .collect();
    Some(json!({
        "name": name,
        "label": label,
        "type": "enumeration",
        "fieldType": "radio",
        "groupName": "contactinformation",
        "options": options,
    }))
}

#[cfg(test)]
mod tests {
    use super::{accepts, default_stages};

    #[test]
    fn forward_only_with_wildcard_and_clear() {
        assert!(accepts(&default_stages(), Some("lead"), "customer"));
        assert!(!accepts(&default_stages(), Some("customer"), "lead"));
        assert!(!accepts(&default_stages(), Some("lead"), "nonsense"));
        assert!(accepts(&default_stages(), None, "subscriber"));
        assert!(accepts(&default_stages(), Some("customer"), "other"));
        assert!(accepts(&default_stages(), Some("other"), "lead"));
    }
}
