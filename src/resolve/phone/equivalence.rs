//! `to_e164` against the crate's own path (`tests::reference`: `phonenumber::parse` then
//! `phonenumber::is_valid` and its E.164 formatter) on inputs in and around the fast path's
//! shapes: the metadata's example numbers of every type, spelled with and without country codes,
//! `+`, `00`, other international prefixes and national prefixes, random separators, digits
//! dropped, added or changed, now and then a character outside the shapes, read with many default
//! regions.

use super::tests::reference;
use super::{fast, plan, region, to_e164};
use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;
use proptest::prelude::*;
use std::sync::LazyLock;

/// Every example number in the metadata: (country code, national number, region id).
static EXAMPLES: LazyLock<Vec<(u16, String, String)>> = LazyLock::new(|| {
    let db = &*DATABASE;
    let mut metas: Vec<_> = db.iter().collect();
    for code in [800u16, 808, 870, 878, 881, 882, 883, 888, 979] {
        metas.extend(db.by_code(&code).into_iter().flatten());
    }
    let mut examples = Vec::new();
    for meta in metas {
        let all = std::iter::once(Some(meta.descriptors().general())).chain(plan::typed(meta));
        for example in all.into_iter().flatten().filter_map(|d| d.example()) {
            examples.push((
                meta.country_code(),
                example.to_string(),
                meta.id().to_string(),
            ));
        }
    }
    examples.sort();
    examples.dedup();
    examples
});

/// The default regions the brief names, and some more with national prefix rules of note.
const REGIONS: &[&str] = &[
    "US", "GB", "IT", "DE", "AR", "MX", "BR", "RU", "CA", "AU", "FR", "NZ", "JP", "KZ", "HU",
];

/// Country codes to put in front of numbers that are not theirs, known or not.
const CODES: &[&str] = &[
    "1", "7", "44", "39", "49", "61", "52", "54", "55", "33", "64", "81", "86", "91", "352", "800",
    "882", "979", "999", "0", "28", "1242", "",
];

/// How a number starts: an international form, or nothing, or a national or carrier prefix.
const LEADS: &[&str] = &[
    "+", "+", "00", "011", "810", "+00", "+011", "+ ", "0", "8", "1", "9", "15", "", "", "(", "+(",
    "000", "0110", "+000", "+0110", "00 0", "+0",
];

const SEPARATORS: &[&str] = &[
    "", "", " ", " ", "-", ".", "(", ")", "/", "  ", " - ", ") ", " (", "-(", ")-", "/ ",
];

/// Characters outside the fast shapes, to see the fallback keep its answers too.
const ODD: &[&str] = &[
    "x", "ext. ", "#", ";", "tel:", "a", "A", "*", "~", "+", ",", "\u{a0}", "１",
];

fn check(raw: &str, regions: &[Id]) -> Result<(), TestCaseError> {
    for &r in regions {
        prop_assert_eq!(to_e164(raw, r), reference(raw, r), "{:?} in {:?}", raw, r);
    }
    Ok(())
}

/// Spells `digits` in groups cut at `cuts` with the separators `seps` (indices, wrapped).
fn spell(digits: &str, cuts: &[usize], seps: &[usize]) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (i, &cut) in cuts.iter().enumerate() {
        let cut = cut.min(digits.len());
        if cut > at {
            out.push_str(&digits[at..cut]);
            out.push_str(SEPARATORS[seps[i % seps.len()] % SEPARATORS.len()]);
            at = cut;
        }
    }
    out.push_str(&digits[at..]);
    out
}

/// `digits` with one edit: 0 none, 1 a digit dropped, 2 one added, 3 one changed.
fn edit(digits: &str, kind: u8, at: usize, digit: u8) -> String {
    let mut d: Vec<u8> = digits.bytes().collect();
    let at = at % (d.len() + 1);
    match kind {
        1 if at < d.len() => {
            d.remove(at);
        }
        2 => d.insert(at, b'0' + digit % 10),
        3 if at < d.len() => d[at] = b'0' + digit % 10,
        _ => {}
    }
    String::from_utf8(d).expect("digits")
}

/// The number's own region and two of `REGIONS` (picked by `pick`).
fn regions_for(own: &str, pick: usize) -> Vec<Id> {
    let n = REGIONS.len();
    [own, REGIONS[pick % n], REGIONS[pick / n % n]]
        .into_iter()
        .filter_map(region)
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn spelling(
    example: usize,
    kind: u8,
    at: usize,
    digit: u8,
    lead: usize,
    code: Option<usize>,
    cuts: Vec<usize>,
    seps: Vec<usize>,
    trailing: usize,
    odd: Option<(usize, usize)>,
) -> (String, String) {
    let (cc, national, own) = &EXAMPLES[example % EXAMPLES.len()];
    let digits = edit(national, kind, at, digit);
    let cc = match code {
        Some(i) => CODES[i % CODES.len()].to_string(),
        None => cc.to_string(),
    };
    let lead = LEADS[lead % LEADS.len()];
    // International leads take the country code after them; national ones none.
    let international =
        lead.contains('+') || lead.starts_with("00") || lead.starts_with("011") || lead == "810";
    let body = if international {
        format!("{cc}{}", SEPARATORS[trailing % SEPARATORS.len()])
    } else {
        String::new()
    } + &spell(&digits, &cuts, &seps);
    let mut raw = format!(
        "{lead}{body}{}",
        SEPARATORS[trailing / 3 % SEPARATORS.len()]
    );
    if let Some((what, at)) = odd {
        let at = at % (raw.len() + 1);
        if raw.is_char_boundary(at) {
            raw.insert_str(at, ODD[what % ODD.len()]);
        }
    }
    (raw, own.clone())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000)
}

proptest! {
    // 1,000 cases each by default (some 30 s in a debug build: the crate's path, which these
    // check against, recompiles patterns that fall out of its small cache); PROPTEST_CASES for
    // more.
    #![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

    /// Example numbers, edited and spelled at random, in many regions.
    #[test]
    fn the_fast_path_answers_as_the_crate(
        example in any::<usize>(),
        kind in 0u8..4,
        at in any::<usize>(),
        digit in any::<u8>(),
        lead in any::<usize>(),
        code in proptest::option::weighted(0.3, any::<usize>()),
        cuts in proptest::collection::vec(0usize..16, 0..5),
        seps in proptest::collection::vec(any::<usize>(), 1..4),
        trailing in any::<usize>(),
        odd in proptest::option::weighted(0.1, (any::<usize>(), any::<usize>())),
        pick in any::<usize>(),
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let (raw, own) =
            spelling(example, kind, at, digit, lead, code, cuts, seps, trailing, odd);
        check(&raw, &regions_for(&own, pick))?;
    }

    /// Random strings of digits, separators and `+`: lengths from too short to too long.
    #[test]
    fn random_digit_strings_answer_as_the_crate(
        raw in "[+]?[0-9 ().\\-/]{0,3}[0-9]{1,6}[0-9 ().\\-/]{0,4}[0-9]{0,8}[ ().\\-/]{0,2}[0-9]{0,6}",
        pick in any::<usize>(),
    ) {
        check(&raw, &regions_for("US", pick))?;
    }
}

/// Every example number in the metadata, in its international and national spellings, read in
/// its own region and in the US: the valid answers, region by region.
#[test]
fn every_example_number_answers_as_the_crate() {
    let us = region("US").expect("US");
    let (mut checked, mut valid, mut fast) = (0, 0, 0);
    for (cc, national, own) in EXAMPLES.iter() {
        let own = region(own).unwrap_or(us);
        let prefix = DATABASE
            .by_id(own.as_ref())
            .and_then(|m| m.national_prefix())
            .unwrap_or("");
        for raw in [
            format!("+{cc} {national}"),
            format!("00{cc}-{national}"),
            format!("{prefix}{national}"),
            format!("({national}"),
            national.clone(),
        ] {
            for r in [own, us] {
                let want = reference(&raw, r);
                assert_eq!(to_e164(&raw, r), want, "{raw} in {r:?}");
                checked += 1;
                valid += usize::from(want.is_some());
                fast += usize::from(fast::parse(raw.trim(), r).is_some());
            }
        }
    }
    // The examples are mostly valid, and the fast path read nearly all of them.
    assert!(
        checked > 5000 && valid * 2 > checked && fast * 10 > checked * 9,
        "{checked} {valid} {fast}"
    );
}
