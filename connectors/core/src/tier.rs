//! Tiers and the ladder they stand on.
//!
//! The ladder is the admins' ordered list of tiers (the rules file's `[ladder]`; the six
//! standard tiers when it has none). A [`Tier`] is a position on it: `Ord` follows the ladder.
//! The standard tiers keep fixed positions (1,000 for subscriber … 6,000 for customer) whatever the
//! ladder holds, and a custom tier takes a position between its neighbours, so code that speaks
//! of a standard tier (a CRM's `salesqualifiedlead`) means the same thing on every ladder.
//!
//! One ladder is current in a process: [`Ladder::install`] sets it once the rules file is read,
//! before tiers are parsed or shown; until then the standard ladder is current.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// A tier: a position on the ladder. `Ord` follows the funnel: a subscriber is below a lead.
///
/// A person who meets no tier (say, a row with only a phone number) has no tier at all
/// (`Option<Tier>::None`, shown as "unqualified"); a CRM stage that is not a tier (HubSpot's
/// `other`, or a custom stage nobody mapped) is a [`Stage::Other`], never silently a tier.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tier(u16);

/// The standard tiers: (position, name, label).
const STANDARD: [(u16, &str, &str); 6] = [
    (1_000, "subscriber", "Subscriber"),
    (2_000, "lead", "Lead"),
    (3_000, "mql", "Marketing qualified lead"),
    (4_000, "sql", "Sales qualified lead"),
    (5_000, "opportunity", "Opportunity"),
    (6_000, "customer", "Customer"),
];

/// Positions of custom tiers above the last standard one end below this.
const TOP: u16 = 10_000;
/// Side tiers' positions start here: apart from the main ladder, never compared along it.
const SIDE: u16 = 20_000;

impl Tier {
    pub const SUBSCRIBER: Tier = Tier(1_000);
    pub const LEAD: Tier = Tier(2_000);
    pub const MQL: Tier = Tier(3_000);
    pub const SQL: Tier = Tier(4_000);
    pub const OPPORTUNITY: Tier = Tier(5_000);
    pub const CUSTOMER: Tier = Tier(6_000);

    /// The standard tiers, lowest first.
    pub const STANDARD: [Tier; 6] = [
        Tier::SUBSCRIBER,
        Tier::LEAD,
        Tier::MQL,
        Tier::SQL,
        Tier::OPPORTUNITY,
        Tier::CUSTOMER,
    ];

    /// The short name used in config, reports and the JSON contract.
    pub fn as_str(self) -> &'static str {
        let ladder = Ladder::current();
        match ladder.rung(self) {
            Some(rung) => &rung.name,
            None => STANDARD
                .iter()
                .find(|(p, _, _)| *p == self.0)
                .map_or("unknown", |(_, name, _)| name),
        }
    }

    /// Whether this is a side tier (off the main ladder).
    pub fn is_side(self) -> bool {
        self.0 >= SIDE
    }

    /// The next tier up the current ladder, if any.
    pub fn next(self) -> Option<Tier> {
        let ladder = Ladder::current();
        ladder.rungs.iter().map(|r| r.tier).find(|t| *t > self)
    }

    /// This tier if the current ladder holds it, else the nearest tier of the ladder below it
    /// (a standard stage a CRM reports when the ladder dropped that tier); `None` below the
    /// ladder's lowest tier.
    pub fn on_ladder(self) -> Option<Tier> {
        Ladder::current()
            .rungs
            .iter()
            .rev()
            .map(|r| r.tier)
            .find(|t| *t <= self)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Tier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Tier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a tier; expected one of {expected}")]
pub struct TierParseError {
    pub name: String,
    /// The current ladder's names, comma-separated.
    pub expected: String,
}

impl FromStr for Tier {
    type Err = TierParseError;
    /// A tier's name; also its label and, for the standard tiers, the names CRMs use
    /// (`marketingqualifiedlead`), whatever their case and spacing.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ladder = Ladder::current();
        if let Some(t) = ladder.get(s).or_else(|| ladder.alias(s)) {
            return Ok(t);
        }
        // Unlike a CRM's stage, a tier named here is never taken for the nearest one below.
        let key = stage_key(s);
        ladder
            .by_key(&key)
            .or_else(|| standard_of(&key).filter(|t| ladder.rank(*t) > 0))
            .ok_or_else(|| TierParseError {
                name: s.to_string(),
                expected: ladder.names().collect::<Vec<_>>().join(", "),
            })
    }
}

/// One tier of a ladder as the rules file states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RungSpec {
    /// Lower-case letters, digits and `_`: what rules, configs, stores and reports use.
    pub name: String,
    /// What reports show; the name when absent.
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Off the main ladder (`recycled`, `disqualified`): a person moves there from any tier
    /// and back, and counts apart in the funnel.
    #[serde(default)]
    pub side: bool,
}

/// One tier of a ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rung {
    pub tier: Tier,
    pub name: String,
    pub label: String,
    pub description: String,
    pub side: bool,
    /// The name and the label as [`Stage::parse`] compares them.
    keys: [String; 2],
}

/// The tiers, lowest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder {
    /// The main ladder, lowest first.
    rungs: Vec<Rung>,
    /// Side tiers, in the file's order.
    sides: Vec<Rung>,
    standard: bool,
    /// Names no longer on the ladder (renamed or removed) and the tier each now means.
    aliases: Vec<(String, Tier)>,
}

/// A ladder the rules file cannot have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LadderError(pub String);

static CURRENT: AtomicPtr<Ladder> = AtomicPtr::new(std::ptr::null_mut());
static FROZEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static STANDARD_LADDER: std::sync::LazyLock<Ladder> = std::sync::LazyLock::new(Ladder::standard);

impl Ladder {
    /// The six standard tiers.
    pub fn standard() -> Ladder {
        let specs: Vec<RungSpec> = STANDARD
            .iter()
            .map(|(_, name, label)| RungSpec {
                name: name.to_string(),
                label: Some(label.to_string()),
                description: None,
                side: false,
            })
            .collect();
        Ladder::new(&specs).expect("the standard ladder is valid")
    }

    /// A ladder of these tiers, lowest first (side tiers anywhere among them). The standard
    /// tiers it holds must keep their order; a custom tier is placed between the tiers around
    /// it.
    pub fn new(all: &[RungSpec]) -> Result<Ladder, LadderError> {
        let (side_specs, specs): (Vec<&RungSpec>, Vec<&RungSpec>) =
            all.iter().partition(|s| s.side);
        if specs.is_empty() {
            return Err(LadderError(
                "the ladder has no tiers (besides side tiers)".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for s in all {
            if s.side && STANDARD.iter().any(|(_, n, _)| *n == s.name) {
                return Err(LadderError(format!(
                    "tier `{}` is a standard tier and cannot be a side tier",
                    s.name
                )));
            }
            if s.name.is_empty()
                || !s
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(LadderError(format!(
                    "tier `{}`: a name is lower-case letters, digits and `_`",
                    s.name
                )));
            }
            if !seen.insert(s.name.as_str()) {
                return Err(LadderError(format!("tier `{}` is listed twice", s.name)));
            }
        }
        let standard_at = |name: &str| STANDARD.iter().find(|(_, n, _)| *n == name).map(|s| s.0);
        let mut positions = Vec::with_capacity(specs.len());
        let mut i = 0;
        let mut below = 0u16;
        while i < specs.len() {
            if let Some(p) = standard_at(&specs[i].name) {
                if p <= below {
                    let before = specs[..i]
                        .iter()
                        .rev()
                        .find(|s| standard_at(&s.name).is_some_and(|q| q >= p))
                        .map_or("", |s| s.name.as_str());
                    return Err(LadderError(format!(
                        "tier `{}` must come below `{before}`: the standard tiers keep their order (subscriber, lead, mql, sql, opportunity, customer)",
                        specs[i].name
                    )));
                }
                positions.push(p);
                below = p;
                i += 1;
                continue;
            }
            // A run of custom tiers, spread evenly between the tiers around it.
            let end = (i..specs.len())
                .find(|&j| standard_at(&specs[j].name).is_some())
                .unwrap_or(specs.len());
            let above = specs
                .get(end)
                .and_then(|s| standard_at(&s.name))
                .unwrap_or(TOP);
            let run = (end - i) as u16;
            if above - below <= 2 * run + 2 {
                return Err(LadderError(format!(
                    "too many tiers between `{}` and `{}`",
                    specs[i].name,
                    specs[end - 1].name
                )));
            }
            for k in 1..=run {
                // Never a standard tier's own position, even one the ladder left out: a CRM's
                // standard stage must not be taken for a custom tier.
                let p = below + (above - below) * k / (run + 1);
                positions.push(if p.is_multiple_of(1_000) { p - 1 } else { p });
            }
            below = *positions.last().expect("a run");
            i = end;
        }
        let rung = |s: &RungSpec, p: u16| {
            let label = s.label.clone().unwrap_or_else(|| s.name.clone());
            Rung {
                tier: Tier(p),
                keys: [stage_key(&s.name), stage_key(&label)],
                name: s.name.clone(),
                label,
                description: s.description.clone().unwrap_or_default(),
                side: s.side,
            }
        };
        let rungs: Vec<Rung> = specs
            .iter()
            .zip(positions)
            .map(|(s, p)| rung(s, p))
            .collect();
        let sides: Vec<Rung> = side_specs
            .iter()
            .zip(SIDE..)
            .map(|(s, p)| rung(s, p))
            .collect();
        // The six, named and labelled as standard: stage names need no lookup in the ladder.
        let standard = sides.is_empty()
            && rungs.len() == STANDARD.len()
            && rungs.iter().zip(STANDARD).all(|(r, (_, name, label))| {
                r.name == name && (r.label == name || r.label == label)
            });
        Ok(Ladder {
            rungs,
            sides,
            standard,
            aliases: Vec::new(),
        })
    }

    /// The ladder with names it no longer has mapped to tiers it has: `renamed` (old name → new
    /// name) and `removed` (name → the tier it now counts as). Whatever still names an old tier
    /// (stored persons, their history, pushes waiting) reads as its mapping.
    pub fn with_aliases<'a>(
        mut self,
        renamed: impl IntoIterator<Item = (&'a String, &'a String)>,
        removed: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<Ladder, LadderError> {
        let tables = renamed
            .into_iter()
            .map(|m| ("renamed", m))
            .chain(removed.into_iter().map(|m| ("removed", m)));
        for (table, (old, new)) in tables {
            if self.get(old).is_some() {
                return Err(LadderError(format!(
                    "[ladder.{table}] names `{old}`, which is still on the ladder"
                )));
            }
            let Some(tier) = self.get(new) else {
                return Err(LadderError(format!(
                    "[ladder.{table}] maps `{old}` to `{new}`, which is not on the ladder; expected one of {}",
                    self.names().collect::<Vec<_>>().join(", ")
                )));
            };
            if self.aliases.iter().any(|(name, _)| name == old) {
                return Err(LadderError(format!("`{old}` is mapped twice in [ladder]")));
            }
            self.aliases.push((old.clone(), tier));
        }
        Ok(self)
    }

    /// The tier a name no longer on the ladder now means (see [`Ladder::with_aliases`]).
    pub fn alias(&self, name: &str) -> Option<Tier> {
        self.aliases
            .iter()
            .find(|(old, _)| old == name)
            .map(|(_, t)| *t)
    }

    /// The current ladder: the one installed, else the standard one.
    pub fn current() -> &'static Ladder {
        let p = CURRENT.load(Ordering::Acquire);
        if p.is_null() {
            &STANDARD_LADDER
        } else {
            // SAFETY: a pointer stored in CURRENT comes from `Box::leak` in `install` and is
            // never freed.
            unsafe { &*p }
        }
    }

    /// Makes this ladder the current one, unless the ladder was [frozen](Ladder::freeze) (then
    /// only the current ladder itself is accepted).
    pub fn install(self) -> Result<&'static Ladder, LadderError> {
        let current = Ladder::current();
        if self == *current {
            return Ok(current);
        }
        if FROZEN.load(Ordering::Acquire) {
            return Err(LadderError(
                "the ladder of the rules file changed while leadsync runs: restart it to use the new ladder (preview what it does with `leadsync plan --rules FILE`)".into(),
            ));
        }
        let leaked: &'static mut Ladder = Box::leak(Box::new(self));
        CURRENT.store(leaked, Ordering::Release);
        Ok(leaked)
    }

    /// From now on the current ladder stays: a running daemon's tiers cannot change under it.
    pub fn freeze() {
        FROZEN.store(true, Ordering::Release);
    }

    /// Whether this is the standard ladder (a `[ladder]` listing the six in order, with their
    /// names or standard labels, is too).
    pub fn is_standard(&self) -> bool {
        self.standard
    }

    /// The tiers, lowest first.
    pub fn tiers(&self) -> impl DoubleEndedIterator<Item = Tier> + ExactSizeIterator + '_ {
        self.rungs.iter().map(|r| r.tier)
    }

    /// The side tiers, in the file's order.
    pub fn sides(&self) -> impl ExactSizeIterator<Item = Tier> + '_ {
        self.sides.iter().map(|r| r.tier)
    }

    /// Whether the ladder has side tiers: without them nothing need look for one.
    pub fn has_sides(&self) -> bool {
        !self.sides.is_empty()
    }

    /// Every tier's name: the main ladder's, lowest first, then the side tiers'.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.rungs
            .iter()
            .chain(&self.sides)
            .map(|r| r.name.as_str())
    }

    /// The tier with this name (exactly), on the main ladder or a side tier.
    pub fn get(&self, name: &str) -> Option<Tier> {
        self.rungs
            .iter()
            .chain(&self.sides)
            .find(|r| r.name == name)
            .map(|r| r.tier)
    }

    pub fn rung(&self, tier: Tier) -> Option<&Rung> {
        self.rungs
            .iter()
            .chain(&self.sides)
            .find(|r| r.tier == tier)
    }

    /// The tier's place on the ladder: 1 for the lowest; 0 when it is not on it.
    pub fn rank(&self, tier: Tier) -> usize {
        self.rungs
            .iter()
            .position(|r| r.tier == tier)
            .map_or(0, |i| i + 1)
    }

    /// The tier whose name or label is this stage key (see [`stage_key`]).
    fn by_key(&self, key: &str) -> Option<Tier> {
        self.rungs
            .iter()
            .chain(&self.sides)
            .find(|r| r.keys.iter().any(|k| k == key))
            .map(|r| r.tier)
    }
}

/// A stage's text as compared with names: lower-case letters and digits only.
fn stage_key(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The standard tier a stage key (see [`stage_key`]) names: its name, CRMs' internal and display
/// names, abbreviations.
fn standard_of(key: &str) -> Option<Tier> {
    Some(match key {
        "subscriber" | "subscribers" | "newslettersubscriber" => Tier::SUBSCRIBER,
        "lead" | "leads" => Tier::LEAD,
        "mql" | "marketingqualifiedlead" | "marketingqualified" => Tier::MQL,
        "sql" | "salesqualifiedlead" | "salesqualified" => Tier::SQL,
        "opportunity" | "opp" | "opportunities" => Tier::OPPORTUNITY,
        "customer" | "customers" | "evangelist" | "closedwon" => Tier::CUSTOMER,
        _ => return None,
    })
}

/// A lifecycle stage as a CRM or a spreadsheet states it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stage {
    Tier(Tier),
    /// A stage that is not one of the tiers (`other`, custom numeric stages); kept verbatim.
    Other(String),
}

impl Stage {
    /// Recognises the current ladder's names and labels, and the standard tiers' internal
    /// names (`marketingqualifiedlead`), display names (`Marketing Qualified Lead`) and
    /// abbreviations (`MQL`), whatever their case and spacing. A standard stage whose tier the
    /// ladder dropped is the nearest tier below it.
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
            unicode = stage_key(raw);
            &unicode
        };
        let ladder = Ladder::current();
        if !ladder.standard
            && let Some(tier) = ladder.by_key(key)
        {
            return Stage::Tier(tier);
        }
        match standard_of(key).and_then(Tier::on_ladder) {
            Some(t) => Stage::Tier(t),
            None => Stage::Other(raw.trim().to_string()),
        }
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
            Stage::Tier(Tier::MQL)
        );
        assert_eq!(
            Stage::parse("marketingqualifiedlead"),
            Stage::Tier(Tier::MQL)
        );
        assert_eq!(Stage::parse(" SQL "), Stage::Tier(Tier::SQL));
        assert_eq!(Stage::parse("Evangelist"), Stage::Tier(Tier::CUSTOMER));
        assert_eq!(Stage::parse("other"), Stage::Other("other".into()));
        assert_eq!(Stage::parse("1234567"), Stage::Other("1234567".into()));
    }

    #[test]
    fn tiers_are_ordered_along_the_funnel() {
        assert!(Tier::SUBSCRIBER < Tier::LEAD && Tier::OPPORTUNITY < Tier::CUSTOMER);
        assert_eq!(Tier::MQL.next(), Some(Tier::SQL));
        assert_eq!(Tier::CUSTOMER.next(), None);
        let err = "nonsense".parse::<Tier>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`nonsense` is not a tier; expected one of subscriber, lead, mql, sql, opportunity, customer"
        );
    }

    fn spec(name: &str) -> RungSpec {
        RungSpec {
            name: name.into(),
            label: None,
            description: None,
            side: false,
        }
    }

    fn ladder(names: &[&str]) -> Result<Ladder, LadderError> {
        Ladder::new(&names.iter().map(|n| spec(n)).collect::<Vec<_>>())
    }

    #[test]
    fn custom_tiers_sit_between_their_neighbours_and_standard_ones_keep_their_place() {
        let l = ladder(&[
            "subscriber",
            "lead",
            "mql",
            "sal",
            "sql",
            "opportunity",
            "customer",
            "evangelist",
        ])
        .unwrap();
        let t: Vec<Tier> = l.tiers().collect();
        assert!(t.windows(2).all(|w| w[0] < w[1]), "{t:?}");
        assert_eq!(l.get("sql"), Some(Tier::SQL));
        assert!(l.get("sal").unwrap() > Tier::MQL && l.get("sal").unwrap() < Tier::SQL);
        assert!(l.get("evangelist").unwrap() > Tier::CUSTOMER);
        assert_eq!(l.rank(Tier::SQL), 5);
        assert!(!l.is_standard());
        assert!(ladder(&STANDARD.map(|s| s.1)).unwrap().is_standard());

        // A ladder of custom tiers only, and several custom tiers in one gap
        let l = ladder(&["visitor", "known", "engaged", "buyer"]).unwrap();
        assert!(
            l.tiers()
                .collect::<Vec<_>>()
                .windows(2)
                .all(|w| w[0] < w[1])
        );
        let l = ladder(&["lead", "a", "b", "c", "mql"]).unwrap();
        let t: Vec<Tier> = l.tiers().collect();
        assert!(
            t.windows(2).all(|w| w[0] < w[1]) && t[3] < Tier::MQL,
            "{t:?}"
        );

        // A custom tier where a left-out standard tier stood is not that tier
        let l = ladder(&["lead", "mql", "sal", "opportunity"]).unwrap();
        let sal = l.get("sal").unwrap();
        assert!(sal != Tier::SQL && sal > Tier::MQL && sal < Tier::OPPORTUNITY);
        assert_eq!(l.rank(Tier::SQL), 0);
    }

    #[test]
    fn side_tiers_stand_apart_from_the_main_ladder() {
        let mut specs: Vec<RungSpec> = ["lead", "mql", "sql"].iter().map(|n| spec(n)).collect();
        specs.insert(
            1,
            RungSpec {
                label: Some("Recycled".into()),
                side: true,
                ..spec("recycled")
            },
        );
        let l = Ladder::new(&specs).unwrap();
        let recycled = l.get("recycled").unwrap();
        assert!(recycled.is_side() && !Tier::MQL.is_side());
        assert_eq!(
            l.tiers().collect::<Vec<_>>(),
            [Tier::LEAD, Tier::MQL, Tier::SQL]
        );
        assert_eq!(l.sides().collect::<Vec<_>>(), [recycled]);
        assert_eq!(l.rank(recycled), 0);
        assert_eq!(
            l.names().collect::<Vec<_>>(),
            ["lead", "mql", "sql", "recycled"]
        );
        assert_eq!(l.by_key("recycled"), Some(recycled));
        assert!(!l.is_standard());

        let mut bad = specs.clone();
        bad[0].side = true;
        bad[0].name = "lead".into();
        assert!(Ladder::new(&bad).unwrap_err().0.contains("standard tier"));
        let only_side = vec![RungSpec {
            side: true,
            ..spec("recycled")
        }];
        assert!(Ladder::new(&only_side).is_err());
    }

    #[test]
    fn renamed_and_removed_names_map_onto_tiers_of_the_ladder_only() {
        let l = ladder(&["lead", "mql", "sql"]).unwrap();
        let map = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let with = l
            .clone()
            .with_aliases(&map(&[("prospect", "lead")]), &map(&[("sal", "mql")]))
            .unwrap();
        assert_eq!(with.alias("sal"), Some(Tier::MQL));
        assert_eq!(with.alias("prospect"), Some(Tier::LEAD));
        assert_eq!(with.alias("mql"), None);
        let err = l
            .clone()
            .with_aliases(&map(&[]), &map(&[("sal", "customer")]))
            .unwrap_err();
        assert!(err.0.contains("not on the ladder"), "{err}");
        let err = l
            .with_aliases(&map(&[]), &map(&[("mql", "lead")]))
            .unwrap_err();
        assert!(err.0.contains("still on the ladder"), "{err}");
    }

    #[test]
    fn a_ladder_that_reorders_standard_tiers_repeats_a_name_or_misnames_one_is_refused() {
        let err = ladder(&["lead", "sql", "mql"]).unwrap_err();
        assert!(err.0.contains("`mql` must come below `sql`"), "{err}");
        assert!(ladder(&["lead", "lead"]).unwrap_err().0.contains("twice"));
        assert!(
            ladder(&["Sales Accepted"])
                .unwrap_err()
                .0
                .contains("lower-case")
        );
        assert!(ladder(&[]).is_err());
    }
}
