//! `GET /services/data/vNN.0/query?q=…`, `GET …/queryAll?q=…` and their locators
//! `GET …/query/<locator>` / `…/queryAll/<locator>`: SOQL results in batches, each but the last
//! pointing at the next with `nextRecordsUrl`. `queryAll` also returns soft-deleted rows (deleted
//! and merged records), as in Salesforce.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::config::FakeConfig;
use crate::cursor::Cursor;
use crate::errors::ApiError;
use crate::gate::{self, Outcome, Shared};
use crate::soql;
use crate::store::Record;

pub(crate) async fn first(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    run_query(&shared, version, &params, &headers, "query").await
}

pub(crate) async fn first_all(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    run_query(&shared, version, &params, &headers, "queryAll").await
}

/// Runs the query `q` and serves its first batch; `resource` is `query` or `queryAll`.
async fn run_query(
    shared: &Shared,
    version: String,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    resource: &'static str,
) -> Response {
    gate::run(shared, headers, |state, config| {
        if !gate::valid_version(&version) {
            return Err(ApiError::not_found());
        }
        let q = params
            .get("q")
            .ok_or_else(|| ApiError::malformed("the query parameter q is missing"))?;
        let query = soql::parse(q)?;
        let with_deleted = resource == "queryAll";
        let mut matched: Vec<&Record> = state
            .store
            .of(query.sobject)
            .filter(|r| with_deleted || !r.deleted)
            .filter(|r| query.filter.as_ref().is_none_or(|f| f.matches(r)))
            .collect();
        matched.sort_by(|a, b| soql::order(&query, a, b));
        matched.truncate(query.limit.unwrap_or(usize::MAX));
        let rows = matched
            .iter()
            .map(|r| render(r, &query.fields, &version))
            .collect();
        state.cursors_opened += 1;
        let id = format!("01g{:015}", state.cursors_opened);
        let cursor = Cursor {
            version,
            resource,
            hint: batch_size_hint(headers),
            rows,
            next: 0,
        };
        Ok(batch(state, config, id, cursor))
    })
    .await
}

pub(crate) async fn more(
    State(shared): State<Arc<Shared>>,
    Path((version, locator)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    gate::run(&shared, &headers, |state, config| -> Outcome {
        let invalid = || {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_QUERY_LOCATOR",
                "invalid query locator",
            )
        };
        let (id, offset) = locator.split_once('-').ok_or_else(invalid)?;
        let cursor = state.cursors.remove(id).ok_or_else(invalid)?;
        if offset.parse() != Ok(cursor.next) || cursor.version != version {
            // A locator is good for exactly the batch it names; keep the cursor for that one.
            state.cursors.insert(id.to_owned(), cursor);
            return Err(invalid());
        }
        Ok(batch(state, config, id.to_owned(), cursor))
    })
    .await
}

/// `Sforce-Query-Options: batchSize=N`, which Salesforce takes as a hint within 200..=2000.
fn batch_size_hint(headers: &HeaderMap) -> Option<usize> {
    let options = headers.get("sforce-query-options")?.to_str().ok()?;
    options
        .split(',')
        .find_map(|o| o.trim().strip_prefix("batchSize="))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .map(|n| n.clamp(200, 2000))
}

/// Serves the next batch of `cursor`, keeping it open under `id` while rows remain.
fn batch(state: &mut gate::State, config: &FakeConfig, id: String, mut cursor: Cursor) -> Response {
    let size = config
        .batch_sizes
        .get(state.batches_served % config.batch_sizes.len().max(1))
        .copied()
        .filter(|n| *n > 0)
        .unwrap_or(2000)
        .min(cursor.hint.unwrap_or(2000));
    state.batches_served += 1;
    let total = cursor.rows.len();
    let end = (cursor.next + size).min(total);
    let records: Vec<Value> = cursor.rows[cursor.next..end].to_vec();
    let done = end == total;
    let mut body = json!({ "totalSize": total, "done": done, "records": records });
    if !done {
        body["nextRecordsUrl"] = json!(format!(
            "/services/data/{}/{}/{id}-{end}",
            cursor.version, cursor.resource
        ));
        cursor.next = end;
        state.cursors.insert(id, cursor);
    }
    Json(body).into_response()
}

/// One record as the REST API renders it: `attributes`, then the selected fields in order.
fn render(record: &Record, fields: &[String], version: &str) -> Value {
    let object = record.sobject.name();
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({
            "type": object,
            "url": format!("/services/data/{version}/sobjects/{object}/{}", record.id),
        }),
    );
    for field in fields {
        out.insert(field.clone(), record.value(field));
    }
    Value::Object(out)
}
