//! `phonenumber::parse` (0.3.10) replicated step for step for the common shapes of input, reading
//! the metadata directly and the patterns through the plan's lock-free compiled copies.
//!
//! The shape: an optional `+` first, then only ASCII digits and the separators space, `-`, `.`,
//! `(`, `)` and `/`. No letters, so neither the alphabetic mapping nor the extension pattern
//! (`x`, `ext`, `#`, `;`, `,`, `~` …) can apply; no `tel:`, no parameters, no wide or non-ASCII
//! digits, no second `+`. For such text every step of the crate's parser is a function of
//! digits and separators that this module computes directly: which of its two grammars reads the
//! text (RFC 3966 when there is no space, with a `+CC` prefix up to the first `-.()`; else the
//! natural one, from the first `+` or digit to the last digit), whether the text is viable,
//! the international (IDD) prefix, the country code, the national prefix and its carrier and
//! transform rules, and the length limits. Anything else goes to the crate's parser.

use super::plan;
use phonenumber::country::Id;
use phonenumber::metadata::{DATABASE, Metadata};

/// The separators the fast path accepts.
const SEPARATORS: &[u8] = b" -.()/";

/// `phonenumber::parse(Some(region), input)` as `(country code, national number)` for input of
/// the fast shape: `Some(None)` where the crate answers an error. `None`: not the fast shape (or a
/// case the fast path leaves to the crate), ask the crate.
pub(super) fn parse(input: &str, region: Id) -> Option<Option<(u16, String)>> {
    let body = input.strip_prefix('+').unwrap_or(input);
    if !body
        .bytes()
        .all(|b| b.is_ascii_digit() || SEPARATORS.contains(&b))
        || !body.bytes().any(|b| b.is_ascii_digit())
    {
        return None;
    }
    let meta = DATABASE.by_id(region.as_ref())?;
    parse_shaped(input, meta)
}

/// Where the crate's country code comes from (`country::Source`, less `Number`, which only the
/// last step sets and nothing then reads).
#[derive(PartialEq)]
enum Source {
    Plus,
    Idd,
    Default,
}

fn parse_shaped(input: &str, meta: &'static Metadata) -> Option<Option<(u16, String)>> {
    // `alt((rfc3966::phone_number, natural::phone_number))`.
    let (raw, prefix) = read(input);
    if !viable(raw) {
        return Some(None);
    }
    // `helper::international_prefix`: normalisation keeps the ASCII digits.
    let mut national = digits(raw);
    let prefix = prefix.map(digits);
    let mut source = if prefix.is_some() || raw.starts_with('+') {
        Source::Plus
    } else {
        Source::Default
    };
    if prefix.is_none()
        && let Some(idd) = meta.international_prefix()
        && let Some(m) = plan::anchored(idd.as_str()).find(&national)
        && !national[m.end()..].starts_with('0')
    {
        if source != Source::Plus {
            source = Source::Idd;
        }
        national.drain(..m.end());
    }
    // `helper::country_code`.
    let code = match source {
        Source::Plus | Source::Idd => {
            if national.len() <= 2 {
                return Some(None);
            }
            if let Some(prefix) = prefix {
                match prefix.parse::<u16>() {
                    Ok(code) if plan::known(code) => code,
                    _ => return Some(None),
                }
            } else {
                if national.starts_with('0') {
                    return Some(None);
                }
                let Some((code, len)) = (1..=3).find_map(|len| {
                    let code = national[..len].parse::<u16>().ok()?;
                    plan::known(code).then_some((code, len))
                }) else {
                    return Some(None);
                };
                national.drain(..len);
                code
            }
        }
        Source::Default => {
            let code = meta.country_code();
            let spelled = Decimal::new(code);
            let spelled = spelled.as_str();
            if national.starts_with(spelled)
                && (!plan::matches(meta.descriptors().general(), &national)
                    || !length(meta, national.len()).is_possible())
            {
                national.drain(..spelled.len());
            }
            code
        }
    };
    // The national prefix and carrier code, by the default region's rules whatever the source.
    let mut potential = national_number(meta, national.clone())?;
    if let Some(prefix) = meta.national_prefix()
        && potential.starts_with(prefix)
    {
        potential.drain(..prefix.len());
    }
    if length(meta, potential.len()) != Length::TooShort {
        national = potential;
    }
    if !(2..=17).contains(&national.len()) {
        return Some(None);
    }
    // `NationalNumber::from_str`: leading zeros counted, the rest a `u64` under 2^56.
    let zeros = national.bytes().take_while(|&b| b == b'0').count();
    let rest = &national[zeros..];
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match rest.parse::<u64>() {
        Ok(value) if value < 1 << 56 => Some(Some((code, national))),
        _ => Some(None),
    }
}

/// The text the crate's grammars read the number from, and the RFC 3966 `+CC` prefix if any.
fn read(input: &str) -> (&str, Option<&str>) {
    // RFC 3966 refuses spaces; reads an optional `+` and prefix up to the first of `-.()`, then
    // digits and `-.()` to the end (a `/` there ends it short of the end: refused).
    if !input.contains(' ') {
        let rfc_separator = |c: char| matches!(c, '-' | '.' | '(' | ')');
        if let Some(rest) = input.strip_prefix('+') {
            let cut = rest.find(rfc_separator).unwrap_or(rest.len());
            let (prefix, national) = rest.split_at(cut);
            if !prefix.is_empty() && !national.is_empty() && !national.contains('/') {
                return (national, Some(prefix));
            }
        } else if !input.contains('/') {
            return (input, None);
        }
    }
    // The natural grammar: from the first `+` or digit to the last digit (trailing separators
    // are unwanted end characters); no extension can match without letters or `#,;~`.
    let start = input.find(|c: char| c == '+' || c.is_ascii_digit());
    let end = input.rfind(|c: char| c.is_ascii_digit()).map(|i| i + 1);
    match (start, end) {
        (Some(start), Some(end)) if start < end => (&input[start..end], None),
        _ => ("", None),
    }
}

/// `is_viable` for text of digits and separators after at most a leading `+`: two digits
/// alone, or at least three digits.
fn viable(raw: &str) -> bool {
    let b = raw.as_bytes();
    b.len() >= 2
        && ((b.len() == 2 && b.iter().all(u8::is_ascii_digit))
            || raw
                .trim_start_matches('+')
                .bytes()
                .filter(u8::is_ascii_digit)
                .count()
                >= 3)
}

/// The ASCII digits of `text` (what the crate's normalisation keeps of text in the fast shape).
fn digits(text: &str) -> String {
    let mut digits = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        }
    }
    digits
}

/// A country code spelled in decimal (`code.to_string()`, without the formatting machinery).
pub(super) struct Decimal {
    digits: [u8; 5],
    start: usize,
}

impl Decimal {
    pub(super) fn new(mut code: u16) -> Self {
        let mut digits = [b'0'; 5];
        let mut start = 5;
        loop {
            start -= 1;
            digits[start] = b'0' + (code % 10) as u8;
            code /= 10;
            if code == 0 {
                return Decimal { digits, start };
            }
        }
    }

    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits[self.start..]).expect("ASCII digits")
    }
}

/// `validator::length(meta, number, Type::Unknown)`, as far as the parser asks.
#[derive(PartialEq)]
enum Length {
    Possible,
    TooShort,
    Other,
}

impl Length {
    fn is_possible(&self) -> bool {
        *self == Length::Possible
    }
}

fn length(meta: &Metadata, length: usize) -> Length {
    let general = meta.descriptors().general();
    let length = length as u16;
    let local = general.possible_local_length();
    // The crate picks between the general lengths and the general lengths.
    let possible = general.possible_length();
    let Some(&minimum) = possible.first() else {
        return Length::Other;
    };
    if local.contains(&length) || length == minimum {
        Length::Possible
    } else if length < minimum {
        Length::TooShort
    } else if length > *possible.last().unwrap_or(&minimum) {
        Length::Other
    } else if possible.contains(&length) {
        Length::Possible
    } else {
        Length::Other
    }
}

/// `helper::national_number`: strips the national prefix (by the region's pattern for parsing,
/// or its plain prefix) and applies the transform rule. `None`: a case left to the crate.
fn national_number(meta: &'static Metadata, mut national: String) -> Option<String> {
    let Some(parsing) = meta.national_prefix_for_parsing() else {
        if let Some(prefix) = meta.national_prefix()
            && national.starts_with(prefix)
        {
            national.drain(..prefix.len());
        }
        return Some(national);
    };
    let parsing = plan::anchored(parsing.as_str());
    let Some(captures) = parsing.captures(&national) else {
        return Some(national);
    };
    let end = captures.get(0).map_or(0, |m| m.end());
    let general = meta.descriptors().general();
    let viable = plan::matches(general, &national);
    let first = captures.get(1).is_some();
    let last = captures.get(captures.len() - 1).is_some();
    match meta.national_prefix_transform_rule() {
        Some(transform) if last => {
            // The crate unwraps the first group here: without one it panics; let it.
            if !first {
                return None;
            }
            let transformed = parsing.replace(&national, transform).into_owned();
            if viable && !plan::matches(general, &transformed) {
                return Some(national);
            }
            Some(transformed)
        }
        // The crate's check here compares the number with itself (the match starts at 0).
        _ => {
            national.drain(..end);
            Some(national)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_spells_as_to_string() {
        for code in 0..=u16::MAX {
            assert_eq!(super::Decimal::new(code).as_str(), code.to_string());
        }
    }
}
