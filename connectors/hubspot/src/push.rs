//! Pushing desired stages with `batch/update`, 100 contacts a request, outcomes per item.
//!
//! HubSpot only moves a lifecycle stage forward: a backward set is answered with success and
//! ignored. With `allow_downgrade`, each batch first reads the current stages; contacts that must
//! move down are cleared (`""`) in one request and set in a separate, later one, and every
//! contact of the batch is read back, so only a stage that holds counts as applied.

use crate::client::Client;
use crate::config::HubspotConfig;
use crate::error::ApiError;
use crate::wire::BatchError;
use leadsync_connector_core::{Ladder, PushItem, PushOutcome, Stage, Tier};
use std::collections::HashMap;

/// The lifecycle stage value for a tier: a configured custom stage if one means this tier,
/// else HubSpot's standard internal name; a custom tier of the ladder with neither takes the
/// stage of the nearest tier below it that has one (its own name when none has).
pub(crate) fn stage_value(cfg: &HubspotConfig, tier: Tier) -> String {
    let ladder = Ladder::current();
    let below = ladder.tiers().rev().filter(|t| *t < tier);
    std::iter::once(tier)
        .chain(below)
        .find_map(|t| mapped_stage(cfg, t))
        .unwrap_or_else(|| tier.as_str().to_string())
}

fn mapped_stage(cfg: &HubspotConfig, tier: Tier) -> Option<String> {
    if let Some((name, _)) = cfg.stages.iter().find(|(_, t)| **t == tier) {
        return Some(name.clone());
    }
    let standard = match tier {
        Tier::SUBSCRIBER => "subscriber",
        Tier::LEAD => "lead",
        Tier::MQL => "marketingqualifiedlead",
        Tier::SQL => "salesqualifiedlead",
        Tier::OPPORTUNITY => "opportunity",
        Tier::CUSTOMER => "customer",
        _ => return None,
    };
    Some(standard.to_string())
}

/// 207 error categories that will fail the same way again.
fn permanent(category: &str) -> bool {
    matches!(
        category,
        "OBJECT_NOT_FOUND" | "VALIDATION_ERROR" | "PROPERTY_DOESNT_EXIST"
    ) || category.starts_with("INVALID")
}

pub(crate) async fn push(
    client: &Client,
    cfg: &HubspotConfig,
    items: &[PushItem],
) -> Vec<PushOutcome> {
    let mut outcomes = Vec::with_capacity(items.len());
    for chunk in items.chunks(100) {
        let result = if cfg.allow_downgrade {
            push_both_ways(client, cfg, chunk).await
        } else {
            set(client, cfg, chunk).await
        };
        match result {
            Ok(done) => outcomes.extend(done),
            Err(e) => outcomes.extend(failed(chunk, &e)),
        }
    }
    outcomes
}

/// One `batch/update` setting each item's stage.
async fn set(
    client: &Client,
    cfg: &HubspotConfig,
    chunk: &[PushItem],
) -> Result<Vec<PushOutcome>, ApiError> {
    let inputs: Vec<(String, String)> = chunk
        .iter()
        .map(|i| (i.record_id.clone(), stage_value(cfg, i.tier)))
        .collect();
    let errors = client.batch_update_stage(&inputs).await?;
    Ok(map_errors(chunk, &errors))
}

/// The whole chunk failed: the client already retried what can be retried; whatever is left
/// waits for the next drain, unless it will never work.
fn failed(chunk: &[PushItem], e: &ApiError) -> Vec<PushOutcome> {
    let reason = e.to_string();
    let permanent = e.is_permanent();
    chunk
        .iter()
        .map(|i| PushOutcome::unsent(i.outbox_id, reason.clone(), permanent))
        .collect()
}

/// What a stage value means as a tier: the configured `stages` first, then the standard names
/// (`None` for a custom stage nobody mapped).
fn tier_of(cfg: &HubspotConfig, value: &str) -> Option<Tier> {
    cfg.stages
        .get(value)
        .copied()
        .or_else(|| Stage::parse(value).tier())
}

/// Read, clear what must move down, set, read back.
async fn push_both_ways(
    client: &Client,
    cfg: &HubspotConfig,
    chunk: &[PushItem],
) -> Result<Vec<PushOutcome>, ApiError> {
    let ids: Vec<String> = chunk.iter().map(|i| i.record_id.clone()).collect();
    let current = client.batch_read_stages(&ids).await?;
    // Down, or from a custom stage whose place is unknown: clear first.
    let clear: Vec<(String, String)> = chunk
        .iter()
        .filter(|i| {
            let target = stage_value(cfg, i.tier);
            current.get(&i.record_id).is_some_and(|now| {
                !now.is_empty() && *now != target && tier_of(cfg, now).is_none_or(|t| t > i.tier)
            })
        })
        .map(|i| (i.record_id.clone(), String::new()))
        .collect();
    if !clear.is_empty() {
        tracing::info!(
            contacts = clear.len(),
            "Clearing lifecycle stages before setting lower ones (allow_downgrade)."
        );
        client.batch_update_stage(&clear).await?;
    }
    let mut outcomes = set(client, cfg, chunk).await?;
    let after = client.batch_read_stages(&ids).await?;
    for (outcome, item) in outcomes.iter_mut().zip(chunk) {
        if let PushOutcome::Applied { outbox_id } = *outcome {
            let target = stage_value(cfg, item.tier);
            match after.get(&item.record_id) {
                Some(now) if *now == target => {}
                // Merged away or deleted since: the next pull re-points or marks it.
                None => {}
                Some(now) => {
                    *outcome = PushOutcome::Retry {
                        outbox_id,
                        reason: format!(
                            "read back `{now}` after setting `{target}` on record {}",
                            item.record_id
                        ),
                    }
                }
            }
        }
    }
    Ok(outcomes)
}

/// An answer of 200 or 207: every input not named in an error was applied (a merged id is
/// answered under the survivor's id, so absence from `results` means nothing).
fn map_errors(chunk: &[PushItem], errors: &[BatchError]) -> Vec<PushOutcome> {
    let mut failed: HashMap<&str, (&str, String)> = HashMap::new();
    for e in errors {
        let category = e.category.as_deref().unwrap_or("UNKNOWN");
        let message = e.message.clone().unwrap_or_else(|| category.to_string());
        for id in e.context.get("ids").into_iter().flatten() {
            failed.insert(id.as_str(), (category, message.clone()));
        }
    }
    chunk
        .iter()
        .map(|i| match failed.get(i.record_id.as_str()) {
            None => PushOutcome::Applied {
                outbox_id: i.outbox_id,
            },
            Some((category, message)) if permanent(category) => PushOutcome::Failed {
                outbox_id: i.outbox_id,
                reason: format!(
                    "HubSpot refused record {}: {category}: {message}",
                    i.record_id
                ),
            },
            Some((category, message)) => PushOutcome::Retry {
                outbox_id: i.outbox_id,
                reason: format!("{category}: {message}"),
            },
        })
        .collect()
}
