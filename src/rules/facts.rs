//! The facts a rule can use: the person's fields, normalised for easy comparison, and derived
//! facts (`has_phone`, `email_is_freemail`, `days_since_last_activity`, `seniority`, scores …).

use crate::model::Person;
use crate::model::time::parse_datetime;
use cel::Value;
use cel::common::types::{CelBool, CelInt, CelString};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Field, Stage, Tier};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock};

/// The value type of a fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Bool,
    Map,
}

/// Every fact: name, type, meaning. Text facts marked "lower-case" are lower-cased and trimmed.
pub const FACTS: &[(&str, Kind, &str)] = &[
    (
        "email",
        Kind::Text,
        "the preferred email address (lower-case)",
    ),
    ("email_domain", Kind::Text, "the part after @"),
    ("first_name", Kind::Text, "first name"),
    ("last_name", Kind::Text, "last name"),
    ("phone", Kind::Text, "the preferred phone, E.164 when valid"),
    ("company", Kind::Text, "company name"),
    ("job_title", Kind::Text, "job title as written"),
    ("role", Kind::Text, "role (lower-case)"),
    (
        "seniority",
        Kind::Text,
        "executive, owner, manager, staff, or empty: from role, else job title",
    ),
    ("industry", Kind::Text, "industry (lower-case)"),
    (
        "company_size",
        Kind::Text,
        "company size as written (`51-200`)",
    ),
    (
        "employees",
        Kind::Int,
        "the lower bound of company_size as a number; 0 when unknown",
    ),
    (
        "country",
        Kind::Text,
        "ISO country code when recognised (`US`), else as written",
    ),
    ("source", Kind::Text, "source/channel (lower-case)"),
    (
        "form_kind",
        Kind::Text,
        "the form: newsletter, ebook, contact-us, demo request … (lower-case)",
    ),
    (
        "crm_stage",
        Kind::Text,
        "the highest CRM lifecycle stage, as a tier name when it is one",
    ),
    (
        "crm_tier",
        Kind::Text,
        "crm_stage when it is a tier, else empty",
    ),
    (
        "crm_rank",
        Kind::Int,
        "crm_tier as its place on the ladder: 0 none, 1 the lowest (subscriber … 6 customer on the standard ladder)",
    ),
    (
        "lead_status",
        Kind::Text,
        "lead status, lower-case with _ for spaces (`open_deal`)",
    ),
    ("consent", Kind::Text, "yes, no, or empty when unknown"),
    ("opted_out", Kind::Bool, "consent is explicitly no"),
    ("has_email", Kind::Bool, "an email is known"),
    ("has_phone", Kind::Bool, "a phone is known"),
    ("has_name", Kind::Bool, "a first or last name is known"),
    ("has_company", Kind::Bool, "a company is known"),
    (
        "email_is_freemail",
        Kind::Bool,
        "the email is at a free mail provider (gmail.com, yahoo.com …)",
    ),
    (
        "days_since_last_activity",
        Kind::Int,
        "days since last activity (else since created); 100000 when neither is known",
    ),
    (
        "days_since_created",
        Kind::Int,
        "days since the record was created in its source (else first seen)",
    ),
    (
        "temperature",
        Kind::Text,
        "hot, warm or cold, from days_since_last_activity and [temperature]",
    ),
    (
        "fit_score",
        Kind::Int,
        "fit points, capped (not usable in scoring conditions)",
    ),
    (
        "engagement_score",
        Kind::Int,
        "engagement points, capped and decayed (not usable in scoring conditions)",
    ),
    (
        "score",
        Kind::Int,
        "fit_score + engagement_score (not usable in scoring conditions)",
    ),
    (
        "thresholds",
        Kind::Map,
        "the [thresholds] of the rules file: thresholds.NAME",
    ),
    (
        "lists",
        Kind::Map,
        "the [lists] of the rules file: lists.NAME",
    ),
    (
        "custom",
        Kind::Map,
        "custom fields; prefer field('name') and flag('name'), which never fail",
    ),
];

/// Days assumed when no activity is known: far beyond any threshold.
pub const NO_ACTIVITY_DAYS: i64 = 100_000;

/// Scores are not facts of scoring conditions: they are what those conditions compute.
pub const SCORE_FACTS: [&str; 3] = ["score", "fit_score", "engagement_score"];

const FREEMAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "msn.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mail.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "protonmail.com",
    "proton.me",
    "yandex.ru",
    "mail.ru",
    "zoho.com",
    "fastmail.com",
    "hey.com",
    "qq.com",
    "163.com",
];

/// The index of a fact by name.
pub fn index(name: &str) -> Option<usize> {
    INDEX.get(name).copied()
}

/// The index of a fact by name, found at compile time (a name not in [`FACTS`] does not build).
const fn position(name: &str) -> usize {
    let mut i = 0;
    while i < FACTS.len() {
        let (a, b) = (FACTS[i].0.as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not a fact")
}

/// Facts the engine reads or fills on every evaluation, by index.
pub const DAYS_SINCE_LAST_ACTIVITY: usize = position("days_since_last_activity");
pub const FIT_SCORE: usize = position("fit_score");
pub const ENGAGEMENT_SCORE: usize = position("engagement_score");
pub const SCORE: usize = position("score");
pub const TEMPERATURE: usize = position("temperature");

/// One value per entry of [`FACTS`] (maps are held apart, as CEL values built once).
///
/// Text borrows from the person where it can (a trimmed field, an already lower-case one).
#[derive(Debug, Clone, PartialEq)]
pub enum FactValue<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    Bool(bool),
    Map,
}

impl FactValue<'_> {
    /// A short rendering for evidence and explain.
    pub fn render(&self) -> String {
        match self {
            FactValue::Text(s) => s.to_string(),
            FactValue::Int(i) => i.to_string(),
            FactValue::Bool(b) => b.to_string(),
            FactValue::Map => "{…}".to_string(),
        }
    }
}

/// The facts of one person, resolved lazily by the CEL interpreter.
#[derive(Debug)]
pub struct Facts<'a> {
    pub values: Vec<FactValue<'a>>,
    settings: &'a FactSettings,
    /// The person's custom fields; as a CEL map only once a condition reads them.
    custom_fields: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    custom: OnceLock<Box<dyn Val>>,
}

/// The parts of the rules file that facts need; the maps are CEL values built once per rules.
#[derive(Debug)]
pub struct FactSettings {
    pub hot_days: u32,
    pub warm_days: u32,
    pub thresholds: Box<dyn Val>,
    pub lists: Box<dyn Val>,
}

/// A CEL value from a plain one (maps and lists of strings and numbers always convert).
pub fn cel_value(v: Value) -> Box<dyn Val> {
    v.try_into()
        .expect("maps of strings, numbers and lists convert to CEL values")
}

/// Fact names to their index, built once.
static INDEX: LazyLock<HashMap<&'static str, usize>> = LazyLock::new(|| {
    FACTS
        .iter()
        .enumerate()
        .map(|(i, (n, _, _))| (*n, i))
        .collect()
});

impl<'a> Facts<'a> {
    /// The facts of `person` at `now`, with scores still zero.
    pub fn of(person: &'a Person, now: DateTime<Utc>, settings: &'a FactSettings) -> Facts<'a> {
        // Each built-in field's first value, found in one pass (as `Person::get` finds it).
        let mut first = [None; Field::BUILT_IN.len()];
        for (field, values) in &person.fields {
            if let Some(i) = field.built_in_index() {
                first[i] = values.first().map(|v| v.value.as_str());
            }
        }
        let get = |f: &Field| first[f.built_in_index().expect("a built-in field")];
        let has = |f: &Field| get(f).is_some_and(|v| !v.is_empty());
        let text = |f: &Field| Cow::Borrowed(get(f).unwrap_or_default().trim());
        let lower = |f: &Field| lowercase(get(f).unwrap_or_default().trim());
        let email = lower(&Field::Email);
        fn after_at(email: &str) -> &str {
            email.rsplit_once('@').map_or("", |(_, domain)| domain)
        }
        let domain = match &email {
            Cow::Borrowed(e) => Cow::Borrowed(after_at(e)),
            Cow::Owned(e) => Cow::Owned(after_at(e).to_string()),
        };
        let stage = get(&Field::CrmStage).map(Stage::parse);
        let crm_tier = stage.as_ref().and_then(Stage::tier);
        let consent = match get(&Field::Consent) {
            Some("true") => "yes",
            Some("false") => "no",
            _ => "",
        };
        let days_since = |t: Option<DateTime<Utc>>| t.map(|t| (now - t).num_days().max(0));
        let created_days = days_since(get(&Field::CreatedAt).and_then(parse_datetime));
        let activity = days_since(get(&Field::LastActivityAt).and_then(parse_datetime))
            .or(created_days)
            .unwrap_or(NO_ACTIVITY_DAYS);
        let created = created_days.unwrap_or_else(|| (now - person.created_at).num_days().max(0));
        let temperature = if activity <= i64::from(settings.hot_days) {
            "hot"
        } else if activity <= i64::from(settings.warm_days) {
            "warm"
        } else {
            "cold"
        };
        let custom_fields = person
            .fields
            .iter()
            .filter_map(|(f, v)| match f {
                Field::Custom(name) => Some((
                    Cow::Borrowed(name.as_str()),
                    Cow::Borrowed(v.first()?.value.as_str()),
                )),
                _ => None,
            })
            .collect();
        let role = lower(&Field::Role);
        let lead_status = lower(&Field::LeadStatus);
        let lead_status = match lead_status.contains(char::is_whitespace) {
            true => Cow::Owned(lead_status.split_whitespace().collect::<Vec<_>>().join("_")),
            false => lead_status,
        };
        let free = FREEMAIL.contains(&domain.as_ref());
        let seniority = seniority(&role, &lower(&Field::JobTitle));
        let values = vec![
            FactValue::Text(email.clone()),
            FactValue::Text(domain),
            FactValue::Text(text(&Field::FirstName)),
            FactValue::Text(text(&Field::LastName)),
            FactValue::Text(text(&Field::Phone)),
            FactValue::Text(text(&Field::Company)),
            FactValue::Text(text(&Field::JobTitle)),
            FactValue::Text(role),
            FactValue::Text(Cow::Borrowed(seniority)),
            FactValue::Text(lower(&Field::Industry)),
            FactValue::Text(text(&Field::CompanySize)),
            FactValue::Int(employees(&text(&Field::CompanySize))),
            FactValue::Text(text(&Field::Country)),
            FactValue::Text(lower(&Field::Source)),
            FactValue::Text(lower(&Field::FormKind)),
            FactValue::Text(match stage {
                Some(Stage::Tier(t)) => Cow::Borrowed(t.as_str()),
                Some(Stage::Other(o)) => Cow::Owned(o),
                None => Cow::Borrowed(""),
            }),
            FactValue::Text(Cow::Borrowed(crm_tier.map_or("", |t| t.as_str()))),
            FactValue::Int(crm_tier.map_or(0, rank)),
            FactValue::Text(lead_status),
            FactValue::Text(Cow::Borrowed(consent)),
            FactValue::Bool(consent == "no"),
            FactValue::Bool(!email.is_empty()),
            FactValue::Bool(has(&Field::Phone)),
            FactValue::Bool(has(&Field::FirstName) || has(&Field::LastName)),
            FactValue::Bool(has(&Field::Company)),
            FactValue::Bool(free),
            FactValue::Int(activity),
            FactValue::Int(created),
            FactValue::Text(Cow::Borrowed(temperature)),
            FactValue::Int(0),
            FactValue::Int(0),
            FactValue::Int(0),
            FactValue::Map,
            FactValue::Map,
            FactValue::Map,
        ];
        debug_assert_eq!(values.len(), FACTS.len());
        Facts {
            values,
            settings,
            custom_fields,
            custom: OnceLock::new(),
        }
    }

    /// Facts of the given shape with every value filled (`filled`) or empty, for checking
    /// rules at load time.
    pub fn sample(filled: bool, settings: &'a FactSettings) -> Facts<'a> {
        let values = FACTS
            .iter()
            .map(|(_, kind, _)| match kind {
                Kind::Map => FactValue::Map,
                Kind::Text => FactValue::Text(Cow::Borrowed(if filled { "x" } else { "" })),
                Kind::Int => FactValue::Int(i64::from(filled)),
                Kind::Bool => FactValue::Bool(filled),
            })
            .collect();
        Facts {
            values,
            settings,
            custom_fields: Vec::new(),
            custom: OnceLock::new(),
        }
    }

    /// Facts of any values, for tests.
    #[cfg(test)]
    pub(super) fn of_values(
        values: Vec<FactValue<'a>>,
        custom_fields: Vec<(String, String)>,
        settings: &'a FactSettings,
    ) -> Facts<'a> {
        Facts {
            values,
            settings,
            custom_fields: custom_fields
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
                .collect(),
            custom: OnceLock::new(),
        }
    }

    fn custom_map(&self) -> &dyn Val {
        self.custom
            .get_or_init(|| {
                let map: HashMap<String, Value> = self
                    .custom_fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::String(Arc::new(v.to_string()))))
                    .collect();
                cel_value(Value::from(map))
            })
            .as_ref()
    }

    /// A custom field's value, without going through CEL.
    pub fn custom(&self, name: &str) -> Option<&str> {
        self.custom_fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    pub fn get(&self, name: &str) -> Option<&FactValue<'a>> {
        index(name).map(|i| &self.values[i])
    }
}

impl VariableResolver for Facts<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        Some(match self.get(variable)? {
            FactValue::Text(s) => CowVal::owned(CelString::from(s.as_ref())),
            FactValue::Int(i) => CowVal::owned(CelInt::from(*i)),
            FactValue::Bool(b) => CowVal::owned(CelBool::from(*b)),
            FactValue::Map => match variable {
                "thresholds" => CowVal::Borrowed(self.settings.thresholds.as_ref()),
                "lists" => CowVal::Borrowed(self.settings.lists.as_ref()),
                _ => CowVal::Borrowed(self.custom_map()),
            },
        })
    }
}

/// A tier as a number: its place on the ladder, 1 for the lowest (on the standard ladder 1
/// subscriber … 6 customer).
pub fn rank(tier: Tier) -> i64 {
    leadsync_connector_core::Ladder::current().rank(tier) as i64
}

/// `text` lower-cased, borrowed when it already is (ASCII without capitals: most values).
fn lowercase(text: &str) -> Cow<'_, str> {
    match text
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        true => Cow::Borrowed(text),
        false => Cow::Owned(text.to_lowercase()),
    }
}

/// Executive, owner, manager or staff, from the role, else the job title.
fn seniority(role: &str, title: &str) -> &'static str {
    for text in [role, title] {
        let text = lowercase(text);
        if text.is_empty() {
            continue;
        }
        let words: Vec<&str> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let has = |list: &[&str]| words.iter().any(|w| list.contains(w));
        if has(&["owner", "founder", "cofounder", "partner", "proprietor"])
            && !text.contains("product owner")
        {
            return "owner";
        }
        if has(&[
            "ceo",
            "cfo",
            "cto",
            "coo",
            "cmo",
            "cio",
            "chief",
            "president",
            "vp",
            "svp",
            "evp",
            "executive",
            "director",
            "head",
            "managing",
        ]) {
            return "executive";
        }
        if has(&["manager", "lead", "supervisor"]) {
            return "manager";
        }
        return "staff";
    }
    ""
}

/// `51-200` → 51, `1,000+` → 1000, `10000` → 10000; 0 when no number.
fn employees(size: &str) -> i64 {
    let digits: String = size
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seniority_from_role_or_title() {
        assert_eq!(seniority("", "CEO"), "executive");
        assert_eq!(seniority("", "VP Marketing"), "executive");
        assert_eq!(seniority("", "co-founder & cto"), "owner");
        assert_eq!(seniority("owner", "Sales Rep"), "owner");
        assert_eq!(seniority("", "marketing manager"), "manager");
        assert_eq!(seniority("", "product owner"), "staff");
        assert_eq!(seniority("", "intern"), "staff");
        assert_eq!(seniority("", ""), "");
    }

    #[test]
    fn company_sizes_read_as_their_lower_bound() {
        assert_eq!(employees("51-200"), 51);
        assert_eq!(employees("1,000+"), 1000);
        assert_eq!(employees("10000"), 10000);
        assert_eq!(employees("Select"), 0);
    }
}
