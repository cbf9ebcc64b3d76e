//! Phone numbers in E.164, so `(415) 555-0123`, `415.555.0123` and `+1 415 555 0123` are one key.

#[cfg(test)]
mod equivalence;
mod fast;
mod plan;

pub use crate::model::region::region;
use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;

/// Loads the numbering plan: phonenumber's metadata, with every pattern checked, costs about
/// 0.15 s of CPU once per process, on the first number parsed. The daemon and the commands that
/// pull call this at start, on a thread of its own, so no cycle waits for it.
pub fn load_metadata() {
    let _ = &*DATABASE;
    plan::load();
}

/// Parses `raw` as a phone number, assuming `region` when it has no country code, and returns it
/// in E.164 (`+14155550123`) when it is a valid number. Extensions are dropped from the key.
///
/// What `phonenumber` 0.3.10 answers, faster: input of the common shapes (digits, the usual
/// separators, an optional `+`) is parsed by `fast`, a step-for-step copy of the crate's parser
/// for those shapes, the rest by the crate; validity is `phonenumber::is_valid` step for step with
/// the patterns compiled once (`plan`). The tests hold every answer to the crate's.
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
            cleaned = ["+", rest].concat();
            cleaned.as_str()
        }
        _ => trimmed,
    };
    let (code, national) = match fast::parse(input, region) {
        Some(parsed) => parsed?,
        None => {
            let number = phonenumber::parse(Some(region), input).ok()?;
            (number.country().code(), number.national().to_string())
        }
    };
    if plan::impossible_length(code, national.len()) || !plan::is_valid(code, &national) {
        return None;
    }
    // `Mode::E164`: `+`, the code, the national number.
    let code = fast::Decimal::new(code);
    let mut e164 = String::with_capacity(1 + 5 + national.len());
    e164.push('+');
    e164.push_str(code.as_str());
    e164.push_str(&national);
    Some(e164)
}

#[cfg(test)]
mod tests {
    use super::*;
    use phonenumber::Mode;

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
    pub(super) fn reference(raw: &str, region: Id) -> Option<String> {
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
                            let (code, national) = (n.country().code(), n.national().to_string());
                            skipped += usize::from(plan::impossible_length(code, national.len()));
                            assert_eq!(
                                plan::is_valid(code, &national),
                                phonenumber::is_valid(&n),
                                "{raw}"
                            );
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
}
