//! How two values of a field compare, as a level: 0 is the closest (equal), the last is
//! "different". A value missing on either side has no level: it says nothing either way.

pub use crate::model::matching::Comparator;

impl Comparator {
    /// How many levels it has.
    pub fn levels(self) -> usize {
        match self {
            Comparator::Exact => 2,
            Comparator::Phone | Comparator::Digits => 3,
            Comparator::Name | Comparator::Text | Comparator::Email => 4,
        }
    }

    /// The level of `a` against `b` (both normalised, non-empty).
    pub fn level(self, a: &str, b: &str) -> usize {
        if a == b {
            return 0;
        }
        match self {
            Comparator::Exact => 1,
            Comparator::Name => {
                let jw = strsim::jaro_winkler(a, b);
                let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
                let start = short.chars().count() >= 1
                    && long.starts_with(short)
                    && (short.chars().count() == 1 || short.chars().count() >= 3);
                match () {
                    _ if jw >= 0.92 => 1,
                    _ if jw >= 0.80 || start => 2,
                    _ => 3,
                }
            }
            Comparator::Text => match strsim::jaro_winkler(a, b) {
                jw if jw >= 0.90 => 1,
                jw if jw >= 0.75 => 2,
                _ => 3,
            },
            Comparator::Email => {
                let split = |e: &'_ str| -> (String, String) {
                    match e.rsplit_once('@') {
                        Some((l, d)) => (l.to_string(), d.to_string()),
                        None => (e.to_string(), String::new()),
                    }
                };
                let ((la, da), (lb, db)) = (split(a), split(b));
                if la == lb {
                    1
                } else if da == db && typo(&la, &lb) {
                    2
                } else {
                    3
                }
            }
            Comparator::Phone => {
                let tail = |p: &str| -> String {
                    let d: Vec<char> = p.chars().filter(char::is_ascii_digit).collect();
                    d[d.len().saturating_sub(7)..].iter().collect()
                };
                if tail(a).len() >= 7 && tail(a) == tail(b) {
                    1
                } else {
                    2
                }
            }
            Comparator::Digits => {
                let near = strsim::osa_distance(a, b) <= 1;
                let swapped = a.len() == 8
                    && b.len() == 8
                    && a.is_ascii()
                    && b.is_ascii()
                    && a[..4] == b[..4]
                    && a[4..6] == b[6..8]
                    && a[6..8] == b[4..6];
                if near || swapped { 1 } else { 2 }
            }
        }
    }
}

/// Soundex (American): a letter and three digits, so names that sound alike share a block.
/// Whether two local parts differ as a slip of the keyboard does: one edit (two for long ones;
/// a swap of neighbours is one), and not only in their digits (`smith1`, `smith2` are two
/// people of one name).
fn typo(a: &str, b: &str) -> bool {
    let letters = |s: &str| -> String { s.chars().filter(|c| !c.is_ascii_digit()).collect() };
    if letters(a) == letters(b) {
        return false;
    }
    let longest = a.chars().count().max(b.chars().count());
    let allowed = if longest >= 8 { 2 } else { 1 };
    strsim::osa_distance(a, b) <= allowed
}

pub fn soundex(name: &str) -> Option<String> {
    let code = |c: char| match c {
        'b' | 'f' | 'p' | 'v' => Some('1'),
        'c' | 'g' | 'j' | 'k' | 'q' | 's' | 'x' | 'z' => Some('2'),
        'd' | 't' => Some('3'),
        'l' => Some('4'),
        'm' | 'n' => Some('5'),
        'r' => Some('6'),
        _ => None,
    };
    let letters: Vec<char> = name
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let first = *letters.first()?;
    let mut out = String::from(first.to_ascii_uppercase());
    let mut last = code(first);
    for &c in &letters[1..] {
        let d = code(c);
        if d.is_some() && d != last {
            out.push(d.unwrap_or('0'));
            if out.len() == 4 {
                break;
            }
        }
        // h and w do not separate equal codes; vowels do.
        if !matches!(c, 'h' | 'w') {
            last = d;
        }
    }
    while out.len() < 4 {
        out.push('0');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_rank_closeness() {
        assert_eq!(Comparator::Name.level("jonathan", "jonathan"), 0);
        assert_eq!(Comparator::Name.level("jonathan", "jonathon"), 1);
        assert_eq!(Comparator::Name.level("christine", "chri"), 2);
        assert_eq!(Comparator::Name.level("j", "jonathan"), 2);
        assert_eq!(Comparator::Name.level("jonathan", "priya"), 3);
        assert_eq!(
            Comparator::Email.level("jsmith@acme.com", "jsmith@gmail.com"),
            1
        );
        assert_eq!(
            Comparator::Email.level("jsmith@acme.com", "jsmiht@acme.com"),
            2
        );
        // Numbered addresses tell people of one name apart: not a typo.
        assert_eq!(
            Comparator::Email.level("john.smith.12@gmail.com", "john.smith.4567@gmail.com"),
            3
        );
        assert_eq!(
            Comparator::Email.level("john.smith1@acme.com", "john.smith2@acme.com"),
            3
        );
        assert_eq!(Comparator::Phone.level("+442071234567", "02071234567"), 1);
        assert_eq!(Comparator::Digits.level("19850304", "19850403"), 1);
        assert_eq!(Comparator::Digits.level("2040", "2041"), 1);
        assert_eq!(Comparator::Digits.level("2040", "3150"), 2);
        for c in [
            Comparator::Exact,
            Comparator::Name,
            Comparator::Text,
            Comparator::Email,
            Comparator::Phone,
            Comparator::Digits,
        ] {
            assert!(c.level("abc1", "zzz9") < c.levels(), "{c:?}");
        }
    }

    #[test]
    fn soundex_groups_names_that_sound_alike() {
        assert_eq!(soundex("Robert").as_deref(), Some("R163"));
        assert_eq!(soundex("Rupert").as_deref(), Some("R163"));
        assert_eq!(soundex("Ashcraft").as_deref(), Some("A261"));
        assert_eq!(soundex("Tymczak").as_deref(), Some("T522"));
        assert_eq!(soundex("Pfister").as_deref(), Some("P236"));
        assert_eq!(soundex(""), None);
    }
}
