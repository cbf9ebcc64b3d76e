//! The tier state machine: the tier is the highest tier whose rules hold, never below the
//! highest stage a linked CRM reports, and never lowered automatically.

use super::engine::Answer;
use crate::model::{Demotion, Person, TierChange};
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Field, Tier};
use std::collections::BTreeMap;

/// The rule name recorded when a CRM's stage, not a rule, sets the tier.
pub const CRM_STAGE_RULE: &str = "crm_stage";

/// What qualifying a person decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The tier the rules and the CRM floor ask for (`None`: unqualified).
    pub desired: Option<Tier>,
    /// A rise, to record (and push).
    pub change: Option<TierChange>,
    /// The side tier the person is in from now on (`None`: on the main ladder).
    pub side: Option<Tier>,
    /// A move into, out of or between side tiers, to record (never pushed).
    pub side_change: Option<TierChange>,
    /// A fall the rules ask for but that is not applied.
    pub demotion: Option<Demotion>,
}

/// Decides the person's tier from the rules' answer (`Evaluator::tier_of`: the highest tier
/// whose rule holds, the rule, its evidence), without changing anything.
pub fn decide(person: &Person, answer: Answer, version: &str, now: DateTime<Utc>) -> Decision {
    let Answer {
        tier,
        evidence: rule_evidence,
        side,
    } = answer;
    let floor = person.crm_tier();
    let (desired, rule, evidence) = match (tier, floor) {
        // A rule at or above the CRM's stage decides (and says why).
        (Some((t, rule)), f) if f.is_none_or(|f| t >= f) => (Some(t), rule, rule_evidence),
        // Otherwise the CRM's stage is the floor.
        (_, Some(f)) => {
            let stage = person.get(&Field::CrmStage).unwrap_or_default().to_string();
            let evidence = BTreeMap::from([("crm_stage".to_string(), stage)]);
            (Some(f), CRM_STAGE_RULE.to_string(), evidence)
        }
        (_, None) => (None, String::new(), BTreeMap::new()),
    };
    let mut decision = Decision {
        desired,
        change: None,
        side: None,
        side_change: None,
        demotion: None,
    };
    match (person.tier, desired) {
        (current, Some(to)) if current < Some(to) => {
            decision.change = Some(TierChange {
                person: person.id,
                from: current,
                to,
                rule,
                rules_version: version.to_string(),
                evidence,
                at: now,
            });
        }
        (Some(current), to) if to < Some(current) => {
            decision.demotion = Some(Demotion {
                from: current,
                to,
                rules_version: version.to_string(),
                at: now,
            });
        }
        _ => {}
    }
    // A side tier: the first whose rule holds, else one a CRM states; the main tier stays.
    let (side, rule, evidence) = match side {
        Some((t, rule, evidence)) => (Some(t), rule, evidence),
        None => match person.crm_side() {
            Some(t) => {
                let stated = [Field::CrmStage, Field::LeadStatus]
                    .iter()
                    .filter_map(|f| Some((f.as_str().to_string(), person.get(f)?.to_string())))
                    .collect();
                (Some(t), CRM_STAGE_RULE.to_string(), stated)
            }
            None => (None, String::new(), BTreeMap::new()),
        },
    };
    decision.side = side;
    if side != person.side {
        let main = decision.change.as_ref().map(|c| c.to).or(person.tier);
        // Into a side tier from where the person stands; out of one back to the main tier
        // (a person with no main tier leaves no step to record).
        let (from, to, rule, evidence) = match side {
            Some(to) => (person.side.or(main), Some(to), rule, evidence),
            None => (
                person.side,
                main,
                "left_side_tier".to_string(),
                BTreeMap::new(),
            ),
        };
        decision.side_change = to.map(|to| TierChange {
            person: person.id,
            from,
            to,
            rule,
            rules_version: version.to_string(),
            evidence,
            at: now,
        });
    }
    decision
}

/// Applies a decision to the person: the tier rises, a would-demote finding is kept (or
/// cleared), and the rules version that qualified them is remembered.
pub fn apply(person: &mut Person, decision: &Decision, version: &str) {
    if let Some(change) = &decision.change {
        person.tier = Some(change.to);
    }
    person.side = decision.side;
    person.demotion = decision.demotion.clone();
    person.rules_version = Some(version.to_string());
}
