//! Evaluating a parsed query against records: `WHERE` and `ORDER BY`.

use std::cmp::Ordering;

use serde_json::Value;

use super::{Cond, Literal, Query, parse_datetime};
use crate::store::Record;

/// Orders two field values the way SOQL does: nulls first, datetimes by instant, else by value.
fn compare(record: &Record, field: &str, value: &Literal) -> Option<Ordering> {
    let current = record.value(field);
    match (value, &current) {
        (Literal::Null, Value::Null) => Some(Ordering::Equal),
        (_, Value::Null) | (Literal::Null, _) => None,
        (Literal::DateTime(at), Value::String(s)) => parse_datetime(s).map(|v| v.cmp(at)),
        (Literal::Str(lit), Value::String(s)) => Some(s.as_str().cmp(lit.as_str())),
        (Literal::Number(n), Value::Number(v)) => v.as_f64()?.partial_cmp(n),
        (Literal::Bool(b), Value::Bool(v)) => Some(v.cmp(b)),
        _ => None,
    }
}

impl Cond {
    pub(crate) fn matches(&self, record: &Record) -> bool {
        match self {
            Self::And(parts) => parts.iter().all(|c| c.matches(record)),
            Self::Or(parts) => parts.iter().any(|c| c.matches(record)),
            Self::In { field, values } => values
                .iter()
                .any(|v| compare(record, field, v) == Some(Ordering::Equal)),
            Self::Cmp { field, op, value } => {
                let ordering = compare(record, field, value);
                match *op {
                    "=" => ordering == Some(Ordering::Equal),
                    // Nulls count as different, as in SOQL (`MasterRecordId != null`).
                    "!=" | "<>" => ordering != Some(Ordering::Equal),
                    "<" => ordering == Some(Ordering::Less),
                    "<=" => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
                    ">" => ordering == Some(Ordering::Greater),
                    _ => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
                }
            }
        }
    }
}

/// The `ORDER BY` comparison of two records (nulls first when ascending).
pub(crate) fn order(query: &Query, a: &Record, b: &Record) -> Ordering {
    for (field, ascending) in &query.order {
        let (x, y) = (a.value(field), b.value(field));
        let ordering = match (&x, &y) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Less,
            (_, Value::Null) => Ordering::Greater,
            (Value::Number(m), Value::Number(n)) => m
                .as_f64()
                .partial_cmp(&n.as_f64())
                .unwrap_or(Ordering::Equal),
            (Value::Bool(m), Value::Bool(n)) => m.cmp(n),
            // Datetimes are all rendered in UTC with the same width, so text order is time order.
            _ => x.to_string().cmp(&y.to_string()),
        };
        let ordering = if *ascending {
            ordering
        } else {
            ordering.reverse()
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}
