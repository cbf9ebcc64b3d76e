use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The funnel tiers, in order. `Ord` follows the funnel: a subscriber is below a lead.
///
/// A person who meets no tier (say, a row with only a phone number) has no tier at all
/// (`Option<Tier>::None`, shown as "unqualified"); a CRM stage that is not a tier (HubSpot's
/// `other`, or a custom stage nobody mapped) is a [`Stage::Other`], never silently a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Subscriber,
    Lead,
    Mql,
    Sql,
    Opportunity,
    Customer,
}

impl Tier {
    /// Every tier, lowest first.
    pub const ALL: [Tier; 6] = [
        Tier::Subscriber,
        Tier::Lead,
        Tier::Mql,
        Tier::Sql,
        Tier::Opportunity,
        Tier::Customer,
    ];

    /// The short name used in config, reports and the JSON contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Subscriber => "subscriber",
            Tier::Lead => "lead",
            Tier::Mql => "mql",
            Tier::Sql => "sql",
            Tier::Opportunity => "opportunity",
            Tier::Customer => "customer",
        }
    }

    /// The next tier up the funnel, if any.
    pub fn next(self) -> Option<Tier> {
        let i = Tier::ALL.iter().position(|t| *t == self)?;
        Tier::ALL.get(i + 1).copied()
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a tier; expected one of subscriber, lead, mql, sql, opportunity, customer")]
pub struct TierParseError(pub String);

impl FromStr for Tier {
    type Err = TierParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match Stage::parse(s) {
            Stage::Tier(t) => Ok(t),
            Stage::Other(_) => Err(TierParseError(s.to_string())),
        }
    }
}

/// A lifecycle stage as a CRM or a spreadsheet states it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stage {
    Tier(Tier),
    /// A stage that is not one of the tiers (`other`, `evangelist` is mapped to customer,
    /// custom numeric stages); kept verbatim.
    Other(String),
}

impl Stage {
    /// Recognises internal names (`marketingqualifiedlead`), display names
    /// (`Marketing Qualified Lead`) and abbreviations (`MQL`), whatever their case and spacing.
    pub fn parse(raw: &str) -> Stage {
        // Stages are short ASCII words: their key is built on the stack. Anything else takes the
        // Unicode path (the same key for ASCII).
        let mut buf = [0u8; 32];
        let mut len = 0;
        let mut ascii = true;
        for &b in raw.as_bytes() {
            if b.is_ascii_alphanumeric() && len < buf.len() {
                buf[len] = b.to_ascii_lowercase();
                len += 1;
            } else if !b.is_ascii() || b.is_ascii_alphanumeric() {
                ascii = false; // non-ASCII, or longer than any stage name
                break;
            }
        }
        let unicode: String;
        let key = if ascii {
            std::str::from_utf8(&buf[..len]).expect("ASCII")
        } else {
            unicode = raw
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect();
            &unicode
        };
        let tier = match key {
            "subscriber" | "subscribers" | "newslettersubscriber" => Tier::Subscriber,
            "lead" | "leads" => Tier::Lead,
            "mql" | "marketingqualifiedlead" | "marketingqualified" => Tier::Mql,
            "sql" | "salesqualifiedlead" | "salesqualified" => Tier::Sql,
            "opportunity" | "opp" | "opportunities" => Tier::Opportunity,
            "customer" | "customers" | "evangelist" | "closedwon" => Tier::Customer,
            _ => return Stage::Other(raw.trim().to_string()),
        };
        Stage::Tier(tier)
    }

    pub fn tier(&self) -> Option<Tier> {
        match self {
            Stage::Tier(t) => Some(*t),
            Stage::Other(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_path_and_the_unicode_path_agree() {
        let unicode = |raw: &str| -> Stage {
            let key: String = raw
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect();
            match Stage::parse(&key) {
                Stage::Tier(t) => Stage::Tier(t),
                Stage::Other(_) => Stage::Other(raw.trim().to_string()),
            }
        };
        for raw in [
            "Marketing Qualified Lead",
            " closed-won ",
            "Opp.",
            "MQL",
            "1234567",
            "",
            "  ",
            "a very long custom stage name that is longer than the buffer",
            "Évangéliste",
            "Ｌｅａｄ",
            "LEAD\u{0130}",
            "custömer",
            "Kunde",
        ] {
            assert_eq!(Stage::parse(raw), unicode(raw), "{raw:?}");
        }
    }

    #[test]
    fn display_names_internal_names_and_abbreviations_parse() {
        assert_eq!(
            Stage::parse("Marketing Qualified Lead"),
            Stage::Tier(Tier::Mql)
        );
        assert_eq!(
            Stage::parse("marketingqualifiedlead"),
            Stage::Tier(Tier::Mql)
        );
        assert_eq!(Stage::parse(" SQL "), Stage::Tier(Tier::Sql));
        assert_eq!(Stage::parse("Evangelist"), Stage::Tier(Tier::Customer));
        assert_eq!(Stage::parse("other"), Stage::Other("other".into()));
        assert_eq!(Stage::parse("1234567"), Stage::Other("1234567".into()));
    }

    #[test]
    fn tiers_are_ordered_along_the_funnel() {
        assert!(Tier::Subscriber < Tier::Lead && Tier::Opportunity < Tier::Customer);
        assert_eq!(Tier::Mql.next(), Some(Tier::Sql));
        assert_eq!(Tier::Customer.next(), None);
        assert!("nonsense".parse::<Tier>().is_err());
    }
}
