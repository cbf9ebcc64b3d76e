//! Compiled rules, and evaluating them for one person.

use super::compile::{CompileError, Condition, render};
use super::facts::{self, FactSettings, FactValue, Facts, cel_value};
use super::file::{PointsDef, RuleDef, RulesFile, RulesSource, ScoreGroup};
use super::native::{Const, Constants, is_yes};
use crate::model::Person;
use cel::common::types::{CelMap, CelMapKey, CelString};
use cel::{Context, FunctionContext, Value};
use chrono::{DateTime, Utc};
use leadsync_connector_core::Tier;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

/// Rules that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesError {
    /// The file cannot be read or is not valid TOML of the expected shape.
    File(String),
    /// One or more conditions do not compile.
    Conditions {
        file: String,
        errors: Vec<CompileError>,
    },
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesError::File(m) => f.write_str(m),
            RulesError::Conditions { file, errors } => {
                write!(f, "{file}: {} invalid condition(s)", errors.len())?;
                for e in errors {
                    write!(f, "\n  {}", e.to_string().replace('\n', "\n  "))?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for RulesError {}

/// The compiled rules: immutable, shared between threads; evaluate through an [`Evaluator`].
pub struct Rules {
    pub source: RulesSource,
    /// Content hash of the rules text, recorded with every tier change.
    pub version: String,
    pub file: RulesFile,
    /// Rules of the main ladder's tiers: highest tier first, file order within a tier.
    tiers: Vec<(RuleDef, Condition)>,
    /// Rules of side tiers, in file order.
    sides: Vec<(RuleDef, Condition)>,
    fit: Vec<(PointsDef, Condition)>,
    engagement: Vec<(PointsDef, Condition)>,
    /// `[follow_up]`, compiled; `None` without one.
    pub follow_up: Option<super::follow_up::FollowUp>,
    /// The thresholds and lists as values, for each evaluator's facts.
    constants: Constants,
}

/// One rule's result for one person.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleOutcome {
    pub name: String,
    pub tier: Tier,
    /// `Err` when the condition could not be evaluated for this person (counts as false).
    pub result: Result<bool, String>,
    /// Sub-expressions and their values (only when asked for detail).
    pub parts: Vec<(String, String)>,
}

/// One scoring item's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PointsOutcome {
    pub name: String,
    pub points: i64,
    pub result: Result<bool, String>,
}

/// A score group's breakdown.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GroupScore {
    pub items: Vec<PointsOutcome>,
    /// Sum of the points of the items that hold.
    pub raw: i64,
    pub cap: Option<i64>,
    /// Multiplier from inactivity decay (1 without decay).
    pub decay: f64,
    /// min(raw, cap) × decay, rounded.
    pub total: i64,
}

/// What the tier rules answer for one person.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    /// The highest tier of the main ladder whose rule holds, and the rule.
    pub tier: Option<(Tier, String)>,
    /// The values that made that rule true.
    pub evidence: BTreeMap<String, String>,
    /// The first side tier whose rule holds (file order), the rule and its evidence.
    pub side: Option<(Tier, String, BTreeMap<String, String>)>,
}

/// Everything the rules say about one person.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evaluation {
    pub fit: GroupScore,
    pub engagement: GroupScore,
    pub score: i64,
    pub temperature: String,
    /// The highest tier whose rules hold, and the rule.
    pub tier: Option<(Tier, String)>,
    /// The values that made that rule true.
    pub evidence: BTreeMap<String, String>,
    /// The first side tier whose rule holds, and the rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<(Tier, String)>,
    /// Tier rules evaluated (all of them with detail; else from the top down to the first true).
    pub rules: Vec<RuleOutcome>,
}

impl Rules {
    /// Reads, parses and compiles the rules; every invalid condition is reported, not only the
    /// first.
    ///
    /// The file's ladder becomes the process's current one ([`leadsync_connector_core::Ladder::install`]).
    pub fn load(source: RulesSource) -> Result<Rules, RulesError> {
        source
            .ladder()
            .map_err(RulesError::File)?
            .install()
            .map_err(|e| RulesError::File(format!("{}: {e}", source.name())))?;
        let file = source.parse().map_err(RulesError::File)?;
        let version = source.version();
        let constants = Constants::of(&file);
        let settings = settings(&file, &constants);
        let samples = [
            Facts::sample(true, &settings),
            Facts::sample(false, &settings),
        ];
        let root = root_context();
        let mut errors = Vec::new();
        let mut compile = |name: &str, when: &str, scores: bool| {
            Condition::compile(name, when, scores, &root, &samples, &constants)
                .map_err(|e| errors.push(e))
                .ok()
        };
        let mut names = std::collections::HashSet::new();
        let mut tiers = Vec::new();
        for rule in &file.rules {
            if !names.insert(rule.name.clone()) {
                return Err(RulesError::File(format!(
                    "{}: rule `{}` is defined twice",
                    source.name(),
                    rule.name
                )));
            }
            if let Some(c) = compile(&rule.name, &rule.when, true) {
                tiers.push((rule.clone(), c));
            }
        }
        let mut group = |g: &ScoreGroup| -> Vec<(PointsDef, Condition)> {
            g.points
                .iter()
                .filter_map(|p| Some((p.clone(), compile(&p.name, &p.when, false)?)))
                .collect()
        };
        let fit = group(&file.scoring.fit);
        let engagement = group(&file.scoring.engagement);
        if !errors.is_empty() {
            for e in &mut errors {
                e.locate_in(&source.text);
            }
            return Err(RulesError::Conditions {
                file: source.name(),
                errors,
            });
        }
        if file.rules.is_empty() {
            // Nobody would ever get a tier: surely a truncated or wrong file.
            return Err(RulesError::File(format!(
                "{}: no tier rules; add at least one [[rules]] table with name, tier and when (config/rules.toml shows the default ones)",
                source.name()
            )));
        }
        let follow_up = file
            .follow_up
            .as_ref()
            .map(super::follow_up::FollowUp::new)
            .transpose()
            .map_err(|e| RulesError::File(format!("{}: {e}", source.name())))?;
        let (sides, mut tiers): (Vec<_>, Vec<_>) =
            tiers.into_iter().partition(|(rule, _)| rule.tier.is_side());
        tiers.sort_by_key(|(rule, _)| std::cmp::Reverse(rule.tier));
        Ok(Rules {
            source,
            version,
            file,
            tiers,
            sides,
            fit,
            engagement,
            follow_up,
            constants,
        })
    }

    /// An evaluator for this thread (CEL contexts are not shared between threads).
    pub fn evaluator(&self) -> Evaluator<'_> {
        Evaluator {
            rules: self,
            root: root_context(),
            settings: settings(&self.file, &self.constants),
        }
    }

    /// The follow-up commitments, when the file has any.
    pub fn commitments(&self) -> Option<&super::follow_up::FollowUp> {
        self.follow_up.as_ref().filter(|f| !f.slas.is_empty())
    }

    /// The tier rules, highest tier first.
    pub fn tier_rules(&self) -> impl Iterator<Item = &RuleDef> {
        self.tiers.iter().chain(&self.sides).map(|(r, _)| r)
    }
}

/// Evaluates rules for persons, one at a time, on one thread.
pub struct Evaluator<'r> {
    rules: &'r Rules,
    root: Context<'static, 'static>,
    settings: FactSettings,
}

impl Evaluator<'_> {
    /// Scores and tier rules for `person` at `now`. With `detail`, every tier rule is evaluated
    /// and broken into its parts (for `explain`); without, evaluation stops at the first tier
    /// rule that holds, from the top.
    pub fn evaluate(&self, person: &Person, now: DateTime<Utc>, detail: bool) -> Evaluation {
        let mut facts = Facts::of(person, now, &self.settings);
        let days = days_since_activity(&facts);
        let fit = self.score(&self.rules.fit, &self.rules.file.scoring.fit, &facts, days);
        let engagement = self.score(
            &self.rules.engagement,
            &self.rules.file.scoring.engagement,
            &facts,
            days,
        );
        let score = set_scores(&mut facts, fit.total, engagement.total);

        let mut rules = Vec::new();
        let mut tier = None;
        let mut evidence = BTreeMap::new();
        for (def, cond) in &self.rules.tiers {
            if tier.is_some() && !detail {
                break;
            }
            let result = cond.holds(&facts, &self.root);
            if result == Ok(true) && tier.is_none() {
                tier = Some((def.tier, def.name.clone()));
                evidence = evidence_of(cond, &facts);
            }
            let parts = if detail {
                let mut ctx = self.root.new_inner_scope();
                ctx.set_variable_resolver(&facts);
                cond.parts(&ctx)
            } else {
                Vec::new()
            };
            rules.push(RuleOutcome {
                name: def.name.clone(),
                tier: def.tier,
                result,
                parts,
            });
        }
        let mut side = None;
        for (def, cond) in &self.rules.sides {
            let result = cond.holds(&facts, &self.root);
            if result == Ok(true) && side.is_none() {
                side = Some((def.tier, def.name.clone()));
            }
            if detail {
                let mut ctx = self.root.new_inner_scope();
                ctx.set_variable_resolver(&facts);
                rules.push(RuleOutcome {
                    name: def.name.clone(),
                    tier: def.tier,
                    result,
                    parts: cond.parts(&ctx),
                });
            }
        }
        let temperature = facts.values[facts::TEMPERATURE].render();
        Evaluation {
            fit,
            engagement,
            score,
            temperature,
            tier,
            evidence,
            side,
            rules,
        }
    }

    fn score(
        &self,
        items: &[(PointsDef, Condition)],
        group: &ScoreGroup,
        facts: &Facts,
        days: i64,
    ) -> GroupScore {
        let items: Vec<PointsOutcome> = items
            .iter()
            .map(|(def, cond)| PointsOutcome {
                name: def.name.clone(),
                points: def.points,
                result: cond.holds(facts, &self.root),
            })
            .collect();
        let raw: i64 = items
            .iter()
            .filter(|i| i.result == Ok(true))
            .map(|i| i.points)
            .sum();
        let (cap, decay, total) = capped(group, raw, days);
        GroupScore {
            items,
            raw,
            cap,
            decay,
            total,
        }
    }

    /// What qualifying needs and no more: the highest tier whose rule holds, with that rule's
    /// name and evidence. The same answer as `evaluate(person, now, false)` gives in `tier` and
    /// `evidence`, without the score and rule breakdown kept for `explain`.
    pub fn tier_of(&self, person: &Person, now: DateTime<Utc>) -> Answer {
        let mut facts = Facts::of(person, now, &self.settings);
        let days = days_since_activity(&facts);
        let total = |items: &[(PointsDef, Condition)], group: &ScoreGroup| {
            let raw: i64 = items
                .iter()
                .filter(|(_, cond)| cond.holds(&facts, &self.root) == Ok(true))
                .map(|(def, _)| def.points)
                .sum();
            capped(group, raw, days).2
        };
        let fit = total(&self.rules.fit, &self.rules.file.scoring.fit);
        let engagement = total(&self.rules.engagement, &self.rules.file.scoring.engagement);
        set_scores(&mut facts, fit, engagement);
        let mut answer = Answer::default();
        if let Some((def, cond)) = self
            .rules
            .tiers
            .iter()
            .find(|(_, cond)| cond.holds(&facts, &self.root) == Ok(true))
        {
            answer.tier = Some((def.tier, def.name.clone()));
            answer.evidence = evidence_of(cond, &facts);
        }
        answer.side = self
            .rules
            .sides
            .iter()
            .find(|(_, cond)| cond.holds(&facts, &self.root) == Ok(true))
            .map(|(def, cond)| (def.tier, def.name.clone(), evidence_of(cond, &facts)));
        answer
    }
}

fn days_since_activity(facts: &Facts) -> i64 {
    match facts.values[facts::DAYS_SINCE_LAST_ACTIVITY] {
        FactValue::Int(d) => d,
        _ => 0,
    }
}

/// Sets the score facts; returns the score.
fn set_scores(facts: &mut Facts, fit: i64, engagement: i64) -> i64 {
    facts.values[facts::FIT_SCORE] = FactValue::Int(fit);
    facts.values[facts::ENGAGEMENT_SCORE] = FactValue::Int(engagement);
    facts.values[facts::SCORE] = FactValue::Int(fit + engagement);
    fit + engagement
}

/// A group's cap, its inactivity decay, and its total: min(raw, cap) × decay, rounded.
fn capped(group: &ScoreGroup, raw: i64, days: i64) -> (Option<i64>, f64, i64) {
    let cap = group.cap.map(i64::from);
    let decay = group
        .decay_days
        .filter(|d| *d > 0)
        .map_or(1.0, |d| (1.0 - days as f64 / f64::from(d)).clamp(0.0, 1.0));
    let total = (cap.map_or(raw, |c| raw.min(c)) as f64 * decay).round() as i64;
    (cap, decay, total)
}

/// The values of the facts a rule reads (maps left out), rendered.
fn evidence_of(cond: &Condition, facts: &Facts) -> BTreeMap<String, String> {
    cond.facts
        .iter()
        .filter_map(|name| {
            let v = facts.get(name).filter(|v| !matches!(v, FactValue::Map))?;
            Some((name.clone(), v.render()))
        })
        .collect()
}

pub(super) fn settings(file: &RulesFile, constants: &Constants) -> FactSettings {
    let value = |c: &Const| match c {
        Const::Bool(b) => Value::Bool(*b),
        Const::Int(i) => Value::Int(*i),
        Const::UInt(u) => Value::UInt(*u),
        Const::Double(d) => Value::Float(*d),
        Const::Str(s) => Value::String(Arc::new(s.clone())),
    };
    let thresholds: HashMap<String, Value> = constants
        .thresholds
        .iter()
        .map(|(k, v)| (k.clone(), value(v)))
        .collect();
    let lists: HashMap<String, Value> = constants
        .lists
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Value::List(Arc::new(v.iter().map(value).collect())),
            )
        })
        .collect();
    FactSettings {
        hot_days: file.temperature.hot_days,
        warm_days: file.temperature.warm_days,
        thresholds: cel_value(Value::from(thresholds)),
        lists: cel_value(Value::from(lists)),
    }
}

/// The functions conditions may call: CEL's standard library, its string extension
/// (`lowerAscii`, `split` …), and `field('name')` / `flag('name')` for custom fields.
pub(super) fn root_context() -> Context<'static, 'static> {
    let mut env = cel::Env::stdlib();
    env.add_extension(cel::extensions::strings)
        .expect("the string extension declares once");
    let mut ctx = Context::with_env(Arc::new(env));
    ctx.add_function("field", field)
        .expect("`field` is not a standard function");
    ctx.add_function("flag", flag)
        .expect("`flag` is not a standard function");
    ctx
}

fn custom_value(ftx: &FunctionContext, name: &str) -> Option<String> {
    let custom = ftx.ptx.get_variable("custom")?;
    let map = custom.as_ref().downcast_ref::<CelMap>()?;
    let value = map.get(&CelMapKey::from(name))?;
    Some(match value.downcast_ref::<CelString>() {
        Some(s) => s.inner().to_string(),
        None => render(&Value::try_from(value.as_ref()).ok()?),
    })
}

/// `field('budget')`: a custom field's text, or "" when the person has none.
fn field(ftx: &FunctionContext, name: Arc<String>) -> String {
    custom_value(ftx, &name).unwrap_or_default()
}

/// `flag('agreed_to_talk')`: whether a custom field says yes (true, yes, y, 1, x, checked).
fn flag(ftx: &FunctionContext, name: Arc<String>) -> bool {
    custom_value(ftx, &name).is_some_and(|v| is_yes(&v))
}
