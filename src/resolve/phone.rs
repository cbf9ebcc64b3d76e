//! Phone numbers in E.164, so `(415) 555-0123`, `415.555.0123` and `+1 415 555 0123` are one key.

use phonenumber::Mode;
use phonenumber::country::Id;
use std::str::FromStr;

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
    if !phonenumber::is_valid(&number) {
        return None;
    }
    Some(number.format().mode(Mode::E164).to_string())
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

    #[test]
    fn junk_is_not_a_key() {
        let us = region("US").unwrap();
        for raw in ["", "n/a", "123", "555-5555-55555555", "call me"] {
            assert_eq!(to_e164(raw, us), None, "{raw}");
        }
        assert!(region("XX").is_none());
    }
}
