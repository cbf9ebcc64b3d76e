//! Phone numbers in E.164, so `(415) 555-0123`, `415.555.0123` and `+1 415 555 0123` are one key.

use phonenumber::country::Id;
use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use phonenumber::{Mode, PhoneNumber};
use regex::{Regex, RegexBuilder};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};

/// Loads the numbering plan: phonenumber's metadata, with every pattern checked, costs about
/// 0.15 s of CPU once per process, on the first number parsed. The daemon and the commands that
/// pull call this at start, on a thread of its own, so no cycle waits for it.
pub fn load_metadata() {
    let _ = &*DATABASE;
}

/// The region for an ISO 3166 alpha-2 code, if the numbering plan knows it.
pub fn region(code: &str) -> Option<Id> {
    Id::from_str(&code.trim().to_ascii_uppercase()).ok()
}

/// Parses `raw` as a phone number, assuming `region` when it has no country code, and returns it
/// in E.164 (`+14155550123`) when it is a valid number. Extensions are dropped from the key.
pub fn to_e164(raw: &str, region: Id) -> Option<String> {
    let trimmed = raw.trim();
    // At least 6 digits: shorter strings are extensions, placeholders or typos, never a key.
    if trimmed.chars().filter(char::is_ascii_digit).count() < 6 {
        return None;
    }
    // `00` is the international prefix in most of the world; the parser only knows `+`.
    let cleaned;
    let input = match trimmed.strip_prefix("00") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit() && c != '0') => {
            cleaned = format!("+{rest}");
            cleaned.as_str()
        }
        _ => trimmed,
    };
    let number = phonenumber::parse(Some(region), input).ok()?;
    if impossible_length(&number) || !is_valid(&number) {
        return None;
    }
    Some(number.format().mode(Mode::E164).to_string())
}

/// `phonenumber::is_valid` (0.3.10) step for step, with the metadata's patterns compiled once
/// here rather than fetched on every use from the crate's shared cache, which takes a lock and
/// hashes the pattern's whole text (often hundreds of characters) twice per use: most of the
/// cost of validating a number. The test `the_length_check_never_changes_an_answer` holds it to
/// `phonenumber::is_valid`.
fn is_valid(number: &PhoneNumber) -> bool {
    let db = &*DATABASE;
    let code = number.country().code();
    let national = number.national().to_string();
    // `source_for`: the region whose metadata decides.
    let Some(regions) = db.region(&code) else {
        return false;
    };
    let meta = if regions.len() == 1 {
        if regions[0] == "001" {
            db.by_code(&code).and_then(|m| m.into_iter().next())
        } else if regions[0].parse::<Id>().is_ok() {
            db.by_id(regions[0])
        } else {
            None
        }
    } else {
        regions
            .iter()
            .filter_map(|region| db.by_id(*region))
            .find(|meta| match meta.leading_digits() {
                Some(pattern) => starts_with_match(pattern.as_str(), &national),
                None => has_type(meta, &national),
            })
    };
    meta.is_some_and(|meta| has_type(meta, &national))
}

/// `number_type(meta, national) != Type::Unknown`: the general descriptor matches, and so does
/// one of the types `number_type` tries.
fn has_type(meta: &Metadata, national: &str) -> bool {
    let d = meta.descriptors();
    matches(d.general(), national)
        && [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ]
        .into_iter()
        .flatten()
        .any(|t| matches(t, national))
}

/// `Descriptor::is_match`.
fn matches(d: &Descriptor, national: &str) -> bool {
    let possible = d.possible_length();
    (possible.is_empty() || possible.contains(&(national.len() as u16)))
        && starts_with_match(d.national_number().as_str(), national)
}

/// The metadata's patterns, compiled as the crate compiles them, by the address of their text
/// (the database is a static that never changes).
static COMPILED: LazyLock<Mutex<HashMap<usize, Arc<Regex>>>> = LazyLock::new(Default::default);

/// Whether the first match in `text` of the database pattern `source` starts at its beginning.
fn starts_with_match(source: &str, text: &str) -> bool {
    let regex = {
        let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
        compiled
            .entry(source.as_ptr() as usize)
            .or_insert_with(|| {
                // The options phonenumber's database gives its patterns (the rest are
                // regex_cache's defaults).
                let regex = RegexBuilder::new(source)
                    .ignore_whitespace(true)
                    .unicode(true)
                    .size_limit(10 * (1 << 20))
                    .dfa_size_limit(2 * (1 << 20))
                    .build()
                    .expect("phonenumber's patterns compile");
                Arc::new(regex)
            })
            .clone()
    };
    regex.find(text).is_some_and(|m| m.start() == 0)
}

/// Whether `phonenumber::is_valid` is certainly false because no region of the number's country
/// code has numbers of its national length. `is_valid` picks one of those regions and asks
/// `number_type`, which is `Unknown` unless the general descriptor and one of the typed ones
/// (fixed line, mobile, toll free …) match; each descriptor's first test is its list of possible
/// lengths. Checking those lists up front skips `is_valid`'s scan of the regions' patterns (for
/// +1, some 25 regions, each a regex through a shared, locked cache): the costliest part of
/// rejecting a number with digits missing or extra. Answers `false` (ask `is_valid`) whenever
/// unsure; `tests::the_length_check_never_changes_an_answer` holds it to `is_valid`.
fn impossible_length(number: &PhoneNumber) -> bool {
    let db = &*DATABASE;
    let code = number.country().code();
    let Some(regions) = db.region(&code) else {
        return false;
    };
    let length = number.national().to_string().len() as u16;
    let rules_out = |d: &Descriptor| {
        let possible = d.possible_length();
        !possible.is_empty() && !possible.contains(&length)
    };
    regions.iter().all(|region| {
        // Non-geographic codes ("001") share one id: `is_valid` looks those up by code.
        *region != "001"
            && db.by_id(*region).is_some_and(|meta| {
                let d = meta.descriptors();
                rules_out(d.general())
                    || [
                        d.premium_rate(),
                        d.toll_free(),
                        d.shared_cost(),
                        d.voip(),
                        d.personal_number(),
                        d.pager(),
                        d.uan(),
                        d.voicemail(),
                        d.fixed_line(),
                        d.mobile(),
                    ]
                    .into_iter()
                    .flatten()
                    .all(rules_out)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_and_international_spellings_meet() {
        let us = region("us").unwrap();
        let want = Some("+14155550123".to_string());
        for raw in [
            "(415) 555-0123",
            "415.555.0123",
            "+1 415 555 0123",
            "001 415 555 0123",
            "1-415-555-0123",
        ] {
            assert_eq!(to_e164(raw, us), want, "{raw}");
        }
        let gb = region("GB").unwrap();
        assert_eq!(
            to_e164("020 7946 0018", gb).as_deref(),
            Some("+442079460018")
        );
        assert_eq!(
            to_e164("+44 20 7946 0018", us).as_deref(),
            Some("+442079460018")
        );
    }

    /// The old path: parse, then `is_valid` alone.
    fn reference(raw: &str, region: Id) -> Option<String> {
        let trimmed = raw.trim();
        if trimmed.chars().filter(char::is_ascii_digit).count() < 6 {
            return None;
        }
        let input = match trimmed.strip_prefix("00") {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit() && c != '0') => {
                format!("+{rest}")
            }
            _ => trimmed.to_string(),
        };
        let number = phonenumber::parse(Some(region), &input).ok()?;
        phonenumber::is_valid(&number).then(|| number.format().mode(Mode::E164).to_string())
    }

    #[test]
    fn the_length_check_never_changes_an_answer() {
        // Every length from too short to too long, under country codes with one region, with
        // many (+1, +7, +44), non-geographic ones (+800, +882, +979) and none, plus national
        // spellings read with a default region.
        let prefixes = [
            "+1 ", "+7 ", "+33 ", "+39 ", "+44 ", "+49 ", "+61 ", "+81 ", "+86 ", "+91 ", "+352 ",
            "+800 ", "+882 ", "+979 ", "+999 ", "00 44 ", "0", "",
        ];
        let regions = [
            region("US").unwrap(),
            region("GB").unwrap(),
            region("IT").unwrap(),
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let (mut checked, mut valid, mut skipped) = (0, 0, 0);
        for prefix in prefixes {
            for len in 4..=17 {
                for _ in 0..6 {
                    let digits: String = (0..len)
                        .map(|i| {
                            seed ^= seed << 13;
                            seed ^= seed >> 7;
                            seed ^= seed << 17;
                            // Mostly plausible leading digits, some zeros and ones.
                            let d = if i == 0 { 2 + seed % 8 } else { seed % 10 };
                            char::from(b'0' + d as u8)
                        })
                        .collect();
                    let raw = format!("{prefix}{digits}");
                    for r in regions {
                        let want = reference(&raw, r);
                        assert_eq!(to_e164(&raw, r), want, "{raw} in {r:?}");
                        checked += 1;
                        valid += usize::from(want.is_some());
                        if let Ok(n) = phonenumber::parse(Some(r), raw.trim()) {
                            skipped += usize::from(impossible_length(&n));
                            assert_eq!(is_valid(&n), phonenumber::is_valid(&n), "{raw}");
                        }
                    }
                }
            }
        }
        for raw in [
            "+1 555 0142 1234",
            "+1 415 555 0123",
            "+44 20 7946 0018",
            "+1 242 357 1234",
            "+800 1234 5678",
            "+39 06 698 12345",
            "+1 876 927 1234",
            "+1 604 555 0199",
            "+1 787 722 1234",
            "+1 340 774 1234",
            "+44 7912 345678",
            "+33 6 31 96 65 43",
            "+64 21 387 835",
            "+979 123456789",
        ] {
            for r in regions {
                assert_eq!(to_e164(raw, r), reference(raw, r), "{raw}");
            }
        }
        // Both answers, and the shortcut, were exercised.
        assert!(
            checked > 1000 && valid > 50 && skipped > 300,
            "{checked} {valid} {skipped}"
        );
    }

    #[test]
    fn junk_is_not_a_key() {
        let us = region("US").unwrap();
        for raw in ["", "n/a", "123", "555-5555-55555555", "call me"] {
            assert_eq!(to_e164(raw, us), None, "{raw}");
        }
        assert!(region("XX").is_none());
    }

    /// Normalises 20,000 numbers in the shapes a pull meets, after loading the metadata, and
    /// prints the cost per number. `cargo test --release -p leadsync --lib phone_bench --
    /// --ignored --nocapture`, or under `valgrind --tool=callgrind`.
    #[test]
    #[ignore]
    fn phone_bench() {
        load_metadata();
        let (us, gb) = (region("US").unwrap(), region("GB").unwrap());
        let inputs: Vec<(String, Id)> = (0..20_000u32)
            .map(|i| {
                let n = i % 10_000;
                match i % 5 {
                    0 => (format!("+1 415 555 {n:04}"), us),
                    1 => (format!("(415) 555-{n:04}"), us),
                    2 => (format!("+44 20 7946 {n:04}"), us),
                    3 => (format!("020 7946 {n:04}"), gb),
                    _ => (format!("+1 555 01{:02} {n:04}", n % 100), us),
                }
            })
            .collect();
        // Compile the patterns these need once, as a running daemon has.
        for (raw, r) in &inputs {
            std::hint::black_box(to_e164(raw, *r));
        }
        let start = std::time::Instant::now();
        let valid = bench_pass(&inputs);
        let elapsed = start.elapsed();
        println!(
            "{} numbers, {valid} valid: {:.0} ns per number",
            inputs.len(),
            elapsed.as_nanos() as f64 / inputs.len() as f64
        );
    }

    /// The timed pass of `phone_bench`, a function of its own so that callgrind can count it
    /// alone (`--collect-atstart=no --toggle-collect='*bench_pass*'`).
    #[inline(never)]
    fn bench_pass(inputs: &[(String, Id)]) -> usize {
        inputs
            .iter()
            .filter(|(raw, r)| std::hint::black_box(to_e164(raw, *r)).is_some())
            .count()
    }
}
