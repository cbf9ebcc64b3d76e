//! Values as every backend stores them: timestamps as RFC 3339 text with milliseconds, tiers by
//! name, golden records and other structures as JSON text.

use crate::store::StoreError;
use chrono::{DateTime, SecondsFormat, Utc};
use leadsync_connector_core::Tier;
use std::str::FromStr;

pub(in crate::store) fn ts(t: &DateTime<Utc>) -> String {
    crate::model::time::rfc3339(t, SecondsFormat::Millis)
}

pub(in crate::store) fn parse_ts(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp `{s}`: {e}")))
}

pub(in crate::store) fn parse_tier(s: Option<String>) -> Result<Option<Tier>, StoreError> {
    s.map(|s| Tier::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

pub(in crate::store) fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("bad JSON in store: {e}")))
}

pub(in crate::store) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("store values serialise to JSON")
}
