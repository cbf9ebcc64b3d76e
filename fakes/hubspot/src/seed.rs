//! Deterministic sample contacts: the same seed gives the same people, so tests and the demo are
//! reproducible (only the dates move with the clock, relative to "now").

use std::collections::BTreeMap;

use leadsync_fake_support::seed::{COMPANIES, FIRST, LAST, Rng, TITLES, email, phone};

/// Each company's industry, in the order of [`COMPANIES`].
const INDUSTRIES: [&str; 8] = [
    "Manufacturing",
    "Energy",
    "Computer Software",
    "Pharmaceuticals",
    "Internet",
    "Defense & Space",
    "Financial Services",
    "Food Production",
];
/// Stages seeded contacts may hold (none of them later than `customer`, so tests can move
/// them forward).
const STAGES: [&str; 6] = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
];
const LEAD_STATUSES: [&str; 4] = ["NEW", "OPEN", "IN_PROGRESS", "CONNECTED"];

const DAY_MS: u64 = 86_400_000;

/// A seeded contact: properties, `createdate` and `lastmodifieddate` (epoch ms).
pub(crate) struct Seeded {
    pub(crate) props: BTreeMap<String, String>,
    pub(crate) created: i64,
    pub(crate) modified: i64,
}

/// `n` contacts modified over the 30 days before `now_ms`, created up to a year before that.
pub(crate) fn contacts(n: usize, seed: u64, now_ms: i64) -> Vec<Seeded> {
    let mut rng = Rng::new(seed);
    (0..n).map(|i| contact(&mut rng, i, now_ms)).collect()
}

fn contact(rng: &mut Rng, i: usize, now_ms: i64) -> Seeded {
    let first = rng.pick(&FIRST);
    let last = rng.pick(&LAST);
    let at = rng.index(COMPANIES.len());
    let (company, domain) = COMPANIES[at];
    let mut props = BTreeMap::from([
        ("email".to_owned(), email(first, last, i as u64, domain)),
        ("firstname".to_owned(), first.to_owned()),
        ("lastname".to_owned(), last.to_owned()),
        ("phone".to_owned(), phone(rng)),
        ("company".to_owned(), company.to_owned()),
        ("jobtitle".to_owned(), rng.pick(&TITLES).to_owned()),
        ("industry".to_owned(), INDUSTRIES[at].to_owned()),
    ]);
    if rng.below(10) < 7 {
        props.insert("lifecyclestage".into(), rng.pick(&STAGES).to_owned());
    }
    if rng.below(10) < 4 {
        props.insert("hs_lead_status".into(), rng.pick(&LEAD_STATUSES).to_owned());
    }
    if rng.below(10) < 3 {
        props.insert("mobilephone".into(), phone(rng));
    }
    let modified = now_ms - rng.below(30 * DAY_MS) as i64;
    let created = modified - rng.below(365 * DAY_MS) as i64;
    Seeded {
        props,
        created,
        modified,
    }
}

#[cfg(test)]
mod tests {
    use super::contacts;

    #[test]
    fn same_seed_same_people() {
        let a = contacts(50, 7, 1_700_000_000_000);
        let b = contacts(50, 7, 1_700_000_000_000);
        assert!(a.iter().zip(&b).all(|(x, y)| x.props == y.props));
        assert!(a.iter().all(|c| c.created <= c.modified));
    }
}
