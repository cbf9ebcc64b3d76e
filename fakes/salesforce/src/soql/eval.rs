//! Evaluating a parsed query against records: `WHERE` and `ORDER BY`.

use std::cmp::Ordering;

use super::{Cond, Literal, Query, parse_datetime};
use crate::store::{Cell, Record};

/// Compares a field's value with a literal the way SOQL does; `None` when they cannot be
/// compared (a null on one side only, or different types).
fn compare(current: &Cell<'_>, value: &Literal) -> Option<Ordering> {
    match (value, current) {
        (Literal::Null, Cell::Null) => Some(Ordering::Equal),
        (_, Cell::Null) | (Literal::Null, _) => None,
        (Literal::DateTime(at), Cell::Time(t)) => Some(t.cmp(at)),
        (Literal::DateTime(at), Cell::Str(s)) => parse_datetime(s).map(|v| v.cmp(at)),
        (Literal::Str(lit), Cell::Str(s)) => Some(s.as_ref().cmp(lit.as_str())),
        (Literal::Number(n), Cell::Num(v)) => v.partial_cmp(n),
        (Literal::Bool(b), Cell::Bool(v)) => Some(v.cmp(b)),
        _ => None,
    }
}

impl Cond {
    pub(crate) fn matches(&self, record: &Record) -> bool {
        match self {
            Self::And(parts) => parts.iter().all(|c| c.matches(record)),
            Self::Or(parts) => parts.iter().any(|c| c.matches(record)),
            Self::In { field, values } => {
                let current = record.cell(field);
                values
                    .iter()
                    .any(|v| compare(&current, v) == Some(Ordering::Equal))
            }
            Self::Cmp { field, op, value } => {
                let ordering = compare(&record.cell(field), value);
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
        let ordering = a.cell(field).order(&b.cell(field));
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
