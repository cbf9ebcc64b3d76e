//! Worksheet cell values rendered as the text a user would type back.

use std::fmt::Write as _;

use calamine::Data;

pub(super) fn render_row(cells: &[Data]) -> Vec<String> {
    cells
        .iter()
        .map(|c| {
            let mut s = String::new();
            cell_text(c, &mut s);
            s
        })
        .collect()
}

pub(super) fn is_blank_cell(cell: &Data) -> bool {
    match cell {
        Data::Empty | Data::Error(_) => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// Appends the cell's text as a user would type it back: whole numbers without ".0" (phone
/// numbers and ids are often stored as numbers), dates as ISO 8601, error cells as nothing.
pub(super) fn cell_text(cell: &Data, out: &mut String) {
    // Writing to a String cannot fail, so the fmt::Results below are ignored.
    match cell {
        Data::Empty | Data::Error(_) => {}
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => out.push_str(s),
        Data::Int(i) => {
            let _ = write!(out, "{i}");
        }
        // `Display` for f64 is the shortest round-trip form and already omits ".0";
        // only -0 needs care.
        Data::Float(f) if *f == 0.0 => out.push('0'),
        Data::Float(f) => {
            let _ = write!(out, "{f}");
        }
        Data::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Data::DateTime(dt) if dt.is_duration() => {
            let secs = (dt.as_f64() * 86_400.0).round();
            let secs = if secs.is_finite() { secs as i64 } else { 0 };
            let sign = if secs < 0 { "-" } else { "" };
            let s = secs.unsigned_abs();
            let _ = write!(out, "{sign}{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
        }
        Data::DateTime(dt) => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            if dt.as_f64().abs() < 1.0 {
                // A time of day without a date.
                let _ = write!(out, "{h:02}:{mi:02}:{s:02}");
            } else if (h, mi, s) == (0, 0, 0) {
                let _ = write!(out, "{y:04}-{mo:02}-{d:02}");
            } else {
                let _ = write!(out, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use calamine::{ExcelDateTime, ExcelDateTimeType};

    use super::*;

    fn text(cell: Data) -> String {
        let mut s = String::new();
        cell_text(&cell, &mut s);
        s
    }

    #[test]
    fn renders_cells() {
        assert_eq!(text(Data::Float(4155550123.0)), "4155550123");
        assert_eq!(text(Data::Float(-0.0)), "0");
        assert_eq!(text(Data::Float(2.5)), "2.5");
        assert_eq!(text(Data::Float(0.1 + 0.2)), "0.30000000000000004");
        assert_eq!(text(Data::Int(-7)), "-7");
        assert_eq!(text(Data::Bool(true)), "true");
        assert_eq!(text(Data::Error(calamine::CellErrorType::NA)), "");
        let dt = |v, t| Data::DateTime(ExcelDateTime::new(v, t, false));
        assert_eq!(text(dt(45943.0, ExcelDateTimeType::DateTime)), "2025-10-13");
        assert_eq!(
            text(dt(45943.5, ExcelDateTimeType::DateTime)),
            "2025-10-13T12:00:00"
        );
        assert_eq!(text(dt(0.75, ExcelDateTimeType::DateTime)), "18:00:00");
        assert_eq!(text(dt(1.5, ExcelDateTimeType::TimeDelta)), "36:00:00");
    }
}
