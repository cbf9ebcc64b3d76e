//! Pushing desired stages with `batch/update`, 100 contacts a request, outcomes per item.

use crate::client::{BatchError, Client};
use crate::config::HubspotConfig;
use leadsync_connector_core::{PushItem, PushOutcome, Tier};
use std::collections::HashMap;

/// The lifecycle stage value for a tier: a configured custom stage if one means this tier,
/// else HubSpot's standard internal name.
pub(crate) fn stage_value(cfg: &HubspotConfig, tier: Tier) -> String {
    if let Some((name, _)) = cfg.stages.iter().find(|(_, t)| **t == tier) {
        return name.clone();
    }
    match tier {
        Tier::Subscriber => "subscriber",
        Tier::Lead => "lead",
        Tier::Mql => "marketingqualifiedlead",
        Tier::Sql => "salesqualifiedlead",
        Tier::Opportunity => "opportunity",
        Tier::Customer => "customer",
    }
    .to_string()
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
        let inputs: Vec<(String, String)> = chunk
            .iter()
            .map(|i| (i.record_id.clone(), stage_value(cfg, i.tier)))
            .collect();
        match client.batch_update_stage(&inputs).await {
            Ok(errors) => outcomes.extend(map_errors(chunk, &errors)),
            Err(e) => {
                // The client already retried what can be retried; whatever is left waits for the
                // next cycle, unless it will never work.
                let reason = e.to_string();
                let permanent = e.is_permanent();
                outcomes.extend(chunk.iter().map(|i| {
                    if permanent {
                        PushOutcome::Failed {
                            outbox_id: i.outbox_id,
                            reason: reason.clone(),
                        }
                    } else {
                        PushOutcome::Retry {
                            outbox_id: i.outbox_id,
                            reason: reason.clone(),
                        }
                    }
                }));
            }
        }
    }
    outcomes
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
