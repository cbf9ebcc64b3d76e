//! Qualification. Until a rules file is configured, the tier comes from the built-in baseline:
//! the highest CRM stage, else the fields present (an email: subscriber; a name, an email and a
//! phone: lead). Tiers never go down automatically.

use crate::model::Person;
use crate::store::TierChange;
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Field, Tier};
use std::collections::BTreeMap;

/// The rules version recorded for the built-in baseline.
pub const BUILTIN_VERSION: &str = "builtin";

/// The baseline tier of a person, with the rule that gives it and its evidence.
pub fn baseline(person: &Person) -> Option<(Tier, &'static str, BTreeMap<String, String>)> {
    let mut evidence = BTreeMap::new();
    let by_fields = if person.has(&Field::Email)
        && person.has(&Field::Phone)
        && (person.has(&Field::FirstName) || person.has(&Field::LastName))
    {
        for f in [
            Field::Email,
            Field::Phone,
            Field::FirstName,
            Field::LastName,
        ] {
            if let Some(v) = person.get(&f) {
                evidence.insert(f.to_string(), v.to_string());
            }
        }
        Some(Tier::Lead)
    } else if person.has(&Field::Email) {
        evidence.insert(
            "email".into(),
            person.get(&Field::Email).unwrap_or_default().into(),
        );
        Some(Tier::Subscriber)
    } else {
        None
    };
    match (person.crm_tier(), by_fields) {
        (Some(crm), f) if Some(crm) >= f => {
            let stage = person.get(&Field::CrmStage).unwrap_or_default().to_string();
            Some((
                crm,
                "crm_stage",
                BTreeMap::from([("crm_stage".to_string(), stage)]),
            ))
        }
        (_, Some(t)) => Some((t, "fields_present", evidence)),
        (_, None) => None,
    }
}

/// Raises the person's tier to its baseline when that is higher, returning the change to record.
/// A lower baseline never lowers the tier.
pub fn raise_baseline(person: &mut Person, now: DateTime<Utc>) -> Option<TierChange> {
    let (tier, rule, evidence) = baseline(person)?;
    if person.tier.is_some_and(|current| current >= tier) {
        return None;
    }
    let change = TierChange {
        person: person.id,
        from: person.tier,
        to: tier,
        rule: rule.to_string(),
        rules_version: BUILTIN_VERSION.to_string(),
        evidence,
        at: now,
    };
    person.tier = Some(tier);
    Some(change)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FieldValue, Provenance};

    fn person(values: &[(Field, &str)]) -> Person {
        let mut p = Person::new(7, Utc::now());
        let from = Provenance {
            connector: "s".into(),
            locator: "f row 2".into(),
            observed_at: Utc::now(),
        };
        let source = p.source_index(&from);
        for (f, v) in values {
            let value = FieldValue {
                value: v.to_string(),
                source,
            };
            p.fields.insert(f.clone(), vec![value]);
        }
        p
    }

    #[test]
    fn baseline_follows_the_fields_present() {
        assert_eq!(
            baseline(&person(&[(Field::Email, "a@b.io")])).unwrap().0,
            Tier::Subscriber
        );
        let lead = person(&[
            (Field::Email, "a@b.io"),
            (Field::Phone, "+14155550123"),
            (Field::FirstName, "A"),
        ]);
        assert_eq!(baseline(&lead).unwrap().0, Tier::Lead);
        assert!(
            baseline(&person(&[
                (Field::Phone, "+14155550123"),
                (Field::FirstName, "A")
            ]))
            .is_none()
        );
        let crm = person(&[(Field::Email, "a@b.io"), (Field::CrmStage, "customer")]);
        assert_eq!(baseline(&crm).unwrap().1, "crm_stage");
    }

    #[test]
    fn a_tier_is_never_lowered() {
        let mut p = person(&[(Field::Email, "a@b.io"), (Field::CrmStage, "sql")]);
        let change = raise_baseline(&mut p, Utc::now()).unwrap();
        assert_eq!((change.from, change.to), (None, Tier::Sql));
        p.fields.remove(&Field::CrmStage);
        assert!(raise_baseline(&mut p, Utc::now()).is_none());
        assert_eq!(p.tier, Some(Tier::Sql));
    }
}
