//! One data row to one source record, or to a reject that says why.

use crate::mapping::{ColumnMap, is_blank};
use crate::read::RawRow;
use chrono::{DateTime, Utc};
use leadsync_connector_core::{Field, Locator, RecordReject, SourceRecord, email};

/// What every row of one file shares.
pub(crate) struct RowContext {
    pub(crate) hash: String,
    pub(crate) name: String,
    pub(crate) observed_at: DateTime<Utc>,
    pub(crate) headers: Vec<String>,
    pub(crate) default_source: Option<String>,
    pub(crate) default_form_kind: Option<String>,
}

impl RowContext {
    fn locator(&self, row: u64) -> Locator {
        Locator::File {
            hash: self.hash.clone(),
            name: self.name.clone(),
            row,
        }
    }

    pub(crate) fn reject(&self, row: u64, reason: String, cells: Vec<String>) -> RecordReject {
        RecordReject {
            locator: self.locator(row),
            reason,
            cells,
        }
    }
}

/// Maps a row, or rejects it when it cannot be a person: wrong width, an invalid email, or no
/// email, phone or name at all.
pub(crate) fn row_to_record(
    raw: &RawRow,
    map: &ColumnMap,
    ctx: &RowContext,
) -> Result<SourceRecord, RecordReject> {
    let reject = |reason: String| ctx.reject(raw.number, reason, raw.cells.clone());
    let width = raw.cells.len();
    let header_width = ctx.headers.len();
    let extra_filled = raw
        .cells
        .iter()
        .skip(header_width)
        .any(|c| !c.trim().is_empty());
    if width < header_width || extra_filled {
        return Err(reject(format!(
            "row has {width} cells but the header has {header_width}"
        )));
    }
    let mut values = Vec::with_capacity(width);
    let mut identified = false;
    for ((cell, field), header) in raw.cells.iter().zip(&map.fields).zip(&ctx.headers) {
        let Some(field) = field else { continue };
        if is_blank(cell) {
            continue;
        }
        let cell = cell.trim();
        match field {
            Field::Email => {
                // Several addresses in one cell: "a@x.com; b@y.com".
                for part in cell
                    .split([';', ','])
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                {
                    if let Err(e) = email::normalize(part) {
                        return Err(reject(format!("{e} in column `{header}`")));
                    }
                    values.push((Field::Email, part.to_string()));
                    identified = true;
                }
            }
            Field::Phone => {
                identified |= cell.chars().filter(char::is_ascii_digit).count() >= 6;
                values.push((Field::Phone, cell.to_string()));
            }
            Field::FirstName | Field::LastName | Field::FullName => {
                identified = true;
                values.push((field.clone(), cell.to_string()));
            }
            other => values.push((other.clone(), cell.to_string())),
        }
    }
    if !identified {
        return Err(reject("no email, phone or name".to_string()));
    }
    let mut add_default = |field: Field, value: &Option<String>| {
        if let Some(v) = value
            && !values.iter().any(|(f, _)| *f == field)
        {
            values.push((field, v.clone()));
        }
    };
    add_default(Field::Source, &ctx.default_source);
    add_default(Field::FormKind, &ctx.default_form_kind);
    Ok(SourceRecord {
        locator: ctx.locator(raw.number),
        observed_at: ctx.observed_at,
        values,
        archived: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SpreadsheetConfig;
    use std::path::Path;

    fn setup(headers: &[&str]) -> (ColumnMap, RowContext) {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        let map = ColumnMap::new(&headers, &SpreadsheetConfig::for_inbox(Path::new("/x")));
        let ctx = RowContext {
            hash: "h".into(),
            name: "f.csv".into(),
            observed_at: Utc::now(),
            headers: headers.clone(),
            default_source: Some("webinar".into()),
            default_form_kind: None,
        };
        (map, ctx)
    }

    fn row(cells: &[&str]) -> RawRow {
        RawRow {
            number: 7,
            cells: cells.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn a_good_row_maps_and_gets_defaults() {
        let (map, ctx) = setup(&["Email", "First Name", "Phone Number", "Notes"]);
        let r = row_to_record(&row(&["a@x.io; b@y.io", "Ann", "null", "vip"]), &map, &ctx).unwrap();
        assert_eq!(
            r.values,
            vec![
                (Field::Email, "a@x.io".into()),
                (Field::Email, "b@y.io".into()),
                (Field::FirstName, "Ann".into()),
                (Field::Custom("notes".into()), "vip".into()),
                (Field::Source, "webinar".into()),
            ]
        );
        assert_eq!(r.locator.to_string(), "f.csv row 7");
    }

    #[test]
    fn unusable_rows_are_rejected_with_the_reason() {
        let (map, ctx) = setup(&["Email", "First Name", "Phone Number"]);
        let e = row_to_record(&row(&["john at acme.com", "John", ""]), &map, &ctx).unwrap_err();
        assert!(
            e.reason.contains("invalid email `john at acme.com`")
                && e.reason.contains("column `Email`"),
            "{}",
            e.reason
        );
        let e = row_to_record(&row(&["", "", "n/a"]), &map, &ctx).unwrap_err();
        assert_eq!(e.reason, "no email, phone or name");
        let e = row_to_record(&row(&["a@x.io", "A"]), &map, &ctx).unwrap_err();
        assert_eq!(e.reason, "row has 2 cells but the header has 3");
        let e = row_to_record(&row(&["a@x.io", "A", "1", "extra"]), &map, &ctx).unwrap_err();
        assert_eq!(e.reason, "row has 4 cells but the header has 3");
        assert_eq!(e.cells.len(), 4, "the original cells are kept");
        assert!(
            row_to_record(&row(&["a@x.io", "A", "", "", ""]), &map, &ctx).is_ok(),
            "trailing empty cells are fine"
        );
        let e = row_to_record(&row(&["", "", "call me"]), &map, &ctx).unwrap_err();
        assert_eq!(e.reason, "no email, phone or name");
    }
}
