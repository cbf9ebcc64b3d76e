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

use leadsync_fake_support::seed::{COMPANIES, FIRST, LAST, Rng, TITLES, phone};

/// The email of a person (see the module docs); the same rule as the fake HubSpot's.
pub use leadsync_fake_support::seed::email;

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

/// Salesforce's standard Lead Source values.
const SOURCES: [&str; 5] = [
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
];

/// Person `index` of `seed`.
pub fn person(seed: u64, index: u64) -> Person {
    // Mixing the index in by one SplitMix step keeps neighbours unrelated.
    let mut rng = Rng::new(seed ^ Rng::new(index).next_u64());
    let first = rng.pick(&FIRST);
    let last = rng.pick(&LAST);
    let (company, domain) = rng.pick(&COMPANIES);
    let phone = phone(&mut rng);
    Person {
        first_name: first.to_owned(),
        last_name: last.to_owned(),
        email: email(first, last, index, domain),
        phone,
        company: company.to_owned(),
        title: rng.pick(&TITLES).to_owned(),
        lead_source: rng.pick(&SOURCES).to_owned(),
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
