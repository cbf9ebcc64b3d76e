//! The golden record: which value of each field wins, by the field's policy, and where it came
//! from.

use crate::config::{MergeConfig, MergePolicy};
use crate::model::{FieldValue, Person, Provenance};
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Field, Stage};
use std::cmp::Ordering;
use std::collections::btree_map::Entry;

pub struct Merger {
    cfg: MergeConfig,
}

impl Merger {
    pub fn new(cfg: &MergeConfig) -> Self {
        Merger { cfg: cfg.clone() }
    }

    /// Folds one record's canonical values into the golden record, moving in the values that
    /// win. Applying the same record twice changes nothing the second time.
    pub fn merge(
        &self,
        person: &mut Person,
        values: impl IntoIterator<Item = (Field, String)>,
        from: Provenance,
    ) {
        let observed_at = from.observed_at;
        let source = person.source_index(from);
        let Person {
            fields, sources, ..
        } = person;
        let from = &sources[source as usize];
        for (field, value) in values {
            let multi = field.is_multi_valued();
            let candidate = |value| FieldValue { value, source };
            let mut slot = match fields.entry(field) {
                Entry::Vacant(slot) => {
                    slot.insert(vec![candidate(value)]);
                    continue;
                }
                Entry::Occupied(slot) => slot,
            };
            if multi {
                let values = slot.get_mut();
                match values.iter_mut().find(|v| v.value == value) {
                    // Keep the provenance of the newest sighting.
                    Some(existing)
                        if sources[existing.source as usize].observed_at <= observed_at =>
                    {
                        existing.source = source
                    }
                    Some(_) => {}
                    None => values.push(candidate(value)),
                }
                continue;
            }
            let replace = match slot.get().first() {
                None => true,
                Some(current) => self.wins(
                    slot.key(),
                    &value,
                    (&from.connector, observed_at),
                    &current.value,
                    &sources[current.source as usize],
                ),
            };
            if replace {
                let values = slot.get_mut();
                values.clear();
                values.push(candidate(value));
            }
        }
    }

    fn wins(
        &self,
        field: &Field,
        new: &str,
        (connector, observed_at): (&str, DateTime<Utc>),
        current: &str,
        current_from: &Provenance,
    ) -> bool {
        let newer = observed_at >= current_from.observed_at;
        match self.cfg.policy(field) {
            MergePolicy::LastWriteWins => newer,
            MergePolicy::FillEmpty => current.is_empty(),
            MergePolicy::SourcePriority => {
                match self
                    .rank(connector)
                    .cmp(&self.rank(&current_from.connector))
                {
                    Ordering::Less => true,
                    Ordering::Greater => false,
                    Ordering::Equal => newer,
                }
            }
            MergePolicy::Maximum => match compare(field, new, current) {
                Ordering::Greater => true,
                Ordering::Less => false,
                Ordering::Equal => newer,
            },
        }
    }

    /// Position in `source_priority`; unlisted connectors rank after every listed one.
    fn rank(&self, connector: &str) -> usize {
        self.cfg
            .source_priority
            .iter()
            .position(|c| c == connector)
            .unwrap_or(usize::MAX)
    }
}

/// Orders two values of a field: stages by funnel, numbers by size, the rest (canonical RFC 3339
/// times included) as text.
fn compare(field: &Field, a: &str, b: &str) -> Ordering {
    if *field == Field::CrmStage {
        return Stage::parse(a).tier().cmp(&Stage::parse(b).tier());
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use std::collections::BTreeMap;

    fn from(connector: &str, day: u32) -> Provenance {
        Provenance {
            connector: connector.into(),
            locator: format!("{connector} row {day}"),
            observed_at: Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap(),
        }
    }

    fn merger(fields: &[(&str, MergePolicy)]) -> Merger {
        Merger::new(&MergeConfig {
            source_priority: vec!["crm".into(), "sheets".into()],
            default_policy: MergePolicy::LastWriteWins,
            fields: fields
                .iter()
                .map(|(f, p)| (f.to_string(), *p))
                .collect::<BTreeMap<_, _>>(),
        })
    }

    #[test]
    fn each_policy_picks_its_winner() {
        let m = merger(&[
            ("job_title", MergePolicy::SourcePriority),
            ("company", MergePolicy::FillEmpty),
        ]);
        let mut p = Person::new(1, Utc::now());
        m.merge(
            &mut p,
            [
                (Field::JobTitle, "CEO".into()),
                (Field::Company, "Acme".into()),
                (Field::Industry, "Retail".into()),
                (Field::CrmStage, "sql".into()),
            ],
            from("crm", 1),
        );
        m.merge(
            &mut p,
            [
                (Field::JobTitle, "Boss".into()),
                (Field::Company, "ACME Inc".into()),
                (Field::Industry, "Software".into()),
                (Field::CrmStage, "lead".into()),
            ],
            from("sheets", 2),
        );
        assert_eq!(
            p.get(&Field::JobTitle),
            Some("CEO"),
            "source priority: the CRM outranks the sheet"
        );
        assert_eq!(
            p.get(&Field::Company),
            Some("Acme"),
            "fill-empty keeps the first value"
        );
        assert_eq!(p.get(&Field::Industry), Some("Software"), "last write wins");
        assert_eq!(
            p.get(&Field::CrmStage),
            Some("sql"),
            "stages take the maximum"
        );
        assert_eq!(
            p.source_of(&p.fields[&Field::JobTitle][0]).connector,
            "crm",
            "provenance kept"
        );
    }

    #[test]
    fn emails_accumulate_and_merging_twice_is_a_no_op() {
        let m = merger(&[]);
        let mut p = Person::new(1, Utc::now());
        m.merge(&mut p, [(Field::Email, "a@x.io".into())], from("sheets", 1));
        m.merge(&mut p, [(Field::Email, "b@x.io".into())], from("sheets", 2));
        let once = p.clone();
        m.merge(&mut p, [(Field::Email, "b@x.io".into())], from("sheets", 2));
        assert_eq!(p, once);
        assert_eq!(p.fields[&Field::Email].len(), 2);
        assert_eq!(p.get(&Field::Email), Some("a@x.io"));
    }
}
