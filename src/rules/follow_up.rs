//! Follow-up commitments between the tiers: a person who reaches a tier is followed up within a
//! time, on the business calendar, shown by evidence the CRMs and drops carry. Pure: a person,
//! when their history first reached each tier, and now in; each commitment's clock out.

use super::calendar::{BusinessHoursConfig, Calendar, Within};
use crate::model::Person;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use leadsync_connector_core::{Field, Ladder, Tier};
use serde::{Deserialize, Serialize};

/// `[follow_up]` as the rules file states it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FollowUpConfig {
    #[serde(default)]
    pub business_hours: BusinessHoursConfig,
    /// The custom field holding a person's owner: `report sla --by owner` and the
    /// `owner_assigned` evidence read it.
    #[serde(default = "default_owner_field")]
    pub owner_field: String,
    /// Lead statuses that show someone worked the lead (compared lower-case with `_` for
    /// spaces): the `lead_status` evidence.
    #[serde(default = "default_worked")]
    pub worked_statuses: Vec<String>,
    /// Custom fields holding a last-contacted time, read besides `last_activity_at` by the
    /// `last_contacted` evidence (HubSpot's `notes_last_contacted`, pulled through the
    /// connector's `properties`).
    #[serde(default = "default_contacted")]
    pub last_contacted_fields: Vec<String>,
    /// `[[follow_up.sla]]`
    #[serde(default)]
    pub sla: Vec<SlaDef>,
}

fn default_contacted() -> Vec<String> {
    vec!["notes_last_contacted".into()]
}

fn default_owner_field() -> String {
    "owner".into()
}

fn default_worked() -> Vec<String> {
    [
        "in_progress",
        "attempted_to_contact",
        "connected",
        "open_deal",
        "working",
        "contacted",
    ]
    .map(String::from)
    .to_vec()
}

/// One commitment: `{ name, tier, within, evidence }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlaDef {
    pub name: String,
    /// Reaching this tier starts the clock.
    pub tier: String,
    /// `2 business days`, `4 business hours`, `24 hours`, `3 days`.
    pub within: String,
    /// What counts as a follow-up; all four when absent.
    #[serde(default)]
    pub evidence: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
}

/// What shows a person was followed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The person reached the next tier of the ladder.
    NextTier,
    /// A last-contacted (last activity) date at or after the tier was reached.
    LastContacted,
    /// A worked lead status, seen at or after the tier was reached.
    LeadStatus,
    /// An owner, assigned (seen first) at or after the tier was reached.
    OwnerAssigned,
}

impl Evidence {
    const ALL: [Evidence; 4] = [
        Evidence::OwnerAssigned,
        Evidence::LeadStatus,
        Evidence::LastContacted,
        Evidence::NextTier,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::NextTier => "next_tier",
            Evidence::LastContacted => "last_contacted",
            Evidence::LeadStatus => "lead_status",
            Evidence::OwnerAssigned => "owner_assigned",
        }
    }
}

/// One compiled commitment.
#[derive(Debug, Clone, PartialEq)]
pub struct Sla {
    pub name: String,
    pub tier: Tier,
    pub within: Within,
    /// As written (`2 business days`), for reports.
    pub within_text: String,
    pub evidence: Vec<Evidence>,
}

/// The file's commitments and the calendar they run on.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUp {
    pub calendar: Calendar,
    pub owner_field: Field,
    pub worked_statuses: Vec<String>,
    /// `last_activity_at`, then the configured last-contacted fields.
    pub contacted_fields: Vec<Field>,
    pub slas: Vec<Sla>,
}

impl FollowUp {
    /// Compiles `[follow_up]` against the current ladder.
    pub fn new(c: &FollowUpConfig) -> Result<FollowUp, String> {
        let calendar = Calendar::new(&c.business_hours)
            .map_err(|e| format!("[follow_up.business_hours] {e}"))?;
        let mut slas = Vec::new();
        for d in &c.sla {
            let at = |e: String| format!("[[follow_up.sla]] `{}`: {e}", d.name);
            if slas.iter().any(|s: &Sla| s.name == d.name) {
                return Err(at("defined twice".into()));
            }
            let tier: Tier = d
                .tier
                .parse()
                .map_err(|e: leadsync_connector_core::TierParseError| at(e.to_string()))?;
            if tier.is_side() {
                return Err(at(format!(
                    "`{tier}` is a side tier; a commitment starts at a tier of the main ladder"
                )));
            }
            let within: Within = d.within.parse().map_err(at)?;
            let evidence = match &d.evidence {
                None => Evidence::ALL.to_vec(),
                Some(names) => names
                    .iter()
                    .map(|n| {
                        Evidence::ALL.into_iter().find(|e| e.as_str() == n).ok_or_else(|| {
                            at(format!(
                                "evidence `{n}` is not one of owner_assigned, lead_status, last_contacted, next_tier"
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            };
            slas.push(Sla {
                name: d.name.clone(),
                tier,
                within,
                within_text: d.within.clone(),
                evidence,
            });
        }
        Ok(FollowUp {
            calendar,
            owner_field: Field::Custom(c.owner_field.clone()),
            worked_statuses: c.worked_statuses.iter().map(|s| status_key(s)).collect(),
            contacted_fields: std::iter::once(Field::LastActivityAt)
                .chain(
                    c.last_contacted_fields
                        .iter()
                        .map(|f| Field::Custom(f.clone())),
                )
                .collect(),
            slas,
        })
    }

    /// The clock of every commitment whose tier the person reached. `reached` is when the
    /// person first reached each tier of the ladder, indexed like its tiers
    /// ([`crate::report::reached_at`]).
    pub fn clocks(
        &self,
        person: &Person,
        reached: &[Option<DateTime<Utc>>],
        now: DateTime<Utc>,
    ) -> Vec<Clock> {
        let ladder = Ladder::current();
        let index = |t: Tier| ladder.tiers().position(|u| u == t);
        let mut out = Vec::new();
        for sla in &self.slas {
            let Some(Some(started)) = index(sla.tier).map(|i| reached.get(i).copied().flatten())
            else {
                continue;
            };
            let deadline = sla.within.deadline(&self.calendar, started);
            let followed = sla
                .evidence
                .iter()
                .filter_map(|e| {
                    let at = match e {
                        Evidence::NextTier => sla
                            .tier
                            .next()
                            .and_then(index)
                            .and_then(|i| reached.get(i).copied().flatten()),
                        Evidence::LastContacted => self
                            .contacted_fields
                            .iter()
                            .filter_map(|f| person.get(f).and_then(parse_time))
                            .filter(|at| *at >= started)
                            .min(),
                        Evidence::LeadStatus => seen_at(person, &Field::LeadStatus)
                            .filter(|(v, _)| self.worked_statuses.contains(&status_key(v)))
                            .map(|(_, at)| at),
                        Evidence::OwnerAssigned => seen_at(person, &self.owner_field)
                            .filter(|(v, _)| !v.trim().is_empty())
                            .map(|(_, at)| at),
                    }?;
                    (at >= started).then_some((at, *e))
                })
                .min_by_key(|(at, _)| *at);
            let state = match (followed, deadline) {
                (Some((at, _)), Some(due)) if at <= due => ClockState::InTime,
                (Some(_), _) => ClockState::Late,
                (None, Some(due)) if now <= due => ClockState::Waiting,
                (None, _) => ClockState::Overdue,
            };
            out.push(Clock {
                sla: sla.name.clone(),
                tier: sla.tier,
                within: sla.within_text.clone(),
                reached_at: started,
                due_at: deadline,
                followed_up_at: followed.map(|(at, _)| at),
                by: followed.map(|(_, e)| e),
                business_hours: followed.map(|(at, _)| hours(self.calendar.between(started, at))),
                state,
            });
        }
        out
    }

    /// The person's owner, if any.
    pub fn owner<'p>(&self, person: &'p Person) -> Option<&'p str> {
        person
            .get(&self.owner_field)
            .filter(|v| !v.trim().is_empty())
    }
}

/// One commitment's clock for one person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clock {
    pub sla: String,
    pub tier: Tier,
    pub within: String,
    /// When the person first reached the tier: the clock started.
    pub reached_at: DateTime<Utc>,
    /// `null` when the calendar gives no deadline within ten years.
    pub due_at: Option<DateTime<Utc>>,
    pub followed_up_at: Option<DateTime<Utc>>,
    /// The evidence that showed the follow-up.
    pub by: Option<Evidence>,
    /// Business hours from reaching the tier to the follow-up.
    pub business_hours: Option<f64>,
    pub state: ClockState,
}

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Followed up by the deadline.
    InTime,
    /// Followed up after it.
    Late,
    /// Not followed up; the deadline is still ahead.
    Waiting,
    /// Not followed up, and the deadline has passed.
    Overdue,
}

impl ClockState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::InTime => "in time",
            ClockState::Late => "late",
            ClockState::Waiting => "waiting",
            ClockState::Overdue => "overdue",
        }
    }
}

/// Hours, to 0.1.
fn hours(d: Duration) -> f64 {
    (d.num_seconds() as f64 / 360.0).round() / 10.0
}

/// A value of a field and when its source record was observed.
fn seen_at<'p>(person: &'p Person, field: &Field) -> Option<(&'p str, DateTime<Utc>)> {
    let value = person.fields.get(field)?.first()?;
    Some((&value.value, person.source_of(value).observed_at))
}

/// A lead status as compared: lower-case, `_` for spaces and dashes.
fn status_key(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

/// A stored time value: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` (UTC), a date (its midnight, UTC), or
/// milliseconds since 1970 (as HubSpot's API states times).
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.len() >= 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        return DateTime::from_timestamp_millis(s.parse().ok()?);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        })
}
