//! Wire shapes: a record as HubSpot's JSON, property selections, query strings and bodies.

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::store::Record;

/// Always returned, whatever was asked for.
const ALWAYS: [&str; 3] = ["hs_object_id", "createdate", "lastmodifieddate"];
/// Returned when no `properties` are asked for.
const DEFAULT_SELECTION: [&str; 3] = ["email", "firstname", "lastname"];

/// Which properties an answer shows: the requested ones (missing ones as `null`) plus [`ALWAYS`].
#[derive(Debug, Clone)]
pub(crate) struct Selection(Vec<String>);

impl Selection {
    pub(crate) fn new(requested: Option<Vec<String>>) -> Self {
        let requested = requested.filter(|names| !names.is_empty());
        let names = requested
            .unwrap_or_else(|| DEFAULT_SELECTION.iter().map(|s| (*s).to_owned()).collect());
        Self::with_always(names)
    }

    /// What write answers show: the written properties.
    pub(crate) fn written(props: &BTreeMap<String, String>) -> Self {
        Self::with_always(props.keys().cloned().collect())
    }

    fn with_always(mut names: Vec<String>) -> Self {
        names.extend(ALWAYS.iter().map(|s| (*s).to_owned()));
        let mut seen = std::collections::BTreeSet::new();
        names.retain(|name| seen.insert(name.clone()));
        Self(names)
    }
}

/// Epoch ms → `2024-05-01T12:00:00.000Z`, HubSpot's `createdAt`/`updatedAt` format.
pub(crate) fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

pub(crate) fn contact_json(record: &Record, selection: &Selection) -> Value {
    let properties: Map<String, Value> = selection
        .0
        .iter()
        .map(|name| {
            let value = record.props.get(name).map_or(Value::Null, |v| json!(v));
            (name.clone(), value)
        })
        .collect();
    let mut body = json!({
        "id": record.id.to_string(),
        "properties": properties,
        "createdAt": iso(record.created_at),
        "updatedAt": iso(record.updated_at),
        "archived": record.archived(),
    });
    if let Some(at) = record.archived_at {
        body["archivedAt"] = json!(iso(at));
    }
    body
}

/// A parsed query string; `properties` may be comma-separated and/or repeated.
#[derive(Debug, Default)]
pub(crate) struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub(crate) fn parse(raw: Option<String>) -> Self {
        let raw = raw.unwrap_or_default();
        Self(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn list(&self, name: &str) -> Option<Vec<String>> {
        let items: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        (!items.is_empty()).then_some(items)
    }

    /// `archived=true` (anything else, or absent, is false).
    pub(crate) fn archived(&self) -> bool {
        self.get("archived") == Some("true")
    }
}

/// A JSON scalar as HubSpot's string form; `null` is `""` (clears). Objects and arrays are errors.
pub(crate) fn scalar(value: &Value) -> Result<String, ApiError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok(String::new()),
        other => Err(ApiError::bad_request(format!(
            "Expected a string, number or boolean, got {other}"
        ))),
    }
}

/// A `properties` object as strings.
pub(crate) fn properties(map: &Map<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    map.iter()
        .map(|(name, value)| Ok((name.clone(), scalar(value)?)))
        .collect()
}

/// Parses a JSON body; a bad body is a 400 with HubSpot's error shape, not axum's plain text.
pub(crate) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Invalid input JSON on line 1: {e}")))
}

/// Rejects writes to properties HubSpot computes itself, before anything is applied.
pub(crate) fn check_writable(props: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let read_only: Vec<&String> = props
        .keys()
        .filter(|name| crate::store::READ_ONLY.contains(&name.as_str()))
        .collect();
    let Some(first) = read_only.first() else {
        return Ok(());
    };
    let mut error = ApiError::bad_request(format!(
        "Property values were not valid: {first} is a read only property; its value cannot be set."
    ));
    for name in read_only {
        error = error.with_error(json!({
            "message": format!("{name} is a read only property; its value cannot be set."),
            "code": "READ_ONLY_VALUE",
            "context": {"propertyName": [name]},
        }));
    }
    Err(error)
}
