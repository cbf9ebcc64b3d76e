//! The numbering plan's patterns compiled once each, without a lock on use, and what
//! `phonenumber::is_valid` needs per country code, looked up once.
//!
//! Every pattern the metadata holds is compiled the way the crate compiles it, anchored at the
//! start of the text: `find(text).is_some_and(|m| m.start() == 0)`, what the crate asks of its
//! patterns, holds exactly when the anchored pattern matches, and the leftmost-first match the
//! crate then uses (its end, its groups, what `replace` rewrites) is the one the anchored pattern
//! finds, since both prefer among the matches starting at 0 in the same order.

use phonenumber::metadata::{DATABASE, Database, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{LazyLock, Mutex, OnceLock};

/// A pattern's text (by address: the database is a static that never changes) and its compiled
/// anchored form, built on first use.
struct Slot {
    source: &'static str,
    compiled: OnceLock<Regex>,
}

/// What `is_valid` needs to know of a country code.
struct Code {
    /// `source_for`'s choice when the code has one region; `None` when it has several.
    only: Option<Option<&'static Metadata>>,
    /// The code's regions in the database's order, when it has several.
    regions: Vec<&'static Metadata>,
    /// Bit `n` set: no region of the code has numbers of national length `n`.
    impossible: u32,
}

struct Plan {
    patterns: HashMap<usize, Slot, BuildHasherDefault<AddressHasher>>,
    /// `Database::by_code(code).is_some()`, by code.
    known: Vec<bool>,
    /// `Database::region(code)`, digested, by code.
    codes: Vec<Option<Code>>,
}

static PLAN: LazyLock<Plan> = LazyLock::new(build);

/// Builds the plan (about a millisecond): `load_metadata` calls it at start.
pub(super) fn load() {
    let _ = &*PLAN;
}

/// Patterns met that the plan did not list (none, as far as the tests see), compiled here once.
static STRAYS: LazyLock<Mutex<HashMap<usize, &'static Regex>>> = LazyLock::new(Default::default);

/// The database pattern `source`, compiled anchored at the start of the text.
pub(super) fn anchored(source: &'static str) -> &'static Regex {
    let key = source.as_ptr() as usize;
    match PLAN.patterns.get(&key) {
        Some(slot) if slot.source.len() == source.len() => {
            slot.compiled.get_or_init(|| compile(slot.source))
        }
        _ => {
            let mut strays = STRAYS.lock().unwrap_or_else(|e| e.into_inner());
            strays
                .entry(key)
                .or_insert_with(|| Box::leak(Box::new(compile(source))))
        }
    }
}

/// The pattern with the options phonenumber's database gives its patterns (the rest are
/// regex_cache's defaults), anchored. The closing parenthesis goes on a line of its own so that a
/// `#` comment in the (whitespace-insensitive) pattern cannot swallow it.
fn compile(source: &str) -> Regex {
    regex(&format!("^(?:{source}\n)"))
}

/// `pattern` compiled as phonenumber's database compiles its patterns.
fn regex(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .ignore_whitespace(true)
        .unicode(true)
        .size_limit(10 * (1 << 20))
        .dfa_size_limit(2 * (1 << 20))
        .build()
        .expect("phonenumber's patterns compile")
}

/// Whether the first match of the database pattern `source` in `text` starts at its beginning.
pub(super) fn starts_with_match(source: &'static str, text: &str) -> bool {
    anchored(source).is_match(text)
}

/// `Descriptor::is_match`.
pub(super) fn matches(d: &'static Descriptor, national: &str) -> bool {
    let possible = d.possible_length();
    (possible.is_empty() || possible.contains(&(national.len() as u16)))
        && starts_with_match(d.national_number().as_str(), national)
}

/// The descriptors `number_type` tries after the general one, the commonest first (the answer
/// is whether any matches, so the order changes nothing else).
pub(super) fn typed(meta: &'static Metadata) -> [Option<&'static Descriptor>; 10] {
    let d = meta.descriptors();
    [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.voip(),
        d.personal_number(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ]
}

/// `number_type(meta, national) != Type::Unknown`: the general descriptor matches, and so does
/// one of the types `number_type` tries.
fn has_type(meta: &'static Metadata, national: &str) -> bool {
    matches(meta.descriptors().general(), national)
        && typed(meta)
            .into_iter()
            .flatten()
            .any(|t| matches(t, national))
}

/// `Database::by_code(code).is_some()`.
pub(super) fn known(code: u16) -> bool {
    PLAN.known.get(usize::from(code)).copied().unwrap_or(false)
}

/// `phonenumber::is_valid` (0.3.10) step for step for the number `+code national`.
pub(super) fn is_valid(code: u16, national: &str) -> bool {
    let Some(Some(entry)) = PLAN.codes.get(usize::from(code)) else {
        return false;
    };
    // `source_for`: the region whose metadata decides, then `number_type` by it.
    match entry.only {
        Some(meta) => meta.is_some_and(|meta| has_type(meta, national)),
        None => {
            for &meta in &entry.regions {
                match meta.leading_digits() {
                    Some(pattern) => {
                        if starts_with_match(pattern.as_str(), national) {
                            return has_type(meta, national);
                        }
                    }
                    // Chosen for having a type: `number_type` by it is not `Unknown`.
                    None => {
                        if has_type(meta, national) {
                            return true;
                        }
                    }
                }
            }
            false
        }
    }
}

/// Whether `phonenumber::is_valid` is certainly false because no region of the number's country
/// code has numbers of its national length. `is_valid` picks one of those regions and asks
/// `number_type`, which is `Unknown` unless the general descriptor and one of the typed ones
/// (fixed line, mobile, toll free …) match; each descriptor's first test is its list of possible
/// lengths. Checking those lists up front skips `is_valid`'s scan of the regions' patterns (for
/// +1, some 25 regions): the costliest part of rejecting a number with digits missing or extra.
/// Answers `false` (ask `is_valid`) whenever unsure; the tests hold it to `is_valid`.
pub(super) fn impossible_length(code: u16, length: usize) -> bool {
    match PLAN.codes.get(usize::from(code)) {
        Some(Some(entry)) => length < 32 && entry.impossible & (1 << length) != 0,
        _ => false,
    }
}

/// `impossible_length` computed from the database, for one length.
fn rules_out_length(db: &'static Database, regions: &[&str], length: u16) -> bool {
    let rules_out = |d: &Descriptor| {
        let possible = d.possible_length();
        !possible.is_empty() && !possible.contains(&length)
    };
    regions.iter().all(|region| {
        // Non-geographic codes ("001") share one id: `is_valid` looks those up by code.
        *region != "001"
            && db.by_id(*region).is_some_and(|meta| {
                rules_out(meta.descriptors().general())
                    || typed(meta).into_iter().flatten().all(rules_out)
            })
    })
}

fn build() -> Plan {
    let db: &'static Database = &DATABASE;
    let mut known = Vec::new();
    let mut codes = Vec::new();
    let mut metas: Vec<&'static Metadata> = db.iter().collect();
    for code in 0..=u16::MAX {
        if let Some(found) = db.by_code(&code) {
            known.resize(usize::from(code) + 1, false);
            known[usize::from(code)] = true;
            metas.extend(found);
        }
        let Some(regions) = db.region(&code) else {
            continue;
        };
        let only = (regions.len() == 1).then(|| {
            if regions[0] == "001" {
                db.by_code(&code).and_then(|m| m.into_iter().next())
            } else if regions[0].parse::<phonenumber::country::Id>().is_ok() {
                db.by_id(regions[0])
            } else {
                None
            }
        });
        let impossible = (0..32u16)
            .filter(|&length| rules_out_length(db, &regions, length))
            .fold(0u32, |bits, length| bits | 1 << length);
        let entry = Code {
            only,
            regions: regions.iter().filter_map(|r| db.by_id(*r)).collect(),
            impossible,
        };
        codes.resize_with(usize::from(code) + 1, || None);
        codes[usize::from(code)] = Some(entry);
    }
    let mut patterns = HashMap::default();
    for meta in metas {
        let d = meta.descriptors();
        let descriptors = std::iter::once(Some(d.general())).chain(typed(meta));
        let sources = descriptors
            .flatten()
            .map(|d| d.national_number().as_str())
            .chain(meta.international_prefix().map(|p| p.as_str()))
            .chain(meta.national_prefix_for_parsing().map(|p| p.as_str()))
            .chain(meta.leading_digits().map(|p| p.as_str()));
        for source in sources {
            patterns
                .entry(source.as_ptr() as usize)
                .or_insert_with(|| Slot {
                    source,
                    compiled: OnceLock::new(),
                });
        }
    }
    Plan {
        patterns,
        known,
        codes,
    }
}

/// Hashes the address of a pattern's text: one multiplication, folded so that the low bits
/// (which the table indexes by) depend on all of the address's.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_usize(usize::from(b) ^ self.0 as usize);
        }
    }

    fn write_usize(&mut self, n: usize) {
        let product = u128::from(n as u64) * 0x9E37_79B9_7F4A_7C15;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For every pattern of the plan, on the metadata's example numbers and their prefixes and
    /// extensions: the anchored copy matches exactly when the crate's first match starts at 0,
    /// with the same end and the same groups.
    #[test]
    fn anchored_patterns_answer_as_the_crates() {
        let db: &'static Database = &DATABASE;
        let mut texts: Vec<String> = db
            .iter()
            .flat_map(|meta| std::iter::once(Some(meta.descriptors().general())).chain(typed(meta)))
            .flatten()
            .filter_map(|d| d.example())
            .map(str::to_string)
            .collect();
        texts.sort();
        texts.dedup();
        // A sample, with their prefixes and a digit too many.
        let texts: Vec<String> = texts
            .iter()
            .step_by(7)
            .flat_map(|t| [t[..t.len() / 2].to_string(), t.clone(), format!("{t}9")])
            .chain(["0", "00", "011", "8", "810", "15", "1"].map(String::from))
            .collect();
        let (mut checked, mut matched) = (0, 0);
        for slot in PLAN.patterns.values() {
            let ours = anchored(slot.source);
            let theirs = regex(slot.source); // the crate's way: unanchored
            for text in &texts {
                let first = theirs.find(text).filter(|m| m.start() == 0);
                assert_eq!(
                    ours.find(text).map(|m| m.end()),
                    first.map(|m| m.end()),
                    "{:?} on {text}",
                    slot.source
                );
                assert_eq!(ours.is_match(text), first.is_some());
                if first.is_some() {
                    let (a, b) = (ours.captures(text), theirs.captures(text));
                    let spans = |c: Option<regex::Captures<'_>>| -> Vec<Option<(usize, usize)>> {
                        c.map(|c| c.iter().map(|m| m.map(|m| (m.start(), m.end()))).collect())
                            .unwrap_or_default()
                    };
                    assert_eq!(spans(a), spans(b), "{:?} on {text}", slot.source);
                    matched += 1;
                }
                checked += 1;
            }
        }
        assert!(checked > 100_000 && matched > 1000, "{checked} {matched}");
    }
}
