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

fn rank(stage: &str) -> Option<usize> {
    STAGES.iter().position(|(value, _)| *value == stage)
}

/// Whether setting `new` (non-empty) over `current` takes effect. Unknown values and backward
/// moves are ignored; `other` can be set from and left for any stage; an empty (cleared) stage
/// accepts anything known.
pub(crate) fn accepts(current: Option<&str>, new: &str) -> bool {
    let Some(new_rank) = rank(new) else {
        return false;
    };
    match current.and_then(rank) {
        None => true,
        Some(_) if new == OTHER || current == Some(OTHER) => true,
        Some(current_rank) => new_rank >= current_rank,
    }
}

/// `GET /properties/contacts/{name}` for the enumerations the connector reads.
pub(crate) fn property_json(name: &str) -> Option<Value> {
    let (label, options): (&str, &[(&str, &str)]) = match name {
        "lifecyclestage" => ("Lifecycle Stage", &STAGES),
        "hs_lead_status" => ("Lead Status", &LEAD_STATUSES),
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
    use super::accepts;

    #[test]
    fn forward_only_with_wildcard_and_clear() {
        assert!(accepts(Some("lead"), "customer"));
        assert!(!accepts(Some("customer"), "lead"));
        assert!(!accepts(Some("lead"), "nonsense"));
        assert!(accepts(None, "subscriber"));
        assert!(accepts(Some("customer"), "other"));
        assert!(accepts(Some("other"), "lead"));
    }
}
