//! Everything known about one person, and why: the golden record with each value's source, the
//! tier history, the linked source records and open conflicts.

use crate::config::IdentityConfig;
use crate::model::{Demotion, Person, PersonId, TierChange};
use crate::resolve::{EMAIL, EmailFolder, PHONE, phone};
use crate::rules::{Evaluation, GroupScore, Rules};
use crate::store::{Conflict, OutboxEntry, Store, StoreError, StoredRecord};
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Field, Tier, email};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The explain view; its JSON form is what `explain --json` prints and the admin API serves.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainView {
    pub id: PersonId,
    pub name: String,
    /// `null` when unqualified.
    pub tier: Option<Tier>,
    /// The side tier the person is in now (`recycled`); absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<Tier>,
    /// Each field's values (the preferred one first), each with where it came from.
    pub fields: BTreeMap<String, Vec<SourcedValue>>,
    #[serde(skip)]
    pub person: Person,
    /// Every rule evaluated now, with the values of its parts; scores by group; temperature.
    pub qualification: Evaluation,
    /// The rules version that last qualified the person.
    pub rules_version: Option<String>,
    /// A lower tier the rules ask for that was not applied.
    pub would_demote: Option<Demotion>,
    pub history: Vec<TierChange>,
    /// The clock of each follow-up commitment whose tier the person reached.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub follow_up: Vec<crate::rules::Clock>,
    /// Which source's evidence holds the tier: the CRM record whose stage equals it (a CRM
    /// stage is a floor), else the rules.
    pub decided_by: Option<Decision>,
    /// Stage pushes to the person's CRM records: pending, done, or dead-lettered with the reason.
    pub pushes: Vec<OutboxEntry>,
    pub records: Vec<StoredRecord>,
    pub conflicts: Vec<Conflict>,
    /// Persons merged into this one by matching or a reviewer: the score and every compared
    /// field's level and weight.
    pub merged: Vec<crate::store::Merge>,
}

/// Where a person's tier comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// `crm` (a CRM record's stage is the tier) or `rules` (the rules raised it above every
    /// CRM stage).
    pub by: &'static str,
    /// The connector and record whose stage it is; for `rules`, the rule of the last change.
    pub connector: Option<String>,
    pub locator: Option<String>,
    pub rule: Option<String>,
}

/// The CRM record whose reported stage equals the tier (the first seen, if several), else the
/// rule of the last tier change.
fn decision(person: &Person, history: &[TierChange]) -> Option<Decision> {
    let tier = person.tier?;
    let crm = person
        .fields
        .get(&Field::CrmStage)
        .into_iter()
        .flatten()
        .find(|v| leadsync_connector_core::Stage::parse(&v.value).tier() == Some(tier));
    if let Some(v) = crm {
        let from = person.source_of(v);
        return Some(Decision {
            by: "crm",
            connector: Some(from.connector.clone()),
            locator: Some(from.locator.clone()),
            rule: None,
        });
    }
    Some(Decision {
        by: "rules",
        connector: None,
        locator: None,
        rule: history.last().map(|h| h.rule.clone()),
    })
}

/// Finds a person by id, email (folded as identity does) or phone.
pub fn find(
    store: &mut dyn Store,
    identity: &IdentityConfig,
    who: &str,
) -> Result<Option<PersonId>, StoreError> {
    let who = who.trim();
    if let Ok(id) = who.parse::<PersonId>() {
        if store.person(id)?.is_some() {
            return Ok(Some(id));
        }
        // A merged-away id leads to the person it was merged into.
        if let Some(survivor) = store.merged_into(id)? {
            return Ok(Some(survivor));
        }
    }
    if who.contains('@') {
        return match email::normalize(who) {
            Ok(canonical) => {
                store.person_by_key(EMAIL, &EmailFolder::new(identity).fold(&canonical))
            }
            Err(_) => Ok(None),
        };
    }
    let region = phone::region(&identity.default_region);
    match region.and_then(|r| phone::to_e164(who, r)) {
        Some(e164) => store.person_by_key(PHONE, &e164),
        None => Ok(None),
    }
}

/// A value and its provenance.
#[derive(Debug, Clone, Serialize)]
pub struct SourcedValue {
    pub value: String,
    pub connector: String,
    pub locator: String,
    pub observed_at: DateTime<Utc>,
}

pub fn view(
    store: &mut dyn Store,
    id: PersonId,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Option<ExplainView>, StoreError> {
    let Some(person) = store.person(id)? else {
        return Ok(None);
    };
    let sourced = |v: &crate::model::FieldValue| {
        let from = person.source_of(v);
        SourcedValue {
            value: v.value.clone(),
            connector: from.connector.clone(),
            locator: from.locator.clone(),
            observed_at: from.observed_at,
        }
    };
    let fields = person
        .fields
        .iter()
        .map(|(field, values)| {
            (
                field.as_str().to_string(),
                values.iter().map(sourced).collect(),
            )
        })
        .collect();
    let qualification = rules.evaluator().evaluate(&person, now, true);
    let history = store.tier_history(id)?;
    let follow_up = match &rules.follow_up {
        Some(f) => {
            let moved_to: Vec<(Tier, DateTime<Utc>)> =
                history.iter().map(|c| (c.to, c.at)).collect();
            f.clocks(&person, &crate::report::reached_at(&moved_to), now)
        }
        None => Vec::new(),
    };
    Ok(Some(ExplainView {
        follow_up,
        decided_by: decision(&person, &history),
        id,
        name: person.display_name(),
        tier: person.tier,
        side: person.side,
        fields,
        qualification,
        rules_version: person.rules_version.clone(),
        would_demote: person.demotion.clone(),
        history,
        pushes: store.outbox_of(id)?,
        records: store.records_of(id)?,
        conflicts: store.conflicts_of(id)?,
        merged: store.merges_into(id)?,
        person,
    }))
}

impl ExplainView {
    fn render_rules(&self, out: &mut String) {
        let q = &self.qualification;
        let _ = writeln!(
            out,
            "\nRules now (qualified with rules {}): score {} = fit {} + engagement {}; temperature {}",
            self.rules_version.as_deref().unwrap_or("-"),
            q.score,
            q.fit.total,
            q.engagement.total,
            q.temperature
        );
        if let Some(floor) = self.person.crm_tier() {
            let _ = writeln!(
                out,
                "  CRM stage floor: {floor} (the tier never goes below a CRM's stage)"
            );
        }
        for (name, group) in [("fit", &q.fit), ("engagement", &q.engagement)] {
            let _ = writeln!(out, "  {name}: {}", score_line(group));
        }
        for rule in &q.rules {
            let verdict = match &rule.result {
                Ok(true) => "TRUE ".to_string(),
                Ok(false) => "false".to_string(),
                Err(e) => format!("error ({e})"),
            };
            let _ = writeln!(out, "  [{verdict}] {:<24} → {}", rule.name, rule.tier);
            for (text, value) in &rule.parts {
                let _ = writeln!(out, "           {text} = {}", truncated(value));
            }
        }
        if let Some(d) = &self.would_demote {
            let _ = writeln!(
                out,
                "  would demote: {} → {} (rules {}; not applied: tiers never drop automatically)",
                d.from,
                d.to.map_or("unqualified", |t| t.as_str()),
                d.rules_version
            );
        }
    }

    /// The text shown by `leadsync explain`.
    pub fn render(&self) -> String {
        let p = &self.person;
        let mut out = String::new();
        let tier = p.tier.map_or("unqualified", |t| t.as_str());
        let _ = writeln!(out, "Person {} — {}", p.id, p.display_name());
        match p.side {
            Some(side) => {
                let _ = writeln!(out, "Tier: {tier}, now in side tier {side}");
            }
            None => {
                let _ = writeln!(out, "Tier: {tier}");
            }
        }
        match &self.decided_by {
            Some(Decision {
                by: "crm",
                connector: Some(c),
                locator: Some(l),
                ..
            }) => {
                let _ = writeln!(out, "Decided by: {c} {l} (its stage is the tier)");
            }
            Some(Decision { rule: Some(r), .. }) => {
                let _ = writeln!(out, "Decided by: the rules (rule {r})");
            }
            _ => {}
        }
        let _ = writeln!(out, "\nFields (value ← source, observed at)");
        for (field, values) in &p.fields {
            for v in values {
                let from = p.source_of(v);
                let _ = writeln!(
                    out,
                    "  {:<18} {:<32} ← {}: {}, {}",
                    field.as_str(),
                    shown(field, &v.value),
                    from.connector,
                    from.locator,
                    from.observed_at.format("%Y-%m-%d %H:%M UTC")
                );
            }
        }
        self.render_rules(&mut out);
        let _ = writeln!(out, "\nTier history");
        if self.history.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for h in &self.history {
            let from = h.from.map_or("—", |t| t.as_str());
            let evidence: Vec<String> =
                h.evidence.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(
                out,
                "  {}  {from} → {}  rule {} (rules {})  {}",
                h.at.format("%Y-%m-%d %H:%M UTC"),
                h.to,
                h.rule,
                h.rules_version,
                evidence.join(", ")
            );
        }
        if !self.follow_up.is_empty() {
            let _ = writeln!(out, "\nFollow-up commitments");
        }
        let when = |t: Option<DateTime<Utc>>| {
            t.map_or_else(
                || "—".to_string(),
                |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
        };
        for c in &self.follow_up {
            let by =
                c.by.map_or(String::new(), |e| format!(" by {}", e.as_str()));
            let _ = writeln!(
                out,
                "  {}: reached {} {}, due {} ({}), followed up {}{by}: {}",
                c.sla,
                c.tier,
                when(Some(c.reached_at)),
                when(c.due_at),
                c.within,
                when(c.followed_up_at),
                c.state.as_str()
            );
        }
        let _ = writeln!(out, "\nSource records ({})", self.records.len());
        for r in &self.records {
            let values: Vec<String> = r
                .values
                .iter()
                .map(|(f, v)| format!("{f}={}", shown(f, v)))
                .collect();
            let archived = if r.archived { " [archived]" } else { "" };
            let _ = writeln!(
                out,
                "  {}: {}{archived}  {}",
                r.connector,
                r.locator,
                values.join(", ")
            );
        }
        if !self.pushes.is_empty() {
            let _ = writeln!(out, "\nStage pushes");
            for p in &self.pushes {
                let reason = p
                    .reason
                    .as_deref()
                    .map(|r| format!(" — {r}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {} record {}: {} {} (attempts {}){reason}",
                    p.connector, p.record_id, p.tier, p.status, p.attempts
                );
            }
        }
        if !self.merged.is_empty() {
            let _ = writeln!(out, "\nMerged into this person ({})", self.merged.len());
            for m in &self.merged {
                let _ = writeln!(
                    out,
                    "  person {} ({}), {}:",
                    m.person,
                    m.how,
                    m.at.format("%Y-%m-%d %H:%M")
                );
                for line in field_scores(&m.detail) {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        if !self.conflicts.is_empty() {
            let _ = writeln!(
                out,
                "\nOpen conflicts ({}) — review: these were NOT merged",
                self.conflicts.len()
            );
            for c in &self.conflicts {
                let _ = writeln!(out, "  {} {}: {}", c.connector, c.locator, c.reason);
            }
        }
        out
    }
}

/// A match score's fields as text lines, one per compared field: its level and weight.
pub fn field_scores(detail: &serde_json::Value) -> Vec<String> {
    detail["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let level = match f["level"].as_u64() {
                Some(l) => format!("level {l}"),
                None => "missing".into(),
            };
            format!(
                "    {:<16} {:<9} weight {:+.2}",
                f["field"].as_str().unwrap_or("?"),
                level,
                f["weight"].as_f64().unwrap_or(0.0)
            )
        })
        .collect()
}

/// Longer values are cut in the text (the JSON keeps them whole): a pasted document in a cell
/// would otherwise fill the terminal, twice.
const SHOWN_CHARS: usize = 200;

/// A value as the text shows it: times CRMs send as epoch milliseconds (or seconds) as a UTC
/// date-time, long values cut.
fn shown(field: &Field, value: &str) -> String {
    if matches!(field, Field::CreatedAt | Field::LastActivityAt)
        && let Some(at) = epoch_time(value)
    {
        return format!("{} ({value})", at.format("%Y-%m-%d %H:%M:%S UTC"));
    }
    truncated(value)
}

/// Epoch milliseconds (13 digits) or seconds (10 digits), as HubSpot writes `createdate`.
fn epoch_time(value: &str) -> Option<DateTime<Utc>> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = value.parse().ok()?;
    match value.len() {
        13 => DateTime::from_timestamp_millis(n),
        10 => DateTime::from_timestamp(n, 0),
        _ => None,
    }
}

fn truncated(value: &str) -> String {
    let chars = value.chars().count();
    if chars <= SHOWN_CHARS {
        return value.to_string();
    }
    let head: String = value.chars().take(SHOWN_CHARS).collect();
    format!(
        "{head}… ({} chars, truncated; --json shows it whole)",
        crate::model::number::group(chars as u64)
    )
}

fn score_line(group: &GroupScore) -> String {
    let hits: Vec<String> = group
        .items
        .iter()
        .map(|i| {
            let mark = match &i.result {
                Ok(true) => "+",
                Ok(false) => " ",
                Err(_) => "!",
            };
            format!("{mark}{} {}", i.points, i.name)
        })
        .collect();
    let cap = group.cap.map_or(String::new(), |c| format!(", cap {c}"));
    format!(
        "{} (raw {}{cap}, decay ×{:.2}) [{}]",
        group.total,
        group.raw,
        group.decay,
        hits.join(", ")
    )
}
