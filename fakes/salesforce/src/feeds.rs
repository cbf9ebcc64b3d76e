//! `GET /services/data/vNN.0/sobjects/{type}/updated/?start&end` and `…/deleted/?start&end`:
//! the replication feeds. Salesforce ignores the seconds of both bounds, so a window covers
//! whole minutes, `[start, end)`; `latestDateCovered` is the end so rounded (no long
//! transactions hold it back in the fake) and never later than now. Windows must start within
//! the last 30 days (updated) or 15 days (deleted) and end after they start, else 400
//! `INVALID_REPLICATION_DATE`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::json;

use crate::errors::ApiError;
use crate::gate::{self, Outcome, Shared};
use crate::store::{self, SObject, format_datetime};

/// How far back each feed reaches.
const UPDATED_DAYS: i64 = 30;
const DELETED_DAYS: i64 = 15;

pub(crate) async fn updated(
    State(shared): State<Arc<Shared>>,
    Path((version, object)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    gate::run(&shared, &headers, |state, _| -> Outcome {
        let sobject = feed_object(&version, &object)?;
        let window = window(&params, UPDATED_DAYS)?;
        let ids: Vec<&str> = state
            .store
            .of(sobject)
            .filter(|r| !r.deleted && window.covers(r.modstamp))
            .map(|r| r.id.as_str())
            .collect();
        let body = json!({ "ids": ids, "latestDateCovered": format_datetime(window.end) });
        Ok(Json(body).into_response())
    })
    .await
}

pub(crate) async fn deleted(
    State(shared): State<Arc<Shared>>,
    Path((version, object)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    gate::run(&shared, &headers, |state, _| -> Outcome {
        let sobject = feed_object(&version, &object)?;
        let window = window(&params, DELETED_DAYS)?;
        let mut deleted: Vec<(&str, DateTime<Utc>)> = state
            .store
            .of(sobject)
            .filter_map(|r| Some((r.id.as_str(), r.deleted_at.filter(|_| r.deleted)?)))
            .filter(|(_, at)| window.covers(*at))
            .collect();
        deleted.sort_by_key(|(_, at)| *at);
        let records: Vec<_> = deleted
            .iter()
            .map(|(id, at)| json!({ "id": id, "deletedDate": format_datetime(*at) }))
            .collect();
        let body = json!({
            "deletedRecords": records,
            "earliestDateAvailable": format_datetime(window.earliest),
            "latestDateCovered": format_datetime(window.end),
        });
        Ok(Json(body).into_response())
    })
    .await
}

/// The replicable object of the path (Lead, Contact or Opportunity), else 404.
fn feed_object(version: &str, object: &str) -> Result<SObject, ApiError> {
    if !gate::valid_version(version) {
        return Err(ApiError::not_found());
    }
    SObject::parse(object)
        .filter(|o| *o != SObject::LeadStatus)
        .ok_or_else(ApiError::not_found)
}

/// A feed window, in whole minutes.
struct Window {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// The oldest start the feed accepts.
    earliest: DateTime<Utc>,
}

impl Window {
    fn covers(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }
}

fn invalid_date(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REPLICATION_DATE", message)
}

fn minute(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::minutes(1)).unwrap_or(at)
}

/// `start` and `end` of the query string, checked against a feed reaching `days` back.
fn window(params: &HashMap<String, String>, days: i64) -> Result<Window, ApiError> {
    let bound = |name: &str| -> Result<DateTime<Utc>, ApiError> {
        let raw = params
            .get(name)
            .ok_or_else(|| invalid_date(format!("the {name} parameter is missing")))?;
        // An unencoded `+0000` arrives as ` 0000`.
        let raw = raw.replace(' ', "+");
        DateTime::parse_from_rfc3339(&raw)
            .or_else(|_| DateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| invalid_date(format!("{name} is not an ISO 8601 dateTime: {raw}")))
    };
    let (start, end) = (bound("start")?, bound("end")?);
    if start >= end {
        return Err(invalid_date("end date must be after the start date"));
    }
    let now = store::now();
    let earliest = minute(now - Duration::days(days));
    if minute(start) < earliest {
        return Err(invalid_date(format!(
            "start date must be within the last {days} days: {}",
            format_datetime(start)
        )));
    }
    Ok(Window {
        start: minute(start),
        end: minute(end.min(now)),
        earliest,
    })
}
