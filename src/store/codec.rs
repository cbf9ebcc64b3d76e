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
    s.map(|s| {
        Tier::from_str(&s).map_err(|e| {
            StoreError::Corrupt(format!(
                "the store holds tier `{s}`, which the ladder does not have ({e}): put it back in the rules file's [ladder] tiers, or map it under [ladder.removed] or [ladder.renamed] (`leadsync validate` lists every such tier)"
            ))
        })
    })
    .transpose()
}

pub(in crate::store) fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("bad JSON in store: {e}")))
}

pub(in crate::store) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("store values serialise to JSON")
}

/// A person's id and the preferred value of each field, read from its stored JSON without
/// building the person (provenance and the rest are skipped).
pub(in crate::store) fn values_from(
    golden: &str,
) -> Result<(crate::model::PersonId, crate::store::matching::PersonValues), StoreError> {
    #[derive(serde::Deserialize)]
    struct Golden {
        id: crate::model::PersonId,
        fields: std::collections::BTreeMap<leadsync_connector_core::Field, Vec<Value>>,
    }
    #[derive(serde::Deserialize)]
    struct Value {
        v: String,
    }
    let golden: Golden = json(golden)?;
    let values = golden
        .fields
        .into_iter()
        .filter_map(|(field, values)| Some((field, values.into_iter().next()?.v)))
        .collect();
    Ok((golden.id, values))
}

/// A person from its stored JSON and its `rules_version` column (the column is authoritative:
/// `mark_qualified` updates it alone).
pub(in crate::store) fn person_from(
    golden: &str,
    version: Option<String>,
) -> Result<crate::model::Person, StoreError> {
    let mut person: crate::model::Person = json(golden)?;
    person.rules_version = version;
    Ok(person)
}

/// Refuses a cursor behind the stored one (`CursorRegression`, naming both).
pub(in crate::store) fn check_cursor(
    connector: &str,
    stored: Option<&leadsync_connector_core::Cursor>,
    offered: &leadsync_connector_core::Cursor,
) -> Result<(), StoreError> {
    match stored {
        Some(stored) if !stored.allows(offered) => Err(StoreError::CursorRegression {
            connector: connector.to_string(),
            stream: offered.stream.clone(),
            stored: format!(
                "v{} {:?} finished={}",
                stored.version, stored.position, stored.finished
            ),
            offered: format!(
                "v{} {:?} finished={}",
                offered.version, offered.position, offered.finished
            ),
        }),
        _ => Ok(()),
    }
}
