//! Deterministic sample contacts: the same seed gives the same people, so tests and the demo are
//! reproducible (only the dates move with the clock, relative to "now").

use std::collections::BTreeMap;

const FIRST: [&str; 16] = [
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "John",
    "Radia",
    "Edsger",
    "Hedy",
    "Donald",
    "Katherine",
    "Tim",
];
const LAST: [&str; 16] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Backus",
    "Perlman",
    "Dijkstra",
    "Lamarr",
    "Knuth",
    "Johnson",
    "Berners-Lee",
];
const COMPANIES: [(&str, &str, &str); 8] = [
    ("Acme Corp", "acme.example", "Manufacturing"),
    ("Globex", "globex.example", "Energy"),
    ("Initech", "initech.example", "Computer Software"),
    ("Umbrella", "umbrella.example", "Pharmaceuticals"),
    ("Hooli", "hooli.example", "Internet"),
    ("Stark Industries", "stark.example", "Defense & Space"),
    ("Wayne Enterprises", "wayne.example", "Financial Services"),
    ("Soylent", "soylent.example", "Food Production"),
];
const TITLES: [&str; 8] = [
    "CEO",
    "CTO",
    "VP Sales",
    "Marketing Manager",
    "Engineer",
    "Office Manager",
    "Procurement Lead",
    "Analyst",
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

/// SplitMix64: tiny, good enough, and needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A seeded contact: properties, `createdate` and `lastmodifieddate` (epoch ms).
pub(crate) struct Seeded {
    pub(crate) props: BTreeMap<String, String>,
    pub(crate) created: i64,
    pub(crate) modified: i64,
}

/// `n` contacts modified over the 30 days before `now_ms`, created up to a year before that.
pub(crate) fn contacts(n: usize, seed: u64, now_ms: i64) -> Vec<Seeded> {
    let mut rng = Rng(seed);
    (0..n).map(|i| contact(&mut rng, i, now_ms)).collect()
}

fn contact(rng: &mut Rng, i: usize, now_ms: i64) -> Seeded {
    let first = rng.pick(&FIRST);
    let last = rng.pick(&LAST);
    let (company, domain, industry) = COMPANIES[rng.below(COMPANIES.len() as u64) as usize];
    let local = format!("{}.{}{}", first, last, i + 1).to_lowercase();
    let mut props = BTreeMap::from([
        ("email".to_owned(), format!("{local}@{domain}")),
        ("firstname".to_owned(), first.to_owned()),
        ("lastname".to_owned(), last.to_owned()),
        ("phone".to_owned(), phone(rng)),
        ("company".to_owned(), company.to_owned()),
        ("jobtitle".to_owned(), rng.pick(&TITLES).to_owned()),
        ("industry".to_owned(), industry.to_owned()),
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

fn phone(rng: &mut Rng) -> String {
    format!("+1 555 01{:02} {:04}", rng.below(100), rng.below(10_000))
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
