//! `PATCH /services/data/vNN.0/composite/sobjects`: sObject Collections update. Up to 200
//! records, each with `attributes.type` and `id`; one `{id, success, errors}` per record in
//! request order. A request Salesforce cannot read at all (bad JSON, too many records, an
//! unknown type or field) is refused whole with a 400 error array instead.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use leadsync_fake_support::conn::ConnAddr;
use serde_json::{Map, Value, json};

use crate::edits::{self, SaveError};
use crate::errors::ApiError;
use crate::gate::{self, Outcome, Shared};
use crate::store::{self, SObject};

/// Records per request, at most.
const MAX_RECORDS: usize = 200;

/// One record of the request, read: its type, id (if given) and fields in canonical spelling.
struct Item {
    sobject: SObject,
    id: Option<String>,
    fields: Vec<(String, Value)>,
}

pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    ConnectInfo(conn): ConnectInfo<ConnAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    gate::run_write(&shared, &headers, &conn, |state, _| -> Outcome {
        if !gate::valid_version(&version) {
            return Err(ApiError::not_found());
        }
        state.writes += 1;
        let (all_or_none, items) = read(&body)?;
        let at = store::now();
        let checked: Vec<Result<(), SaveError>> = items
            .iter()
            .map(|item| check(&state.store, item).map(|_| ()))
            .collect();
        let results: Vec<Value> = if all_or_none && checked.iter().any(Result::is_err) {
            checked
                .iter()
                .map(|outcome| match outcome {
                    Err(error) => failure(error),
                    Ok(()) => failure(&rolled_back()),
                })
                .collect()
        } else {
            // Records are saved in order, so each is checked against the ones before it.
            items
                .iter()
                .map(|item| match check(&state.store, item) {
                    Err(error) => failure(&error),
                    Ok(id) => {
                        edits::apply_update(&mut state.store, &id, &item.fields, at);
                        for (field, value) in &item.fields {
                            state
                                .write_log
                                .push((id.clone(), field.clone(), value.clone()));
                        }
                        json!({ "id": id, "success": true, "errors": [] })
                    }
                })
                .collect()
        };
        Ok(Json(Value::Array(results)).into_response())
    })
    .await
}

/// The record's id if it may be updated.
fn check(store: &store::Store, item: &Item) -> Result<String, SaveError> {
    let Some(id) = &item.id else {
        return Err(SaveError {
            code: "MISSING_ARGUMENT",
            message: "Id not specified in an update call".to_owned(),
            fields: Vec::new(),
        });
    };
    edits::check_update(store, item.sobject, id, &item.fields).map(|r| r.id.clone())
}

fn rolled_back() -> SaveError {
    SaveError {
        code: "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        message: "Record rolled back because not all records were valid and the request was \
                  using AllOrNone header"
            .to_owned(),
        fields: Vec::new(),
    }
}

/// A failed record's result: no `id`, as Salesforce leaves it out.
fn failure(error: &SaveError) -> Value {
    json!({
        "success": false,
        "errors": [{ "statusCode": error.code, "message": error.message, "fields": error.fields }],
    })
}

fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// Reads the body: `allOrNone` and the records, or the 400 Salesforce answers for the whole.
fn read(body: &[u8]) -> Result<(bool, Vec<Item>), ApiError> {
    let parsed: Value = serde_json::from_slice(body)
        .map_err(|e| bad_request("JSON_PARSER_ERROR", format!("Unexpected character: {e}")))?;
    let shape = || {
        bad_request(
            "JSON_PARSER_ERROR",
            "Expected {\"allOrNone\": …, \"records\": [...]}",
        )
    };
    let object = parsed.as_object().ok_or_else(shape)?;
    let all_or_none = match object.get("allOrNone") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(shape()),
    };
    let records = object
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(shape)?;
    if records.len() > MAX_RECORDS {
        return Err(bad_request(
            "EXCEEDED_ID_LIMIT",
            format!(
                "record limit reached. cannot submit more than {MAX_RECORDS} records into this call"
            ),
        ));
    }
    let items = records
        .iter()
        .map(|r| r.as_object().ok_or_else(shape).and_then(item))
        .collect::<Result<_, _>>()?;
    Ok((all_or_none, items))
}

fn item(record: &Map<String, Value>) -> Result<Item, ApiError> {
    let name = record
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad_request("INVALID_TYPE", "Must send a concrete entity type."))?;
    let sobject = SObject::parse(name)
        .filter(|o| *o != SObject::LeadStatus)
        .ok_or_else(|| {
            bad_request(
                "INVALID_TYPE",
                format!("sObject type '{name}' is not supported."),
            )
        })?;
    let mut id = None;
    let mut fields = Vec::new();
    for (name, value) in record {
        if name == "attributes" {
            continue;
        }
        if name.eq_ignore_ascii_case("Id") {
            id = value.as_str().map(str::to_owned);
            continue;
        }
        let canonical = sobject.canonical(name).ok_or_else(|| {
            bad_request(
                "INVALID_FIELD",
                format!(
                    "No such column '{name}' on sobject of type {}",
                    sobject.name()
                ),
            )
        })?;
        fields.push((canonical, value.clone()));
    }
    Ok(Item {
        sobject,
        id,
        fields,
    })
}
