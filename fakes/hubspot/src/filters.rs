//! Search filters, parsed once per request: numbers and epoch-ms dates compare numerically,
//! which the `(lastmodifieddate, hs_object_id)` cursor relies on.

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::Value;

use crate::errors::ApiError;
use crate::render;
use crate::store::Record;

/// One filter as sent: `{propertyName, operator, value, highValue?, values?}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Filter {
    property_name: String,
    operator: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    high_value: Option<Value>,
    #[serde(default)]
    values: Option<Vec<Value>>,
}

/// A filter or query value as HubSpot's string form; RFC 3339 dates become epoch ms.
fn operand(value: Option<&Value>, what: &str) -> Result<Key, ApiError> {
    let value = value.ok_or_else(|| ApiError::bad_request(format!("{what} is required")))?;
    let text = render::scalar(value)?;
    Ok(Key::new(
        &chrono::DateTime::parse_from_rfc3339(&text)
            .map(|d| d.timestamp_millis().to_string())
            .unwrap_or(text),
    ))
}

/// A value prepared for comparison: numbers (and epoch-ms dates) compare numerically, anything
/// else case-insensitively; numbers sort before text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Key {
    Num(f64),
    Text(String),
}

impl Key {
    pub(crate) fn new(value: &str) -> Self {
        match value.trim().parse::<f64>() {
            Ok(n) => Self::Num(n),
            Err(_) => Self::Text(value.to_lowercase()),
        }
    }

    pub(crate) fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Num(a), Self::Num(b)) => a.total_cmp(b),
            (Self::Text(a), Self::Text(b)) => a.cmp(b),
            (Self::Num(_), Self::Text(_)) => Ordering::Less,
            (Self::Text(_), Self::Num(_)) => Ordering::Greater,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    Has,
    NotHas,
    Contains,
    NotContains,
}

/// A filter parsed once per request rather than once per record.
pub(crate) struct Compiled {
    property: String,
    op: Op,
    operands: Vec<Key>,
}

impl Compiled {
    pub(crate) fn new(f: &Filter) -> Result<Self, ApiError> {
        let op = match f.operator.as_str() {
            "EQ" => Op::Eq,
            "NEQ" => Op::Neq,
            "LT" => Op::Lt,
            "LTE" => Op::Lte,
            "GT" => Op::Gt,
            "GTE" => Op::Gte,
            "BETWEEN" => Op::Between,
            "IN" => Op::In,
            "NOT_IN" => Op::NotIn,
            "HAS_PROPERTY" => Op::Has,
            "NOT_HAS_PROPERTY" => Op::NotHas,
            "CONTAINS_TOKEN" => Op::Contains,
            "NOT_CONTAINS_TOKEN" => Op::NotContains,
            other => return Err(ApiError::bad_request(format!("Unknown operator {other}"))),
        };
        let operands = match op {
            Op::Has | Op::NotHas => Vec::new(),
            Op::Between => vec![
                operand(f.value.as_ref(), "value")?,
                operand(f.high_value.as_ref(), "highValue")?,
            ],
            Op::In | Op::NotIn => f
                .values
                .as_deref()
                .ok_or_else(|| ApiError::bad_request("values is required"))?
                .iter()
                .map(|v| operand(Some(v), "values"))
                .collect::<Result<_, _>>()?,
            _ => vec![operand(f.value.as_ref(), "value")?],
        };
        Ok(Self {
            property: f.property_name.clone(),
            op,
            operands,
        })
    }

    fn matches(&self, r: &Record) -> bool {
        let Some(actual) = r.props.get(&self.property) else {
            return matches!(self.op, Op::Neq | Op::NotIn | Op::NotHas | Op::NotContains);
        };
        let actual = Key::new(actual);
        let first = self.operands.first().map(|k| actual.cmp(k));
        let any_equal = || self.operands.iter().any(|k| actual.cmp(k).is_eq());
        let contains = || match (&actual, self.operands.first()) {
            (Key::Text(a), Some(Key::Text(t))) => a.contains(t.trim_matches('*')),
            (a, Some(t)) => a == t,
            _ => false,
        };
        match self.op {
            Op::Eq => first.is_some_and(Ordering::is_eq),
            Op::Neq => !first.is_some_and(Ordering::is_eq),
            Op::Lt => first.is_some_and(Ordering::is_lt),
            Op::Lte => first.is_some_and(Ordering::is_le),
            Op::Gt => first.is_some_and(Ordering::is_gt),
            Op::Gte => first.is_some_and(Ordering::is_ge),
            Op::Between => {
                first.is_some_and(Ordering::is_ge)
                    && self
                        .operands
                        .get(1)
                        .is_some_and(|high| actual.cmp(high).is_le())
            }
            Op::In => any_equal(),
            Op::NotIn => !any_equal(),
            Op::Has => true,
            Op::NotHas => false,
            Op::Contains => contains(),
            Op::NotContains => !contains(),
        }
    }
}

/// Filter groups are OR'ed, filters within a group AND'ed; no groups matches everything.
pub(crate) fn matches(groups: &[Vec<Compiled>], query: Option<&str>, r: &Record) -> bool {
    if let Some(query) = query {
        let fields = ["email", "firstname", "lastname", "phone", "company"];
        let mut values = fields.iter().filter_map(|f| r.props.get(*f));
        if !values.any(|v| v.to_lowercase().contains(query)) {
            return false;
        }
    }
    groups.is_empty() || groups.iter().any(|g| g.iter().all(|f| f.matches(r)))
}
