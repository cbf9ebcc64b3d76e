//! Batch read, batch update and merge. Batches answer 207 with grouped `OBJECT_NOT_FOUND` errors
//! when some ids are unknown, so the client has to map errors back to its inputs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{self, ConnectInfo, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use leadsync_fake_support::conn::ConnAddr;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::gate::{self, Endpoint, Outcome, Shared, State};
use crate::render::{self, QueryParams, Selection, contact_json, iso};
use crate::store::now_ms;

/// HubSpot's cap on inputs per contacts batch call.
const MAX_INPUTS: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadRequest {
    inputs: Vec<IdInput>,
    #[serde(default)]
    properties: Option<Vec<String>>,
    #[serde(default)]
    id_property: Option<String>,
}

#[derive(Deserialize)]
struct IdInput {
    id: Value,
}

#[derive(Deserialize)]
struct UpdateRequest {
    inputs: Vec<UpdateInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateInput {
    id: Value,
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    id_property: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MergeRequest {
    primary_object_id: Value,
    object_id_to_merge: Value,
}

fn check_size(n: usize) -> Result<(), ApiError> {
    if n > MAX_INPUTS {
        return Err(ApiError::bad_request(format!(
            "Batch input limit exceeded: {n} inputs, at most {MAX_INPUTS} allowed."
        )));
    }
    Ok(())
}

/// 200 when every input was found, else 207 with one error listing the unknown ids.
fn answer(results: Vec<Value>, missing: Vec<String>, started: i64) -> (StatusCode, Value) {
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(started),
        "completedAt": iso(now_ms()),
    });
    if missing.is_empty() {
        return (StatusCode::OK, body);
    }
    body["errors"] = json!([{
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": "Could not get some CONTACT objects, they may be deleted or not exist. \
                    Check that ids are valid.",
        "context": {"ids": missing},
    }]);
    body["numErrors"] = json!(1);
    (StatusCode::MULTI_STATUS, body)
}

/// `POST /contacts/batch/read`: merged ids answer with the survivor (answer id ≠ asked id).
pub(crate) async fn read(
    extract::State(app): extract::State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    bytes: Bytes,
) -> Response {
    let archived = QueryParams::parse(query).archived();
    gate::run(&app, Endpoint::BatchRead, &headers, &conn, move |state| {
        let started = now_ms();
        let request: ReadRequest = render::body(&bytes)?;
        check_size(request.inputs.len())?;
        let selection = Selection::new(request.properties);
        let id_property = request.id_property.as_deref();
        let (mut results, mut missing, mut seen) = (Vec::new(), Vec::new(), BTreeSet::new());
        for input in &request.inputs {
            let key = render::scalar(&input.id)?;
            let record = state
                .store
                .find(&key, id_property)
                .and_then(|id| state.store.get(id))
                .filter(|r| r.archived() == archived);
            match record {
                Some(r) if seen.insert(r.id) => results.push(contact_json(r, &selection)),
                Some(_) => {}
                None => missing.push(key),
            }
        }
        Ok(answer(results, missing, started))
    })
    .await
}

/// `POST /contacts/batch/update`: validated as a whole (size, duplicates, read-only properties),
/// then applied input by input; unknown ids do not stop the others.
pub(crate) async fn update(
    extract::State(app): extract::State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnAddr>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    gate::run(&app, Endpoint::BatchUpdate, &headers, &conn, move |state| {
        apply_batch(state, &bytes)
    })
    .await
}

fn apply_batch(state: &mut State, bytes: &[u8]) -> Outcome {
    let started = now_ms();
    let request: UpdateRequest = render::body(bytes)?;
    check_size(request.inputs.len())?;
    let mut inputs = Vec::with_capacity(request.inputs.len());
    let mut keys = BTreeSet::new();
    for input in &request.inputs {
        let key = render::scalar(&input.id)?;
        if !keys.insert(key.clone()) {
            return Err(ApiError::bad_request(format!(
                "Duplicate IDs found in batch input: [{key}]. IDs must be unique"
            )));
        }
        let props: BTreeMap<String, String> = render::properties(&input.properties)?;
        render::check_writable(&props)?;
        inputs.push((key, input.id_property.as_deref(), props));
    }
    let (mut results, mut missing) = (Vec::new(), Vec::new());
    for (key, id_property, props) in inputs {
        let Some(id) = state.store.find_live(&key, id_property) else {
            missing.push(key);
            continue;
        };
        let changed = state.store.apply(id, &props);
        state.stats.items_updated += 1;
        state.stats.items_changed += u64::from(changed);
        if let Some(record) = state.store.get(id) {
            results.push(contact_json(record, &Selection::written(&props)));
        }
    }
    state.stats.batch_updates += 1;
    Ok(answer(results, missing, started))
}

/// `POST /contacts/merge`: the survivor gets a new id; both old ids resolve to it.
pub(crate) async fn merge(
    extract::State(app): extract::State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnAddr>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    gate::run(&app, Endpoint::Merge, &headers, &conn, move |state| {
        let request: MergeRequest = render::body(&bytes)?;
        let primary = render::scalar(&request.primary_object_id)?;
        let secondary = render::scalar(&request.object_id_to_merge)?;
        let (Some(p), Some(s)) = (
            state.store.find_live(&primary, None),
            state.store.find_live(&secondary, None),
        ) else {
            return Err(ApiError::not_found(
                "Could not find one of the contacts to merge",
            ));
        };
        let id = state
            .store
            .merge(p, s)
            .ok_or_else(|| ApiError::bad_request("Cannot merge a contact into itself"))?;
        let record = state
            .store
            .get(id)
            .ok_or_else(|| ApiError::not_found("merged"))?;
        let mut selection = vec!["hs_merged_object_ids".to_owned()];
        selection.extend(record.props.keys().cloned());
        Ok((
            StatusCode::OK,
            contact_json(record, &Selection::new(Some(selection))),
        ))
    })
    .await
}
