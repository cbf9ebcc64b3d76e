//! Normalising single values: dates, consent flags, names, sources.

use crate::model::time::parse_datetime;

/// `true`/`false` for the ways forms say yes and no; an opt-in timestamp means yes.
pub(super) fn parse_consent(raw: &str) -> Option<bool> {
    let key = raw.trim().to_lowercase();
    match key.as_str() {
        "true" | "yes" | "y" | "1" | "x" | "opted in" | "optedin" | "opt-in" | "subscribed"
        | "granted" => Some(true),
        "false" | "no" | "n" | "0" | "opted out" | "optedout" | "opt-out" | "unsubscribed"
        | "denied" => Some(false),
        _ => parse_datetime(raw).map(|_| true),
    }
}

/// Splits a full name: `Last, First`, or `First Rest` (so `Jane van der Berg` keeps her
/// surname whole).
pub(super) fn split_name(full: &str) -> (Option<String>, Option<String>) {
    let full = collapse(full);
    if let Some((last, first)) = full.split_once(',') {
        return (non_empty(first.trim()), non_empty(last.trim()));
    }
    match full.split_once(' ') {
        Some((first, last)) => (non_empty(first), non_empty(last)),
        None => (non_empty(&full), None),
    }
}

/// Trims and collapses inner runs of whitespace.
pub(super) fn collapse(s: &str) -> String {
    // Most values are ASCII with single spaces between words already: nothing to collapse.
    let b = s.as_bytes();
    let plain = b.first() != Some(&b' ')
        && b.last() != Some(&b' ')
        && b.iter()
            .all(|&c| c.is_ascii() && (c == b' ' || !c.is_ascii_whitespace()))
        && !b.windows(2).any(|w| w == b"  ");
    if plain {
        return s.to_string();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sources and channels grouped case-insensitively: `Google` and `google` are one source.
pub fn source_key(raw: &str) -> String {
    collapse(raw).to_lowercase()
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(s: &str) -> String {
        parse_datetime(s)
            .unwrap()
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    #[test]
    fn collapsing_keeps_plain_values_and_collapses_every_kind_of_whitespace() {
        for raw in [
            "Wayne Enterprises",
            " Wayne  Enterprises ",
            "Wayne\tEnterprises",
            "Wayne\u{a0}Enterprises",
            "Zoë  Müller",
            "x",
            "",
            " ",
            "a b c",
            "line\nbreak",
        ] {
            let slow = raw.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(collapse(raw), slow, "{raw:?}");
        }
    }

    #[test]
    fn export_date_spellings() {
        assert_eq!(ymd("2/5/24 1:51"), "2024-02-05 01:51");
        assert_eq!(ymd("28-6-2018"), "2018-06-28 00:00");
        assert_eq!(ymd("15 Apr, 2021 00:03:00"), "2021-04-15 00:03");
        assert_eq!(ymd("2024-03-01T10:00:00Z"), "2024-03-01 10:00");
        assert_eq!(ymd("1700000000000"), "2023-11-14 22:13");
        assert_eq!(
            ymd("25/12/2023"),
            "2023-12-25 00:00",
            "day first when it cannot be a month"
        );
        assert!(parse_datetime("last tuesday").is_none());
    }

    #[test]
    fn consent_and_names() {
        assert_eq!(parse_consent("Yes"), Some(true));
        assert_eq!(parse_consent("2024-01-01 10:00:00"), Some(true));
        assert_eq!(parse_consent("unsubscribed"), Some(false));
        assert_eq!(parse_consent("maybe"), None);
        assert_eq!(
            split_name("Doe, Jane"),
            (Some("Jane".into()), Some("Doe".into()))
        );
        assert_eq!(
            split_name("  Jane  van der Berg "),
            (Some("Jane".into()), Some("van der Berg".into()))
        );
        assert_eq!(split_name("Cher"), (Some("Cher".into()), None));
        assert_eq!(source_key(" Google "), source_key("google"));
    }
}
