//! Pushing desired tiers: a lead's `Status`, a contact's `contact_stage_field`, set with sObject
//! collections of up to 200 records (`allOrNone: false`), one outcome per item.
//!
//! Each batch first reads what the records hold now (one query per object), so that:
//! - a push only moves a record forward, unless `allow_downgrade` (Salesforce, unlike HubSpot,
//!   applies a backward set);
//! - a record already at the target costs no write;
//! - a converted lead, which Salesforce refuses to update, is re-targeted to its converted
//!   contact before the write. A lead converted between the read and the write is answered
//!   `CANNOT_UPDATE_CONVERTED_LEAD` and re-targeted then.

use crate::client::Client;
use crate::config::SalesforceConfig;
use crate::error::ApiError;
use crate::map::{StatusMap, contact_tier};
use crate::wire::{Contact, Lead, MAX_COLLECTION, SaveResult, UpdateRecord};
use leadsync_connector_core::{PushItem, PushOutcome, Tier};
use std::collections::HashMap;

/// The object of a record id, by its key prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Object {
    Lead,
    Contact,
}

impl Object {
    pub(crate) fn of(id: &str) -> Option<Object> {
        match id.get(..3) {
            Some("00Q") => Some(Object::Lead),
            Some("003") => Some(Object::Contact),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Object::Lead => "Lead",
            Object::Contact => "Contact",
        }
    }
}

/// One write of a batch: which item it answers for, and what it sets where.
struct Write {
    outbox_id: i64,
    object: Object,
    record_id: String,
    field: String,
    value: String,
    tier: Tier,
}

/// Record ids are quoted into SOQL: only Salesforce's id alphabet is let through.
fn soql_ids<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    ids.filter(|id| id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn push(
    client: &Client,
    cfg: &SalesforceConfig,
    statuses: &StatusMap,
    items: &[PushItem],
) -> Vec<PushOutcome> {
    let mut outcomes = Vec::with_capacity(items.len());
    for chunk in items.chunks(MAX_COLLECTION) {
        match push_chunk(client, cfg, statuses, chunk).await {
            Ok(done) => outcomes.extend(done),
            Err(e) => outcomes.extend(all_failed(chunk.iter().map(|i| i.outbox_id), &e)),
        }
    }
    outcomes
}

fn all_failed(ids: impl Iterator<Item = i64>, e: &ApiError) -> Vec<PushOutcome> {
    let reason = e.to_string();
    let permanent = e.is_permanent();
    ids.map(|outbox_id| PushOutcome::unsent(outbox_id, reason.clone(), permanent))
        .collect()
}

async fn push_chunk(
    client: &Client,
    cfg: &SalesforceConfig,
    statuses: &StatusMap,
    chunk: &[PushItem],
) -> Result<Vec<PushOutcome>, ApiError> {
    let mut outcomes = Vec::with_capacity(chunk.len());
    let mut leads: Vec<&PushItem> = Vec::new();
    let mut contacts: Vec<(i64, String, Tier)> = Vec::new();
    for item in chunk {
        match Object::of(&item.record_id) {
            Some(Object::Lead) => leads.push(item),
            Some(Object::Contact) => {
                contacts.push((item.outbox_id, item.record_id.clone(), item.tier))
            }
            None => outcomes.push(PushOutcome::Failed {
                outbox_id: item.outbox_id,
                reason: format!(
                    "record {} is neither a Lead (00Q…) nor a Contact (003…)",
                    item.record_id
                ),
            }),
        }
    }
    let mut writes = Vec::new();
    if !leads.is_empty() {
        let current = read_leads(client, leads.iter().map(|i| i.record_id.as_str())).await?;
        for item in leads {
            match current.get(&item.record_id) {
                None => outcomes.push(gone(item.outbox_id, &item.record_id)),
                Some(lead) if lead.is_converted => match &lead.converted_contact_id {
                    Some(contact) => contacts.push((item.outbox_id, contact.clone(), item.tier)),
                    None => outcomes.push(PushOutcome::Failed {
                        outbox_id: item.outbox_id,
                        reason: format!("lead {} is converted without a contact", item.record_id),
                    }),
                },
                Some(lead) => match lead_write(cfg, statuses, item, lead) {
                    Some(write) => writes.push(write),
                    None => outcomes.push(PushOutcome::Applied {
                        outbox_id: item.outbox_id,
                    }),
                },
            }
        }
    }
    let (contact_writes, settled) = contact_writes(client, cfg, &contacts).await?;
    writes.extend(contact_writes);
    outcomes.extend(settled);
    let (done, converted) = write(client, writes).await;
    outcomes.extend(done);
    if !converted.is_empty() {
        outcomes.extend(retarget(client, cfg, converted).await);
    }
    Ok(outcomes)
}

/// A lead that is not in the org any more (deleted, or merged into another).
fn gone(outbox_id: i64, id: &str) -> PushOutcome {
    PushOutcome::Failed {
        outbox_id,
        reason: format!("lead {id} is deleted or merged in Salesforce; the next pull records it"),
    }
}

/// The status to set on a lead, or `None` when nothing is to be written: no status is mapped
/// at or below the tier, the lead holds it already, or it stands higher and downgrades are off.
fn lead_write(
    cfg: &SalesforceConfig,
    statuses: &StatusMap,
    item: &PushItem,
    lead: &Lead,
) -> Option<Write> {
    let target = statuses.status_for(item.tier)?;
    let now = lead.status.as_deref();
    if now == Some(target) {
        return None;
    }
    let higher = now
        .and_then(|s| statuses.tier_of(s))
        .is_some_and(|t| t >= item.tier);
    if higher && !cfg.allow_downgrade {
        return None;
    }
    Some(Write {
        outbox_id: item.outbox_id,
        object: Object::Lead,
        record_id: item.record_id.clone(),
        field: "Status".into(),
        value: target.to_string(),
        tier: item.tier,
    })
}

async fn read_leads<'a>(
    client: &Client,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, Lead>, ApiError> {
    let soql = format!(
        "SELECT Id, Status, IsConverted, ConvertedContactId FROM Lead WHERE Id IN ({})",
        soql_ids(ids)
    );
    let leads: Vec<Lead> = client
        .query_all_batches("the leads' statuses", &soql)
        .await?;
    Ok(leads.into_iter().map(|l| (l.id.clone(), l)).collect())
}

/// The contacts' writes, and the outcomes settled without one (no stage field configured, a
/// contact gone, a stage already there or higher).
async fn contact_writes(
    client: &Client,
    cfg: &SalesforceConfig,
    contacts: &[(i64, String, Tier)],
) -> Result<(Vec<Write>, Vec<PushOutcome>), ApiError> {
    let mut writes = Vec::new();
    let mut settled = Vec::new();
    if contacts.is_empty() {
        return Ok((writes, settled));
    }
    let Some(field) = cfg.contact_stage_field.as_deref() else {
        // Without a stage field, contacts are read but never written: nothing to do.
        settled.extend(contacts.iter().map(|(outbox_id, ..)| PushOutcome::Applied {
            outbox_id: *outbox_id,
        }));
        return Ok((writes, settled));
    };
    let soql = format!(
        "SELECT Id, {field} FROM Contact WHERE Id IN ({})",
        soql_ids(contacts.iter().map(|(_, id, _)| id.as_str()))
    );
    let current: HashMap<String, Contact> = client
        .query_all_batches::<Contact>("the contacts' stages", &soql)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    for (outbox_id, id, tier) in contacts {
        let Some(contact) = current.get(id) else {
            settled.push(PushOutcome::Failed {
                outbox_id: *outbox_id,
                reason: format!(
                    "contact {id} is deleted or merged in Salesforce; the next pull records it"
                ),
            });
            continue;
        };
        let now = contact_tier(contact, Some(field));
        let settled_here =
            now == Some(*tier) || (now.is_some_and(|t| t > *tier) && !cfg.allow_downgrade);
        if settled_here {
            settled.push(PushOutcome::Applied {
                outbox_id: *outbox_id,
            });
        } else {
            writes.push(Write {
                outbox_id: *outbox_id,
                object: Object::Contact,
                record_id: id.clone(),
                field: field.to_string(),
                value: tier.as_str().to_string(),
                tier: *tier,
            });
        }
    }
    Ok((writes, settled))
}

/// Error codes that fail the same way on every attempt.
fn permanent(code: &str) -> bool {
    matches!(
        code,
        "ENTITY_IS_DELETED"
            | "INVALID_CROSS_REFERENCE_KEY"
            | "MALFORMED_ID"
            | "INVALID_ID_FIELD"
            | "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
            | "INVALID_FIELD_FOR_INSERT_UPDATE"
            | "INVALID_FIELD"
            | "INVALID_TYPE"
            | "FIELD_CUSTOM_VALIDATION_EXCEPTION"
            | "FIELD_INTEGRITY_EXCEPTION"
            | "INSUFFICIENT_ACCESS_OR_READONLY"
            | "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"
            | "ENTITY_IS_LOCKED"
    )
}

/// Sends the writes, 200 a request; the outcomes, and the leads found converted meanwhile.
async fn write(client: &Client, writes: Vec<Write>) -> (Vec<PushOutcome>, Vec<Write>) {
    let mut outcomes = Vec::with_capacity(writes.len());
    let mut converted = Vec::new();
    let mut writes = writes.into_iter().peekable();
    while writes.peek().is_some() {
        let batch: Vec<Write> = writes.by_ref().take(MAX_COLLECTION).collect();
        let results = match send(client, &batch).await {
            Ok(results) => results,
            // The answer was lost: what landed is read back, and only the rest is sent again.
            Err(ApiError::Transport { .. }) => {
                let (landed, rest) = match read_back(client, batch).await {
                    Ok(split) => split,
                    Err((batch, e)) => {
                        outcomes.extend(all_failed(batch.iter().map(|w| w.outbox_id), &e));
                        continue;
                    }
                };
                outcomes.extend(landed.iter().map(|w| PushOutcome::Applied {
                    outbox_id: w.outbox_id,
                }));
                match send(client, &rest).await {
                    Ok(results) => {
                        settle(rest, results, &mut outcomes, &mut converted);
                    }
                    Err(e) => outcomes.extend(all_failed(rest.iter().map(|w| w.outbox_id), &e)),
                }
                continue;
            }
            Err(e) => {
                outcomes.extend(all_failed(batch.iter().map(|w| w.outbox_id), &e));
                continue;
            }
        };
        settle(batch, results, &mut outcomes, &mut converted);
    }
    (outcomes, converted)
}

/// One collections request, checked to answer once per record.
async fn send(client: &Client, batch: &[Write]) -> Result<Vec<SaveResult>, ApiError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let records = batch
        .iter()
        .map(|w| UpdateRecord::set(w.object.name(), &w.record_id, &w.field, &w.value))
        .collect();
    let results = client.update(records).await?;
    if results.len() != batch.len() {
        return Err(ApiError::Decode {
            what: "a collections update".into(),
            message: format!("{} results for {} records", results.len(), batch.len()),
        });
    }
    Ok(results)
}

fn settle(
    batch: Vec<Write>,
    results: Vec<SaveResult>,
    outcomes: &mut Vec<PushOutcome>,
    converted: &mut Vec<Write>,
) {
    for (w, result) in batch.into_iter().zip(results) {
        if result.is_converted_lead() && w.object == Object::Lead {
            converted.push(w);
        } else {
            outcomes.push(outcome(&w, &result));
        }
    }
}

/// After a lost answer: the writes whose value is in the org now, and the rest.
async fn read_back(
    client: &Client,
    batch: Vec<Write>,
) -> Result<(Vec<Write>, Vec<Write>), (Vec<Write>, ApiError)> {
    let mut current: HashMap<String, String> = HashMap::new();
    for object in [Object::Lead, Object::Contact] {
        let of: Vec<&Write> = batch.iter().filter(|w| w.object == object).collect();
        let Some(first) = of.first() else {
            continue;
        };
        let soql = format!(
            "SELECT Id, {} FROM {} WHERE Id IN ({})",
            first.field,
            object.name(),
            soql_ids(of.iter().map(|w| w.record_id.as_str()))
        );
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = match client
            .query_all_batches("the values just written", &soql)
            .await
        {
            Ok(rows) => rows,
            Err(e) => return Err((batch, e)),
        };
        for row in rows {
            let id = row.get("Id").and_then(|v| v.as_str()).unwrap_or_default();
            let value = row
                .get(&first.field)
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            current.insert(id.to_string(), value.to_string());
        }
    }
    Ok(batch
        .into_iter()
        .partition(|w| current.get(&w.record_id) == Some(&w.value)))
}

fn outcome(w: &Write, result: &SaveResult) -> PushOutcome {
    let outbox_id = w.outbox_id;
    if result.success {
        return PushOutcome::Applied { outbox_id };
    }
    let reasons: Vec<String> = result
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.status_code, e.message))
        .collect();
    let reason = format!(
        "Salesforce refused {} = \"{}\" on {} {}: {}",
        w.field,
        w.value,
        w.object.name().to_lowercase(),
        w.record_id,
        if reasons.is_empty() {
            "no reason given".to_string()
        } else {
            reasons.join("; ")
        }
    );
    if result.errors.iter().any(|e| permanent(&e.status_code)) {
        PushOutcome::Failed { outbox_id, reason }
    } else {
        PushOutcome::Retry { outbox_id, reason }
    }
}

/// Leads converted after they were read: their pushes go to the converted contacts.
async fn retarget(
    client: &Client,
    cfg: &SalesforceConfig,
    converted: Vec<Write>,
) -> Vec<PushOutcome> {
    let current = match read_leads(client, converted.iter().map(|w| w.record_id.as_str())).await {
        Ok(c) => c,
        Err(e) => return all_failed(converted.iter().map(|w| w.outbox_id), &e),
    };
    let mut outcomes = Vec::new();
    let mut contacts = Vec::new();
    for w in &converted {
        match current
            .get(&w.record_id)
            .and_then(|l| l.converted_contact_id.clone())
        {
            Some(contact) => contacts.push((w.outbox_id, contact, w.tier)),
            None => outcomes.push(gone(w.outbox_id, &w.record_id)),
        }
    }
    match contact_writes(client, cfg, &contacts).await {
        Ok((writes, settled)) => {
            outcomes.extend(settled);
            let (done, _) = write(client, writes).await;
            outcomes.extend(done);
        }
        Err(e) => outcomes.extend(all_failed(contacts.iter().map(|(id, ..)| *id), &e)),
    }
    outcomes
}
