//! The vocabulary of probabilistic matching that configuration names: how a field compares, and
//! what part of a value a blocking key takes. Their behaviour lives in `resolve::matching`.

use serde::{Deserialize, Serialize};

/// A field's way of comparing, and so its levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparator {
    /// Equal, or not (ids, states, codes).
    Exact,
    /// Names: equal; Jaro–Winkler ≥ 0.92; ≥ 0.80, or one is the other's initial or start (a
    /// nickname such as `chri` for `christine`); different.
    Name,
    /// Free text (streets, suburbs, companies): equal; Jaro–Winkler ≥ 0.90; ≥ 0.75; different.
    Text,
    /// Emails: equal; the same local part at another domain; at the same domain, local parts
    /// one slip of the keyboard apart (two for long ones), not only in digits; different.
    Email,
    /// Phones (digits): equal; the same last 7 digits; different.
    Phone,
    /// Codes of digits (postcodes, dates as YYYYMMDD): equal; one digit off or two neighbouring
    /// digits swapped, or day and month swapped; different.
    Digits,
}

/// What part of a field's value a blocking key takes: `Whole`, `Prefix(n)` (the first `n`
/// characters), `Soundex` (its Soundex code), `Domain` (what follows the last `@`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPart {
    Whole,
    Prefix(usize),
    Soundex,
    Domain,
}
