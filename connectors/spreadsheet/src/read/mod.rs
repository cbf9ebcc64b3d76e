//! Turns one dropped spreadsheet file (CSV/TSV/XLSX/XLS/XLSB/ODS) into a header row plus a
//! stream of raw data rows.
//!
//! Files dropped by marketing-ops admins are messy: wrong extensions, legacy encodings,
//! semicolon "CSV" from European Excel, report titles above the header, stray binaries. This
//! module decides what the file *is* from its content (extension is only a hint), finds the
//! header row, and yields the rows below it. It does not interpret cells; header mapping and
//! validation belong to the caller.
//!
//! CSV is streamed with bounded memory; a workbook loads the one chosen sheet.

mod cell;
mod delimited;
mod delimiter;
mod header;
mod sniff;
mod stream;
mod workbook;

use std::fmt;
use std::path::Path;

/// How to read a file.
pub struct ReadOptions<'a> {
    /// Worksheet to read by name; None = first non-empty sheet. Ignored for CSV.
    pub sheet: Option<&'a str>,
    /// Says whether a header cell (trimmed) is a known column name (the caller's header
    /// mapping). Used to find the header row past title rows: the row with the most known
    /// headers wins.
    pub is_known_header: &'a dyn Fn(&str) -> bool,
}

/// A matcher that knows no header names, for callers without a mapping (and tests).
const NO_KNOWN_HEADERS: &dyn Fn(&str) -> bool = &|_| false;

impl Default for ReadOptions<'_> {
    fn default() -> Self {
        ReadOptions {
            sheet: None,
            is_known_header: NO_KNOWN_HEADERS,
        }
    }
}

impl fmt::Debug for ReadOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadOptions")
            .field("sheet", &self.sheet)
            .finish_non_exhaustive()
    }
}

/// What the file turned out to be, judged by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text. `encoding` is an encoding_rs name: "UTF-8", "UTF-16LE", "UTF-16BE" or
    /// "windows-1252".
    Csv {
        delimiter: u8,
        encoding: &'static str,
    },
    Xlsx,
    Xls,
    /// Excel binary workbook: a ZIP like XLSX, read the same way.
    Xlsb,
    Ods,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Csv {
                delimiter,
                encoding,
            } => {
                let d = match delimiter {
                    b'\t' => "tab".to_string(),
                    d => format!("'{}'", char::from(*d)),
                };
                write!(f, "CSV ({d}-delimited, {encoding})")
            }
            Format::Xlsx => f.write_str("XLSX"),
            Format::Xls => f.write_str("XLS"),
            Format::Xlsb => f.write_str("XLSB"),
            Format::Ods => f.write_str("ODS"),
        }
    }
}

/// One data row below the header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRow {
    /// 1-based line where the record starts (CSV) or the sheet row as Excel shows it.
    pub number: u64,
    /// Cell text, not trimmed, as many cells as the file has on this row (may differ from
    /// the header width: the caller decides what to do with such rows). Line breaks inside
    /// CSV cells are normalised to `\n`.
    pub cells: Vec<String>,
}

/// A single row that could not be read; the caller rejects it and goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("row {number}: {reason}")]
pub struct RowError {
    pub number: u64,
    pub reason: String,
}

/// The whole file cannot be read; the message is meant for the admin who dropped it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("no header row found (the file is empty or has only blank rows)")]
    Empty,
    #[error("unsupported file: {0}")]
    Unsupported(String),
    #[error(
        "sheet {requested:?} not found; available sheets: {}",
        quoted_list(available)
    )]
    SheetNotFound {
        requested: String,
        available: Vec<String>,
    },
    #[error("cannot read {format} workbook: {message}")]
    Workbook { format: Format, message: String },
}

fn quoted_list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An opened file: its header and the rows below it, read on demand.
///
/// Iterate it (`for row in &mut table` or [`Table::rows`]) to get rows; for the hot path use
/// [`Table::next_into`], which reuses the caller's row buffer.
pub struct Table {
    pub format: Format,
    /// Header cells, trimmed, as found (duplicates kept, empty header cells kept as "").
    pub headers: Vec<String>,
    /// 1-based row number of the header row (CSV: line where the header record starts;
    /// workbooks: the sheet row as Excel shows it).
    pub header_row: u64,
    /// Sheet name for workbooks.
    pub sheet: Option<String>,
    /// Other sheets of the workbook that hold data but were not read (only when the sheet was
    /// chosen automatically).
    pub other_sheets: Vec<String>,
    rows: Rows,
}

enum Rows {
    Delimited(Box<delimited::CsvRows>),
    Sheet(workbook::SheetRows),
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("format", &self.format)
            .field("headers", &self.headers)
            .field("header_row", &self.header_row)
            .field("sheet", &self.sheet)
            .finish_non_exhaustive()
    }
}

impl Table {
    /// Reads the next non-empty data row into `row`, reusing its allocations.
    /// Returns `None` at the end of the table.
    pub fn next_into(&mut self, row: &mut RawRow) -> Option<Result<(), RowError>> {
        match &mut self.rows {
            Rows::Delimited(r) => r.next_into(row),
            Rows::Sheet(r) => r.next_into(row),
        }
    }

    /// The data rows, as an iterator borrowing the table.
    pub fn rows(&mut self) -> impl Iterator<Item = Result<RawRow, RowError>> + '_ {
        self.by_ref()
    }
}

impl Iterator for Table {
    type Item = Result<RawRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut row = RawRow {
            number: 0,
            cells: Vec::with_capacity(self.headers.len()),
        };
        Some(self.next_into(&mut row)?.map(|()| row))
    }
}

/// Opens `path` and finds its header row. Never modifies the file.
pub fn open(path: &Path, opts: &ReadOptions) -> Result<Table, ReadError> {
    let mut file = std::fs::File::open(path)?;
    let head = sniff::read_head(&mut file)?;
    let kind = sniff::classify(&head)?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    tracing::debug!(path = %path.display(), ?kind, "detected file kind");
    match kind {
        // The CSV stream continues from where the head ended: `file` was only read, never
        // repositioned.
        sniff::Kind::Text(encoding) => delimited::open(head, file, encoding, &ext, opts),
        sniff::Kind::Zip { ods } => workbook::open(path, workbook::Container::Zip { ods }, opts),
        sniff::Kind::Ole => workbook::open(path, workbook::Container::Ole, opts),
    }
}
