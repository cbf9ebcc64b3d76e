//! `POST /contacts/search`: filter groups (OR of ANDs), one sort, offset paging capped at 10,000
//! results, archived and not-yet-indexed contacts left out, and its own per-second limit.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{self, ConnectInfo};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use leadsync_fake_support::conn::ConnAddr;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::filters::{Compiled, Filter, Key, matches};
use crate::gate::{self, Endpoint, Outcome, Shared, State};
use crate::render::{self, Selection, contact_json};
use crate::store::Record;

/// HubSpot will not page past this many results of one query.
const RESULT_CAP: usize = 10_000;
const MAX_LIMIT: usize = 200;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest {
    #[serde(default)]
    filter_groups: Vec<FilterGroup>,
    #[serde(default)]
    sorts: Vec<SortSpec>,
    #[serde(default)]
    properties: Option<Vec<String>>,
    #[serde(default)]
    limit: Option<Value>,
    #[serde(default)]
    after: Option<Value>,
    #[serde(default)]
    query: Option<String>,
}

#[derive(Deserialize)]
struct FilterGroup {
    #[serde(default)]
    filters: Vec<Filter>,
}

/// `"prop"` or `{propertyName, direction}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum SortSpec {
    Name(String),
    #[serde(rename_all = "camelCase")]
    Full {
        property_name: String,
        #[serde(default)]
        direction: Option<String>,
    },
}

pub(crate) async fn handler(
    extract::State(app): extract::State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnAddr>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    gate::run(&app, Endpoint::Search, &headers, &conn, move |state| {
        search(state, &bytes)
    })
    .await
}

/// HubSpot's documented bounds on a search request.
fn validate(request: &SearchRequest) -> Result<(usize, usize), ApiError> {
    let filters: usize = request.filter_groups.iter().map(|g| g.filters.len()).sum();
    if request.filter_groups.len() > 5
        || request.filter_groups.iter().any(|g| g.filters.len() > 6)
        || filters > 18
    {
        return Err(ApiError::bad_request(
            "Too many filters: at most 5 filterGroups, 6 filters per group, 18 in total.",
        ));
    }
    if request.sorts.len() > 1 {
        return Err(ApiError::bad_request("Only one sort is allowed."));
    }
    let number = |value: Option<&Value>, default: usize| -> Result<usize, ApiError> {
        match value {
            None | Some(Value::Null) => Ok(default),
            Some(v) => render::scalar(v)?.trim().parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "limit and after must be non-negative integers, got {v}"
                ))
            }),
        }
    };
    let limit = number(request.limit.as_ref(), 10)?;
    let after = number(request.after.as_ref(), 0)?;
    if limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be at most {MAX_LIMIT}, got {limit}"
        )));
    }
    if after + limit > RESULT_CAP {
        return Err(ApiError::bad_request(format!(
            "Search results are limited to {RESULT_CAP} records: after ({after}) + limit \
             ({limit}) may not exceed {RESULT_CAP}. Narrow the filters instead of paging further."
        )));
    }
    Ok((limit, after))
}

fn search(state: &mut State, bytes: &[u8]) -> Outcome {
    let request: SearchRequest = render::body(bytes)?;
    let (limit, after) = validate(&request)?;
    let groups: Vec<Vec<Compiled>> = request
        .filter_groups
        .iter()
        .map(|g| g.filters.iter().map(Compiled::new).collect())
        .collect::<Result<_, _>>()?;
    let query = request.query.as_deref().map(str::to_lowercase);
    let mut hits: Vec<&Record> = state
        .store
        .range(0)
        .filter(|r| r.searchable() && matches(&groups, query.as_deref(), r))
        .collect();
    if let Some(sort) = request.sorts.first() {
        let (name, descending) = match sort {
            SortSpec::Name(name) => (name.as_str(), false),
            SortSpec::Full {
                property_name,
                direction,
            } => (
                property_name.as_str(),
                direction
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case("DESCENDING")),
            ),
        };
        if name == "hs_object_id" {
            // Every record's `hs_object_id` is its id (HubSpot sets it; it cannot be written)
            // and the store yields records in id order: sorted already.
            if descending {
                hits.reverse();
            }
        } else {
            hits = sorted(hits, name, descending);
        }
    }
    let total = hits.len();
    let selection = Selection::new(request.properties);
    let results: Vec<Value> = hits
        .iter()
        .skip(after)
        .take(limit)
        .map(|r| contact_json(r, &selection))
        .collect();
    let mut body = json!({"total": total, "results": results});
    if after + results.len() < total {
        body["paging"] = json!({"next": {"after": (after + results.len()).to_string()}});
    }
    state.stats.searches += 1;
    Ok((StatusCode::OK, body))
}

/// Records sorted by a property's value: numbers before text, missing values last either way,
/// ties in id order (a stable sort of records given in id order).
fn sorted<'r>(hits: Vec<&'r Record>, name: &str, descending: bool) -> Vec<&'r Record> {
    // Keys computed once, not at every comparison.
    let mut keyed: Vec<(Option<Key>, &Record)> = hits
        .into_iter()
        .map(|r| (r.props.get(name).map(|v| Key::new(v)), r))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(x), Some(y)) if descending => y.cmp(x),
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
    keyed.into_iter().map(|(_, r)| r).collect()
}
