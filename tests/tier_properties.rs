//! Property: for random sequences of input changes and rules edits, a tier never decreases, the
//! history always ends at the current tier, and every history entry names a rule and a rules
//! version.

use chrono::Utc;
use leadsync::config::{IdentityConfig, MergeConfig};
use leadsync::connector::{Field, Locator, SourceRecord, Tier};
use leadsync::pipeline;
use leadsync::pipeline::PageIngest;
use leadsync::rules::{DEFAULT_RULES, Rules, RulesSource};
use leadsync::store::{SqliteStore, prelude::*};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
enum Op {
    /// A record about person `who`, with some fields.
    Ingest { who: u8, fields: Vec<(u8, u8)> },
    /// Switch to rules variant `n` and re-qualify.
    Rules(u8),
}

const TITLES: [&str; 4] = ["CEO", "Engineer", "Owner", "Intern"];
const INDUSTRIES: [&str; 3] = ["Software", "Retail", "Finance"];
const STAGES: [&str; 5] = ["subscriber", "lead", "opportunity", "customer", "other"];
const FORMS: [&str; 3] = ["demo request", "ebook", "newsletter"];
const CONSENT: [&str; 2] = ["yes", "no"];

fn field(kind: u8, pick: u8) -> (Field, String) {
    let p = pick as usize;
    match kind % 9 {
        0 => (Field::Phone, format!("+1 415 555 {:04}", 100 + p % 50)),
        1 => (Field::FirstName, "Pat".into()),
        2 => (Field::JobTitle, TITLES[p % TITLES.len()].into()),
        3 => (Field::Industry, INDUSTRIES[p % INDUSTRIES.len()].into()),
        4 => (Field::CompanySize, ["10", "120", "9000"][p % 3].into()),
        5 => (Field::CrmStage, STAGES[p % STAGES.len()].into()),
        6 => (Field::FormKind, FORMS[p % FORMS.len()].into()),
        7 => (Field::Consent, CONSENT[p % 2].into()),
        _ => (
            Field::Custom(["has_problem", "can_buy", "agreed_to_talk", "open_deal"][p % 4].into()),
            "yes".into(),
        ),
    }
}

/// Rules that raise, lower and reshuffle tiers.
fn variants() -> Vec<Arc<Rules>> {
    let texts = [
        DEFAULT_RULES.to_string(),
        DEFAULT_RULES.replace("mql_score = 60", "mql_score = 10"),
        DEFAULT_RULES.replace(
            "when = \"has_email && !opted_out\"",
            "when = \"has_email && consent == 'yes'\"",
        ),
        "[[rules]]\nname = \"only_subscribers\"\ntier = \"subscriber\"\nwhen = \"has_email\"\n"
            .to_string(),
        "[[rules]]\nname = \"everyone_customer\"\ntier = \"customer\"\nwhen = \"has_phone\"\n"
            .to_string(),
    ];
    texts
        .into_iter()
        .map(|text| Arc::new(Rules::load(RulesSource { path: None, text }).unwrap()))
        .collect()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..5, prop::collection::vec((0u8..9, 0u8..10), 0..5)).prop_map(|(who, fields)| Op::Ingest { who, fields }),
        1 => (0u8..5).prop_map(Op::Rules),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    #[test]
    fn tiers_only_rise_and_history_explains_them(ops in prop::collection::vec(op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join("p.db")).unwrap();
        let rules_variants = variants();
        let mut rules = Arc::clone(&rules_variants[0]);
        let mut seen: HashMap<i64, Option<Tier>> = HashMap::new();
        for (n, op) in ops.iter().enumerate() {
            match op {
                Op::Ingest { who, fields } => {
                    let mut values = vec![(Field::Email, format!("p{who}@acme.io"))];
                    values.extend(fields.iter().map(|(k, p)| field(*k, *p)));
                    let record = SourceRecord {
                        locator: Locator::File { hash: "h".into(), name: "f.csv".into(), row: n as u64 + 2 },
                        observed_at: Utc::now(),
                        values,
                        archived: false,
                    };
                    let resolver = PageIngest::new(&IdentityConfig::default(), &MergeConfig::default(), Arc::clone(&rules));
                    let mut tx = store.begin().unwrap();
                    resolver.apply_page(tx.as_mut(), "drops", &[record], Utc::now()).unwrap();
                    tx.commit().unwrap();
                }
                Op::Rules(v) => {
                    rules = Arc::clone(&rules_variants[*v as usize]);
                    pipeline::requalify(&mut store, &rules, &[], Utc::now(), false, 0, false).unwrap();
                }
            }
            for id in 1..=store.person_count().unwrap() as i64 {
                let person = store.person(id).unwrap().unwrap();
                let before = seen.insert(id, person.tier).flatten();
                prop_assert!(person.tier >= before, "person {} fell from {:?} to {:?} after {:?}", id, before, person.tier, op);
                let history = store.tier_history(id).unwrap();
                prop_assert_eq!(history.last().map(|c| c.to), person.tier, "history ends at the tier");
                for pair in history.windows(2) {
                    prop_assert!(pair[0].to < pair[1].to && pair[1].from == Some(pair[0].to));
                }
                for change in &history {
                    prop_assert!(!change.rule.is_empty() && !change.rules_version.is_empty(), "{:?}", change);
                }
            }
        }
    }
}
