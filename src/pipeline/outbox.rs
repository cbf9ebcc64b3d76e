//! Stage pushes. Planned into the outbox in the same transaction as the tier change that causes
//! them; drained by connector, in batches, after each cycle's pulls.
//!
//! A record is only ever asked for a higher stage than it reported: never downward (unless the
//! connector allows downgrades).

use super::connectors::{AnyConnector, PushTarget};
use crate::model::{Person, PersonId};
use crate::store::{Claim, Replica, Store, StoreError, StoreTx};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use leadsync_connector_core::{ConnectorError, Field, Locator, PushItem, PushOutcome, Stage, Tier};
use serde::Serialize;
use std::time::Duration;

/// Batches on their way at once (see [`drain`]). Four cover an answer time of up to about three
/// times the limiter's spacing (0.3 s at 100 requests / 10 s); the limiter still spaces the
/// requests. Measured against the fake with answers 30 ms late at 100 requests / s: 30% of the
/// budget one at a time, 91% with four (eight did no better).
pub const IN_FLIGHT: usize = 4;

/// Plans pushes for a person now at `tier`: every linked record of a pushing connector whose
/// stage is below it (or differs from it, where downgrades are allowed). A record already asked
/// for this tier is left as it is, unless the push was applied and the record reports a lower
/// stage since: then someone lowered it in the CRM, and it is asked again — or, where the
/// connector respects downgrades, the finding is kept instead.
pub fn plan(
    tx: &mut dyn StoreTx,
    targets: &[PushTarget],
    person: PersonId,
    tier: Tier,
) -> Result<u64, StoreError> {
    plan_all(tx, targets, &[(person, None, tier)])
}

/// [`plan`], for a person whose golden record is at hand (after a pull merged it): its CRM
/// stage, the highest a record reported, also tells which records held `tier` before they were
/// lowered, pushed by leadsync or not.
pub fn plan_with_golden(
    tx: &mut dyn StoreTx,
    targets: &[PushTarget],
    person: &Person,
    tier: Tier,
) -> Result<u64, StoreError> {
    plan_all(tx, targets, &[(person.id, Some(person), tier)])
}

/// [`plan`] for many persons at once, `(person, golden record if at hand, tier)`: each target's
/// records of all of them are read in one call and the pushes written in one, so a backend with
/// round trips (PostgreSQL) pays two per target, not two per person.
pub fn plan_all(
    tx: &mut dyn StoreTx,
    targets: &[PushTarget],
    wants: &[(PersonId, Option<&Person>, Tier)],
) -> Result<u64, StoreError> {
    let persons: Vec<PersonId> = wants.iter().map(|w| w.0).collect();
    let mut entries: Vec<(&str, String, PersonId, Tier)> = Vec::new();
    for target in targets {
        let mut records = tx.crm_records_of_many(&persons, &target.connector)?;
        for &(person, golden, tier) in wants {
            for (record_id, stage) in records.remove(&person).unwrap_or_default() {
                if wanted(
                    tx,
                    target,
                    person,
                    golden,
                    tier,
                    &record_id,
                    stage.as_deref(),
                )? {
                    entries.push((&target.connector, record_id, person, tier));
                }
            }
        }
    }
    let batch: Vec<(&str, &str, PersonId, Tier)> = entries
        .iter()
        .map(|(c, r, p, t)| (*c, r.as_str(), *p, *t))
        .collect();
    tx.plan_pushes(&batch)?;
    Ok(batch.len() as u64)
}

/// Whether a record reporting `stage` is to be asked for `tier`; records a kept downgrade (and
/// closes one no longer needed) on the way, where the target respects downgrades.
fn wanted(
    tx: &mut dyn StoreTx,
    target: &PushTarget,
    person: PersonId,
    golden: Option<&Person>,
    tier: Tier,
    record_id: &str,
    stage: Option<&str>,
) -> Result<bool, StoreError> {
    let reported = stage.and_then(|s| Stage::parse(s).tier());
    let wanted = match reported {
        None => true,
        Some(r) if target.allow_downgrade => r != tier,
        Some(r) => r < tier,
    };
    if target.respect_downgrades && !target.allow_downgrade {
        let lowered = match reported {
            Some(r) if r < tier => {
                golden.is_some_and(|p| held_by(p, target, record_id) >= Some(tier))
                    || lowered_below(tx, target, record_id, tier)?
            }
            _ => false,
        };
        if lowered {
            let reason = format!(
                "stage lowered in {} to `{}`, below {tier}: kept, not restored (respect_downgrades)",
                target.connector,
                stage.unwrap_or_default()
            );
            tx.keep_downgrade(&target.connector, record_id, person, tier, &reason)?;
            return Ok(false);
        }
        if !wanted {
            tx.close_kept(&target.connector, record_id)?;
        }
    }
    Ok(wanted)
}

/// Whether a record below `tier` held it before: leadsync set it there (or higher), or a
/// lowering of it is kept already.
fn lowered_below(
    tx: &mut dyn StoreTx,
    target: &PushTarget,
    record_id: &str,
    tier: Tier,
) -> Result<bool, StoreError> {
    Ok(matches!(
        tx.push_entry(&target.connector, record_id)?,
        Some((held, status)) if held >= tier && (status == "done" || status == "kept")
    ))
}

/// The highest stage the golden record keeps from this CRM record: what it reported before,
/// when it reports less now.
fn held_by(person: &Person, target: &PushTarget, record_id: &str) -> Option<Tier> {
    let locator = Locator::Crm {
        id: record_id.to_string(),
    }
    .to_string();
    person
        .fields
        .get(&Field::CrmStage)?
        .iter()
        .filter(|v| {
            let from = &person.sources[v.source as usize];
            from.connector == target.connector && from.locator == locator
        })
        .filter_map(|v| Stage::parse(&v.value).tier())
        .max()
}

/// Who claims outbox entries, and for how long: other replicas leave a claimed batch alone
/// until its claim expires (a replica that died with it in flight).
#[derive(Debug, Clone)]
pub struct Claimant {
    pub replica: Replica,
    pub ttl: Duration,
}

impl Claimant {
    /// How long a batch stays claimed unless told otherwise: far longer than a batch takes.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

    /// This process, alone or as one of several (`sync`, `push`).
    pub fn this_process() -> Claimant {
        Claimant {
            replica: Replica::this_process(None),
            ttl: Self::DEFAULT_TTL,
        }
    }
}

/// What one drain did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PushStats {
    pub applied: u64,
    pub retried: u64,
    pub dead: u64,
}

/// Pushes a connector's pending entries until none are left, a whole batch could only be
/// retried (rate limits, the daily budget, an outage), or `keep_going` says stop (asked before
/// each batch is sent): the rest waits for the next drain.
///
/// Up to [`IN_FLIGHT`] batches are on their way at once, each one request: one at a time, every
/// request would wait for the one before it to be answered, and a CRM that answers in a third of
/// a second would leave most of a 100-per-10-s budget unused. Each batch's outcomes are committed
/// as soon as it is answered; entries of a batch whose outcome is not committed (a stop, a
/// crash) are still pending and are sent again (a stage set is idempotent).
pub async fn drain(
    store: &mut dyn Store,
    connector: &AnyConnector,
    claimant: &Claimant,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<PushStats, DrainError> {
    let mut stats = PushStats::default();
    let mut in_flight = FuturesUnordered::new();
    // The last entry claimed: later batches are claimed above it, so an entry retried in this
    // drain waits for the next one.
    let mut claimed_up_to = 0;
    let mut feeding = true;
    loop {
        while feeding && in_flight.len() < IN_FLIGHT {
            if !keep_going() {
                feeding = false;
                break;
            }
            let claim = Claim::new(&claimant.replica, claimant.ttl);
            let claimed = store.claim_pushes(
                connector.id(),
                claimed_up_to,
                &claim,
                connector.push_batch(),
            )?;
            let Some(last) = claimed.last() else {
                feeding = false;
                break;
            };
            claimed_up_to = last.id;
            let items: Vec<PushItem> = claimed
                .iter()
                .map(|e| PushItem {
                    outbox_id: e.id,
                    record_id: e.record_id.clone(),
                    tier: e.tier,
                })
                .collect();
            in_flight.push(async move { (claim, connector.push(&items).await) });
        }
        let Some((claim, outcomes)) = in_flight.next().await else {
            return Ok(stats);
        };
        let outcomes = outcomes?;
        let mut results = Vec::with_capacity(outcomes.len());
        let mut batch = PushStats::default();
        for outcome in &outcomes {
            match outcome {
                PushOutcome::Applied { outbox_id } => {
                    batch.applied += 1;
                    results.push((*outbox_id, "done", None));
                }
                PushOutcome::Retry { outbox_id, reason } => {
                    batch.retried += 1;
                    results.push((*outbox_id, "pending", Some(reason.clone())));
                }
                PushOutcome::Failed { outbox_id, reason } => {
                    batch.dead += 1;
                    tracing::error!(
                        connector = connector.id(),
                        outbox_id,
                        reason,
                        "Stage push dead-lettered."
                    );
                    results.push((*outbox_id, "dead", Some(reason.clone())));
                }
            }
        }
        let recorded = store.complete_pushes(&claim, &results)?;
        if recorded < results.len() {
            tracing::warn!(
                connector = connector.id(),
                lost = results.len() - recorded,
                "Outcomes not recorded: their entries were planned again or claimed by another replica (the claim expired) while in flight; they are pushed again."
            );
        }
        tracing::info!(
            connector = connector.id(),
            applied = batch.applied,
            retried = batch.retried,
            dead = batch.dead,
            "Push batch answered."
        );
        stats.applied += batch.applied;
        stats.retried += batch.retried;
        stats.dead += batch.dead;
        if outcomes
            .iter()
            .all(|o| matches!(o, PushOutcome::Retry { .. }))
        {
            // Nothing more is sent; what is already on its way is answered and recorded.
            feeding = false;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}
