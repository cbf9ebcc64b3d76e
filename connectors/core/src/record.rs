use crate::{Cursor, Field};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a source record lives, so every value can be traced back to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Locator {
    /// A CRM's own record id. For that connector it is the strongest identity key there is.
    Crm { id: String },
    /// A data row of a dropped file: the file's content hash, its name when dropped, and the
    /// 1-based row: for delimited text, the line the record starts on (as a text editor shows
    /// it; a cell with line breaks makes later rows differ from a spreadsheet program's row
    /// numbers); for workbooks, the sheet row as the spreadsheet program shows it.
    File {
        hash: String,
        name: String,
        row: u64,
    },
}

impl Locator {
    /// The key that makes a record unique within its connector (stable across re-reads).
    pub fn key(&self) -> String {
        match self {
            Locator::Crm { id } => id.clone(),
            Locator::File { hash, row, .. } => format!("{hash}:{row}"),
        }
    }
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Locator::Crm { id } => write!(f, "record {id}"),
            Locator::File { name, row, .. } => write!(f, "{name} row {row}"),
        }
    }
}

/// One record as a source states it, mapped onto canonical fields but not yet normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub locator: Locator,
    /// When the source last saw these values (the CRM's `updatedAt`, the dropped file's mtime).
    pub observed_at: DateTime<Utc>,
    /// Values in source order; a multi-valued field ([`Field::is_multi_valued`]) may repeat.
    /// Empty cells are left out.
    pub values: Vec<(Field, String)>,
    /// The source deleted or archived the record; it is kept as a tombstone, never lost.
    #[serde(default)]
    pub archived: bool,
}

impl SourceRecord {
    /// The first value of a field, if any.
    pub fn get(&self, field: &Field) -> Option<&str> {
        self.values
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a field, in source order.
    pub fn all<'a>(&'a self, field: &'a Field) -> impl Iterator<Item = &'a str> + 'a {
        self.values
            .iter()
            .filter(move |(f, _)| f == field)
            .map(|(_, v)| v.as_str())
    }
}

/// A row the source could not turn into a usable record, kept with the reason and the original
/// cells so the operator can fix it and drop it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordReject {
    pub locator: Locator,
    pub reason: String,
    pub cells: Vec<String>,
}

/// A batch of records and rejects and the cursor that covers exactly them.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub records: Vec<SourceRecord>,
    pub rejects: Vec<RecordReject>,
    pub cursor: Cursor,
}
