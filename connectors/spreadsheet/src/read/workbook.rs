//! Workbooks (XLSX, XLSB, XLS, ODS) via calamine. The chosen sheet is loaded into memory as
//! one `Range`; rows are rendered to text as they are requested.

use std::fs::File;
use std::io::BufReader;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use calamine::{Data, Range, Reader, SheetType, Sheets, open_workbook};

use super::cell::{cell_text, is_blank_cell, render_row};
use super::{Format, RawRow, ReadError, ReadOptions, RowError, Rows, Table, header};

/// The container the magic number revealed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Container {
    Zip { ods: bool },
    Ole,
}

/// Rows of one sheet below its header. Cells start at the sheet's first used column.
pub(super) struct SheetRows {
    range: Range<Data>,
    /// Index (within the range) of the next row to yield.
    next: usize,
    /// 0-based sheet row of the range's first row.
    first_row: u64,
}

/// Opens the workbook at `path`, picks the sheet and finds its header row.
pub(super) fn open(
    path: &Path,
    container: Container,
    opts: &ReadOptions,
) -> Result<Table, ReadError> {
    // calamine parses untrusted bytes; should it panic on a malformed file, that file is
    // failed rather than the daemon.
    let loaded = catch_unwind(AssertUnwindSafe(|| load(path, container, opts.sheet)));
    let (format, sheet, range, other_sheets) = loaded.unwrap_or_else(|_| {
        let format = match container {
            Container::Zip { ods: true } => Format::Ods,
            Container::Zip { ods: false } => Format::Xlsx,
            Container::Ole => Format::Xls,
        };
        Err(ReadError::Workbook {
            format,
            message: "the file is malformed".to_string(),
        })
    })?;

    let first_row = range.start().map_or(0, |(row, _)| u64::from(row));
    let mut sample: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, cells) in range.rows().enumerate() {
        let text = render_row(cells);
        if !header::is_blank(&text) {
            sample.push((i, text));
            if sample.len() == header::SAMPLE_ROWS {
                break;
            }
        }
    }
    let cells: Vec<&[String]> = sample.iter().map(|(_, c)| c.as_slice()).collect();
    let h = header::choose(&cells, opts.is_known_header).ok_or(ReadError::Empty)?;
    let (index, headers) = &sample[h];
    Ok(Table {
        format,
        headers: headers.iter().map(|c| c.trim().to_string()).collect(),
        header_row: first_row + *index as u64 + 1,
        sheet: Some(sheet),
        other_sheets,
        rows: Rows::Sheet(SheetRows {
            range,
            next: index + 1,
            first_row,
        }),
    })
}

impl SheetRows {
    /// The next non-blank row.
    pub(super) fn next_into(&mut self, row: &mut RawRow) -> Option<Result<(), RowError>> {
        while let Some(cells) = self.range.rows().nth(self.next) {
            let index = self.next;
            self.next += 1;
            row.cells.truncate(cells.len());
            row.cells.resize(cells.len(), String::new());
            for (out, cell) in row.cells.iter_mut().zip(cells) {
                out.clear();
                cell_text(cell, out);
            }
            if !header::is_blank(&row.cells) {
                row.number = self.first_row + index as u64 + 1;
                return Some(Ok(()));
            }
        }
        None
    }
}

fn load(
    path: &Path,
    container: Container,
    requested: Option<&str>,
) -> Result<(Format, String, Range<Data>, Vec<String>), ReadError> {
    let (format, mut book) = open_book(path, container)?;
    let failed = |e: calamine::Error| ReadError::Workbook {
        format,
        message: e.to_string(),
    };
    let names = book.sheet_names();
    if let Some(want) = requested {
        let found = names.iter().find(|n| *n == want).or_else(|| {
            names
                .iter()
                .find(|n| n.trim().to_lowercase() == want.trim().to_lowercase())
        });
        let Some(name) = found else {
            return Err(ReadError::SheetNotFound {
                requested: want.to_string(),
                available: names,
            });
        };
        let range = book.worksheet_range(name).map_err(failed)?;
        return Ok((format, name.clone(), range, Vec::new()));
    }
    let worksheets: Vec<String> = book
        .sheets_metadata()
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .collect();
    let mut first_error = None;
    for (i, name) in worksheets.iter().enumerate() {
        match book.worksheet_range(name) {
            Ok(range) if range.used_cells().any(|(_, _, c)| !is_blank_cell(c)) => {
                // Say which other sheets hold data too, so they are not skipped unnoticed.
                let others = worksheets[i + 1..]
                    .iter()
                    .filter(|n| {
                        book.worksheet_range(n)
                            .is_ok_and(|r| r.used_cells().any(|(_, _, c)| !is_blank_cell(c)))
                    })
                    .cloned()
                    .collect();
                return Ok((format, name.clone(), range, others));
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(sheet = %name, error = %e, "skipping unreadable sheet");
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.map_or(ReadError::Empty, failed))
}

/// Opens the workbook with the reader its container calls for. A ZIP without an ODS
/// mimetype is tried as XLSX, then XLSB, then ODS (for ODS files written without the
/// mimetype entry first).
fn open_book(
    path: &Path,
    container: Container,
) -> Result<(Format, Sheets<BufReader<File>>), ReadError> {
    match container {
        Container::Ole => open_workbook(path)
            .map(|b| (Format::Xls, Sheets::Xls(b)))
            .map_err(|e| ReadError::Workbook {
                format: Format::Xls,
                message: format!(
                    "{e} (password-protected workbooks and other Office files share this \
                     container; save an unprotected .xlsx copy)"
                ),
            }),
        Container::Zip { ods: true } => open_workbook(path)
            .map(|b| (Format::Ods, Sheets::Ods(b)))
            .map_err(|e| ReadError::Workbook {
                format: Format::Ods,
                message: e.to_string(),
            }),
        Container::Zip { ods: false } => {
            let xlsx_error = match open_workbook(path) {
                Ok(b) => return Ok((Format::Xlsx, Sheets::Xlsx(b))),
                Err(e) => e,
            };
            if let Ok(b) = open_workbook(path) {
                return Ok((Format::Xlsb, Sheets::Xlsb(b)));
            }
            if let Ok(b) = open_workbook(path) {
                return Ok((Format::Ods, Sheets::Ods(b)));
            }
            if looks_like_office_zip(path) {
                // It starts like a workbook: it is one, damaged or cut short (an interrupted
                // upload or export), not the wrong kind of file.
                return Err(ReadError::Workbook {
                    format: Format::Xlsx,
                    message: format!(
                        "the workbook is damaged or incomplete (was the upload or export cut \
                         short?): {xlsx_error}"
                    ),
                });
            }
            Err(ReadError::Unsupported(format!(
                "it looks like a ZIP archive that is not an Excel or OpenDocument workbook \
                 ({xlsx_error})"
            )))
        }
    }
}

/// Whether the first entry of a ZIP file is one an Office Open XML package starts with
/// (`[Content_Types].xml`, `_rels/`, `xl/`, `docProps/`): read from its local file header, which
/// survives truncation, unlike the central directory at the end.
fn looks_like_office_zip(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 96];
    let Ok(n) = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)) else {
        return false;
    };
    if n < 30 || &head[..4] != b"PK\x03\x04" {
        return false;
    }
    let len = usize::from(u16::from_le_bytes([head[26], head[27]]));
    let name = &head[30..(30 + len).min(n)];
    [&b"[Content_Types].xml"[..], b"_rels/", b"xl/", b"docProps/"]
        .iter()
        .any(|p| name.starts_with(p))
}
