//! Email syntax: what counts as an address, and its canonical spelling.
//!
//! Canonical means trimmed, Unicode NFC and lower-cased. Provider-specific folding (plus
//! addresses, dots in Gmail) is an identity decision and lives in the core's resolver.

use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid email `{raw}`: {why}")]
pub struct EmailError {
    pub raw: String,
    pub why: &'static str,
}

/// Returns the canonical spelling of an address, or why it is not one.
///
/// Deliberately simpler than RFC 5322 (no quoted local parts, no comments, no IP literals):
/// those never appear in CRM exports, while typos such as `john@gmail` or `john at acme.com` do.
pub fn normalize(raw: &str) -> Result<String, EmailError> {
    let fail = |why| EmailError {
        raw: raw.to_string(),
        why,
    };
    let trimmed = raw
        .trim()
        .trim_start_matches("mailto:")
        .trim_matches(|c| c == '<' || c == '>');
    // ASCII (nearly every address) is already NFC and lower-cases byte by byte.
    let s: String = if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        trimmed.nfc().flat_map(char::to_lowercase).collect()
    };
    let (local, domain) = s.split_once('@').ok_or_else(|| fail("no @"))?;
    if local.is_empty() || local.len() > 64 {
        return Err(fail("the part before @ is empty or too long"));
    }
    if domain.contains('@') {
        return Err(fail("more than one @"));
    }
    if s.chars().any(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, ',' | ';' | '"' | '(' | ')' | '[' | ']' | '\\' | ':')
    }) {
        return Err(fail(
            "contains a space or a character addresses cannot have",
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(fail("misplaced dot before @"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(fail("the domain has no dot"));
    }
    if labels
        .iter()
        .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
    {
        return Err(fail("the domain is malformed"));
    }
    let tld = labels[labels.len() - 1];
    if tld.len() < 2 || tld.chars().all(|c| c.is_ascii_digit()) {
        return Err(fail("the domain has no valid top-level part"));
    }
    Ok(s)
}

/// Cheap pre-check: does this cell look like someone typed an address into it?
pub fn looks_like_email(raw: &str) -> bool {
    let t = raw.trim();
    t.contains('@') && !t.contains(' ') && normalize(t).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_spelling() {
        assert_eq!(
            normalize("  John.Doe@Example.COM ").unwrap(),
            "john.doe@example.com"
        );
        assert_eq!(normalize("<a@b.io>").unwrap(), "a@b.io");
        // NFC: "e" + combining acute is the same address as "é".
        assert_eq!(
            normalize("Re\u{301}mi@exemple.fr").unwrap(),
            normalize("Rémi@exemple.fr").unwrap()
        );
    }

    #[test]
    fn typos_are_refused_with_a_reason() {
        for bad in [
            "john at acme.com",
            "john@gmail",
            "@acme.com",
            "a@@b.com",
            "a b@c.com",
            "a@b.c",
            "a..b@c.com",
            "a@-b.com",
            "a@b.123",
        ] {
            let err = normalize(bad).unwrap_err();
            assert_eq!(err.raw, bad);
        }
        assert!(looks_like_email("x@y.org") && !looks_like_email("Jane Smith"));
    }

    #[test]
    fn the_ascii_path_spells_as_the_unicode_path() {
        // Every printable ASCII character, in the local part and in the domain.
        for c in (0x20u8..0x7f).map(char::from) {
            for raw in [format!("A{c}b@Acme.IO"), format!("ab@Ac{c}me.io")] {
                let general: String = raw.trim().nfc().flat_map(char::to_lowercase).collect();
                match normalize(&raw) {
                    Ok(s) => assert_eq!(s, general, "{raw:?}"),
                    Err(e) => assert_eq!(e.raw, raw),
                }
            }
        }
    }
}
