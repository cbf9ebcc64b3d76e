//! Qualification: the rules file (CEL conditions, scoring), the facts rules see, and the tier
//! state machine. Rules compile once at load; an invalid condition is reported with the rule's
//! name and position, and nothing runs with it.

mod compile;
mod engine;
pub mod facts;
mod file;
mod state;

pub use compile::CompileError;
pub use engine::{
    Evaluation, Evaluator, GroupScore, PointsOutcome, RuleOutcome, Rules, RulesError,
};
pub use file::{DEFAULT_RULES, RulesFile, RulesSource};
pub use state::{CRM_STAGE_RULE, Decision, apply, decide};

use crate::model::Person;
use chrono::{DateTime, Utc};

/// Evaluates and applies in one step; returns the decision (its change is to be recorded).
pub fn qualify(
    person: &mut Person,
    evaluator: &Evaluator<'_>,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Decision {
    let eval = evaluator.evaluate(person, now, false);
    let decision = decide(person, &eval, &rules.version, now);
    apply(person, &decision, &rules.version);
    decision
}

#[cfg(test)]
mod tests;
