//! Qualification: the rules file (CEL conditions, scoring), the facts rules see, and the tier
//! state machine. Rules compile once at load; an invalid condition is reported with the rule's
//! name and position, and nothing runs with it.

pub mod calendar;
mod compile;
mod engine;
pub mod facts;
mod file;
pub mod follow_up;
mod native;
mod state;

pub use compile::CompileError;
pub use engine::{
    Answer, Evaluation, Evaluator, GroupScore, PointsOutcome, RuleOutcome, Rules, RulesError,
};
pub use file::{DEFAULT_RULES, RulesFile, RulesSource};
pub use follow_up::{Clock, ClockState, FollowUp};
pub use state::{CRM_STAGE_RULE, Decision, apply, decide};

use crate::model::Person;
use chrono::{DateTime, Utc};

/// Decides many persons at once, on two threads for large batches (each thread has its own
/// evaluator; CEL contexts are not shared).
pub fn decide_all(persons: &[Person], rules: &Rules, now: DateTime<Utc>) -> Vec<Decision> {
    let one = |batch: &[Person]| -> Vec<Decision> {
        let evaluator = rules.evaluator();
        batch
            .iter()
            .map(|p| decide(p, evaluator.tier_of(p, now), &rules.version, now))
            .collect()
    };
    if persons.len() < 64 {
        return one(persons);
    }
    let (a, b) = persons.split_at(persons.len() / 2);
    std::thread::scope(|s| {
        let first = s.spawn(|| one(a));
        let mut second = one(b);
        let mut all = first.join().expect("deciding never panics");
        all.append(&mut second);
        all
    })
}

/// Evaluates and applies in one step; returns the decision (its change is to be recorded).
pub fn qualify(
    person: &mut Person,
    evaluator: &Evaluator<'_>,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Decision {
    let decision = decide(person, evaluator.tier_of(person, now), &rules.version, now);
    apply(person, &decision, &rules.version);
    decision
}

#[cfg(test)]
mod native_tests;
#[cfg(test)]
mod tests;
