//! Deterministic sample people for seeding leads and contacts, in tests, benchmarks and the demo.
//!
//! Person `index` of seed `seed` depends on nothing else: [`person`]`(seed, i)` is the same
//! whether it is made alone or as part of [`people`]. So a demo can give people `0..600` to this
//! fake and people `400..1000` to another CRM's fake and know exactly who is in both (`400..600`).
//!
//! **Email rule:** `{first}.{last}{index + 1}@{domain}`, all lowercase, where `first`, `last`
//! and the company's `domain` are the person's own (for example `ada.lovelace7@acme.example`
//! for index 6). The index makes emails unique within a seed; another fake that builds its
//! people with [`person`] and the same seed produces the same emails.

/// One generated person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub company: String,
    pub title: String,
    pub lead_source: String,
}

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
/// (company, email domain).
const COMPANIES: [(&str, &str); 8] = [
    ("Acme Corp", "acme.example"),
    ("Globex", "globex.example"),
    ("Initech", "initech.example"),
    ("Umbrella", "umbrella.example"),
    ("Hooli", "hooli.example"),
    ("Stark Industries", "stark.example"),
    ("Wayne Enterprises", "wayne.example"),
    ("Soylent", "soylent.example"),
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
/// Salesforce's standard Lead Source values.
const SOURCES: [&str; 5] = [
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
];

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

    fn below(&mut self, n: usize) -> usize {
        // n is a small table length: the cast cannot truncate.
        (self.next() % n as u64) as usize
    }
}

/// The email of a person named `first` `last` at `domain`, number `index` (see the module docs).
pub fn email(first: &str, last: &str, index: u64, domain: &str) -> String {
    format!("{first}.{last}{}@{domain}", index + 1).to_lowercase()
}

/// Person `index` of `seed`.
pub fn person(seed: u64, index: u64) -> Person {
    // Mixing the index in by one SplitMix step keeps neighbours unrelated.
    let mut rng = Rng(seed ^ Rng(index).next());
    let first = FIRST[rng.below(FIRST.len())];
    let last = LAST[rng.below(LAST.len())];
    let (company, domain) = COMPANIES[rng.below(COMPANIES.len())];
    let phone = format!("+1 555 01{:02} {:04}", rng.below(100), rng.below(10_000));
    Person {
        first_name: first.to_owned(),
        last_name: last.to_owned(),
        email: email(first, last, index, domain),
        phone,
        company: company.to_owned(),
        title: TITLES[rng.below(TITLES.len())].to_owned(),
        lead_source: SOURCES[rng.below(SOURCES.len())].to_owned(),
    }
}

/// People `0..n` of `seed`.
pub fn people(n: usize, seed: u64) -> Vec<Person> {
    (0..n as u64).map(|i| person(seed, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_depends_only_on_seed_and_index() {
        let all = people(50, 7);
        assert_eq!(all, people(50, 7));
        assert_eq!(all[31], person(7, 31));
        assert_ne!(people(50, 8), all);
        let emails: std::collections::BTreeSet<&str> =
            all.iter().map(|p| p.email.as_str()).collect();
        assert_eq!(emails.len(), 50);
        let p = &all[6];
        let local = format!("{}.{}7@", p.first_name, p.last_name).to_lowercase();
        assert!(p.email.starts_with(&local), "{}", p.email);
    }
}
