//! `leadsync store copy`: a whole store copied into another, of either backend, for users moving
//! up from SQLite to PostgreSQL.
//!
//! Nothing here knows leadsync's tables: each backend shows its store as tables of rows
//! ([`Export`], [`Import`]), read from its own catalog, so a copy keeps working when migrations
//! add tables or columns. The columns copied are those both sides have; a value is converted to
//! the type of the target's column (SQLite keeps flags as 0/1 integers, PostgreSQL as booleans;
//! times and JSON are text on both).
//!
//! The copy reads one snapshot of the source and writes the target in one transaction that
//! holds the target's write lock: a failed or refused copy leaves the target as empty as it was
//! (its schema, made when it was opened, stays), so running the copy again is always safe.

use super::StoreError;
use std::time::{Duration, Instant};

/// Tables and columns that are never copied: they coordinate running processes (schema
/// versions, leases, claims, rate budgets), not data, and mean nothing in another store. The
/// `claim*` columns, `leases`, `rate_ledger` and `cluster_marks` arrive with migration 2 of
/// both backends; a name absent from a store is simply not there to skip.
pub(crate) const NOT_COPIED: NotCopied = NotCopied {
    tables: &[
        "leadsync_schema",
        "sqlite_sequence",
        "leases",
        "rate_ledger",
        "cluster_marks",
        // PostgreSQL's record of the last transaction that wrote keys, kept by a trigger.
        "key_writes",
    ],
    outbox_columns: &["claim_token", "claimed_until", "claimed_by"],
};

pub(crate) struct NotCopied {
    pub(crate) tables: &'static [&'static str],
    /// Columns of `outbox` left out (a target that has them gets their defaults).
    pub(crate) outbox_columns: &'static [&'static str],
}

impl NotCopied {
    fn table(&self, table: &str) -> bool {
        self.tables.contains(&table)
    }

    pub(crate) fn column(&self, table: &str, column: &str) -> bool {
        table == "outbox" && self.outbox_columns.contains(&column)
    }
}

/// Rows read, converted and written at a time: a few hundred kilobytes held in memory.
const BATCH_ROWS: usize = 2_000;

/// One stored value, as both backends can hold it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    Blob(Vec<u8>),
}

/// One row, its values in the order of the columns asked for.
pub(crate) type Row = Vec<Value>;

/// What a column holds, as far as a copy must convert values for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Real,
    Text,
    Bool,
    Blob,
    /// No declared type (SQLite): takes any value as it is.
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) kind: Kind,
}

/// What both sides of a copy can tell about their tables, inside their transaction.
pub(crate) trait Catalog {
    /// Every table of the store in the order it was created: a table is created after the
    /// tables it refers to, so this is also an order to fill them in.
    fn tables(&mut self) -> Result<Vec<String>, StoreError>;
    /// The table's columns, in their order.
    fn columns(&mut self, table: &str) -> Result<Vec<Column>, CopyError>;
    /// How many rows the table holds.
    fn count(&mut self, table: &str) -> Result<u64, StoreError>;
}

/// One snapshot of a store being read; it sees nothing committed after it began.
pub(crate) trait Export: Catalog {
    /// Streams every row of `table` (the `columns` named, in that order) to `visit`, without
    /// holding them all; stops at the first error `visit` returns.
    fn rows(
        &mut self,
        table: &str,
        columns: &[Column],
        visit: &mut dyn FnMut(Row) -> Result<(), CopyError>,
    ) -> Result<(), CopyError>;
}

/// The one transaction a store is filled in, holding its write lock. Dropped without
/// [`Import::finish`], it rolls everything back.
pub(crate) trait Import: Catalog {
    /// Writes `rows` (values already converted to `columns`' kinds) in bulk.
    fn insert(&mut self, table: &str, columns: &[Column], rows: &[Row]) -> Result<(), StoreError>;
    /// Moves every id generator past the ids copied (so new rows do not collide), then commits.
    fn finish(self: Box<Self>) -> Result<(), CopyError>;
}

/// A store opened for copying: the backend's own store type.
pub(crate) trait Backend {
    /// Where the store is, for messages (never with a password).
    fn location(&self) -> String;
    fn export(&mut self) -> Result<Box<dyn Export + '_>, StoreError>;
    fn import(&mut self) -> Result<Box<dyn Import + '_>, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CopyError {
    #[error(
        "{side}: `{url}` is not a store leadsync knows; write sqlite://PATH or postgres://USER@HOST:PORT/DATABASE"
    )]
    Url { side: &'static str, url: String },
    #[error(
        "{0}: the URL holds a password; take it out and pass the name of a variable holding it ({0}-password-env NAME), or set PGPASSWORD"
    )]
    PasswordInUrl(&'static str),
    #[error("--from: there is no store at {0}; check the path (a copy never creates its source)")]
    NoSource(String),
    #[error(
        "the target store at {location} is not empty: table `{table}` holds {rows} row(s); copy only into a new, empty store (nothing was written)"
    )]
    NotEmpty {
        location: String,
        table: String,
        rows: u64,
    },
    #[error(
        "the target store at {location} has no table `{table}` for the source's rows; are both stores from this leadsync's version? (nothing was written)"
    )]
    MissingTable { location: String, table: String },
    #[error(
        "the target store at {location} has no column `{table}.{column}` for the source's values; are both stores from this leadsync's version? (nothing was written)"
    )]
    MissingColumn {
        location: String,
        table: String,
        column: String,
    },
    #[error(
        "table `{table}`: column `{column}` holds {value}, which a {kind:?} column of the target cannot take (nothing was written)"
    )]
    Convert {
        table: String,
        column: String,
        value: String,
        kind: Kind,
    },
    #[error(
        "table `{table}`: column `{column}` has type `{ty}`, which a copy does not know how to convert"
    )]
    UnknownType {
        table: String,
        column: String,
        ty: String,
    },
    #[error(
        "sequence `{0}` of the target belongs to no column and is not in store/postgres/copy.rs's list of free sequences; it cannot be moved past the copied ids (nothing was written)"
    )]
    UnknownSequence(String),
    #[error(
        "table `{table}`: the source holds {source_rows} row(s) but the target {target_rows} after the copy; nothing was written"
    )]
    CountMismatch {
        table: String,
        source_rows: u64,
        target_rows: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CopyError {
    /// Whether the operator must change the command (exit 2) rather than retry it (exit 1).
    pub(crate) fn is_usage(&self) -> bool {
        match self {
            CopyError::Url { .. }
            | CopyError::PasswordInUrl(_)
            | CopyError::NoSource(_)
            | CopyError::NotEmpty { .. } => true,
            CopyError::Store(e) => e.kind() == super::StoreErrorKind::Auth,
            _ => false,
        }
    }
}

/// Which side of the copy a store is, for messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    From,
    To,
}

impl Side {
    fn flag(self) -> &'static str {
        match self {
            Side::From => "--from",
            Side::To => "--to",
        }
    }
}

/// Opens (and migrates, as any open does) the store at `url` for a copy. A source must already
/// exist: a mistyped SQLite path would otherwise copy an empty store it just created.
pub(crate) fn open(
    url: &str,
    password: Option<secrecy::SecretString>,
    side: Side,
) -> Result<Box<dyn Backend>, CopyError> {
    if let Some(path) = url.strip_prefix("sqlite://").filter(|p| !p.is_empty()) {
        if matches!(side, Side::From) && !std::path::Path::new(path).is_file() {
            return Err(CopyError::NoSource(path.to_string()));
        }
        return Ok(Box::new(super::SqliteStore::open(path)?));
    }
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let userinfo = rest.split_once('@').map_or("", |(u, _)| u);
        if userinfo.contains(':') {
            return Err(CopyError::PasswordInUrl(side.flag()));
        }
        return Ok(Box::new(super::PgStore::open(url, password)?));
    }
    Err(CopyError::Url {
        side: side.flag(),
        url: url.to_string(),
    })
}

/// What a copy reports as it goes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Progress<'a> {
    /// `rows` of `table` written so far (after each batch).
    Rows { table: &'a str, rows: u64 },
    /// `table` is done.
    Table {
        table: &'a str,
        rows: u64,
        elapsed: Duration,
    },
}

/// One table copied: its name and rows (equal on both sides once the copy returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Copied {
    pub(crate) table: String,
    pub(crate) rows: u64,
}

/// Copies every table of `from` into `to`, which must be empty, then checks that each table
/// holds as many rows on both sides. Commits only when everything matched.
pub(crate) fn copy(
    from: &mut dyn Backend,
    to: &mut dyn Backend,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<Copied>, CopyError> {
    let location = to.location();
    let mut source = from.export()?;
    let mut target = to.import()?;
    refuse_non_empty(target.as_mut(), &location)?;
    let mut copied = Vec::new();
    for table in source.tables()? {
        if NOT_COPIED.table(&table) {
            continue;
        }
        let columns = matched_columns(source.as_mut(), target.as_mut(), &table, &location)?;
        let started = Instant::now();
        let rows = copy_table(source.as_mut(), target.as_mut(), &table, &columns, progress)?;
        progress(Progress::Table {
            table: &table,
            rows,
            elapsed: started.elapsed(),
        });
        copied.push(table);
    }
    let mut counted = Vec::new();
    for table in copied {
        let (source_rows, target_rows) = (source.count(&table)?, target.count(&table)?);
        if source_rows != target_rows {
            return Err(CopyError::CountMismatch {
                table,
                source_rows,
                target_rows,
            });
        }
        counted.push(Copied {
            table,
            rows: source_rows,
        });
    }
    target.finish()?;
    Ok(counted)
}

/// Fails naming the first table of the target that holds rows.
fn refuse_non_empty(target: &mut dyn Import, location: &str) -> Result<(), CopyError> {
    for table in target.tables()? {
        if NOT_COPIED.table(&table) {
            continue;
        }
        let rows = target.count(&table)?;
        if rows > 0 {
            return Err(CopyError::NotEmpty {
                location: location.to_string(),
                table,
                rows,
            });
        }
    }
    Ok(())
}

/// The columns of `table` to copy, each as the target has it: every column of the source but
/// those never copied. One the target lacks would lose data, so it fails the copy.
fn matched_columns(
    source: &mut dyn Export,
    target: &mut dyn Import,
    table: &str,
    location: &str,
) -> Result<Vec<(Column, Column)>, CopyError> {
    let theirs = target.columns(table)?;
    if theirs.is_empty() {
        return Err(CopyError::MissingTable {
            location: location.to_string(),
            table: table.to_string(),
        });
    }
    let mut pairs = Vec::new();
    for ours in source.columns(table)? {
        if NOT_COPIED.column(table, &ours.name) {
            continue;
        }
        let Some(them) = theirs.iter().find(|c| c.name == ours.name) else {
            return Err(CopyError::MissingColumn {
                location: location.to_string(),
                table: table.to_string(),
                column: ours.name,
            });
        };
        pairs.push((ours, them.clone()));
    }
    Ok(pairs)
}

/// Streams one table across in batches; the rows written.
fn copy_table(
    source: &mut dyn Export,
    target: &mut dyn Import,
    table: &str,
    columns: &[(Column, Column)],
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<u64, CopyError> {
    let (read, write): (Vec<Column>, Vec<Column>) = columns.iter().cloned().unzip();
    let mut batch: Vec<Row> = Vec::with_capacity(BATCH_ROWS);
    let mut written = 0u64;
    let mut flush = |batch: &mut Vec<Row>, target: &mut dyn Import| -> Result<(), CopyError> {
        target.insert(table, &write, batch)?;
        written += batch.len() as u64;
        batch.clear();
        progress(Progress::Rows {
            table,
            rows: written,
        });
        Ok(())
    };
    source.rows(table, &read, &mut |row| {
        let row = row
            .into_iter()
            .zip(&write)
            .map(|(value, column)| convert(value, column.kind, table, &column.name))
            .collect::<Result<Row, _>>()?;
        batch.push(row);
        if batch.len() == BATCH_ROWS {
            flush(&mut batch, target)?;
        }
        Ok(())
    })?;
    if !batch.is_empty() {
        flush(&mut batch, target)?;
    }
    Ok(written)
}

/// `value` as a column of `kind` holds it: flags between 0/1 and booleans, whole numbers between
/// integers and reals; anything else must already be of the column's kind.
pub(crate) fn convert(
    value: Value,
    kind: Kind,
    table: &str,
    column: &str,
) -> Result<Value, CopyError> {
    let converted = match (value, kind) {
        (Value::Null, _) => Ok(Value::Null),
        (v, Kind::Any) => Ok(v),
        (Value::Int(i), Kind::Int) => Ok(Value::Int(i)),
        (Value::Bool(b), Kind::Int) => Ok(Value::Int(i64::from(b))),
        (Value::Real(r), Kind::Int) if r.fract() == 0.0 && r.abs() < 9.0e15 => {
            Ok(Value::Int(r as i64))
        }
        (Value::Int(0), Kind::Bool) => Ok(Value::Bool(false)),
        (Value::Int(1), Kind::Bool) => Ok(Value::Bool(true)),
        (Value::Bool(b), Kind::Bool) => Ok(Value::Bool(b)),
        (Value::Real(r), Kind::Real) => Ok(Value::Real(r)),
        (Value::Int(i), Kind::Real) if i.unsigned_abs() < 1 << 53 => Ok(Value::Real(i as f64)),
        (Value::Text(t), Kind::Text) => Ok(Value::Text(t)),
        (Value::Blob(b), Kind::Blob) => Ok(Value::Blob(b)),
        (v, _) => Err(v),
    };
    converted.map_err(|value| CopyError::Convert {
        table: table.to_string(),
        column: column.to_string(),
        value: shown(&value),
        kind,
    })
}

/// A value as an error message shows it: its kind, and a short text.
fn shown(value: &Value) -> String {
    match value {
        Value::Text(t) if t.chars().count() > 40 => {
            format!("the text `{}…`", t.chars().take(40).collect::<String>())
        }
        Value::Text(t) => format!("the text `{t}`"),
        Value::Blob(b) => format!("{} bytes of binary data", b.len()),
        other => format!("{other:?}"),
    }
}

/// `name` quoted as an SQL identifier (both backends quote alike).
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(value: Value, kind: Kind) -> Result<Value, String> {
        convert(value, kind, "t", "c").map_err(|e| e.to_string())
    }

    #[test]
    fn flags_and_numbers_convert_to_the_target_columns_kind() {
        assert_eq!(conv(Value::Int(1), Kind::Bool), Ok(Value::Bool(true)));
        assert_eq!(conv(Value::Int(0), Kind::Bool), Ok(Value::Bool(false)));
        assert_eq!(conv(Value::Bool(true), Kind::Int), Ok(Value::Int(1)));
        assert_eq!(conv(Value::Int(3), Kind::Real), Ok(Value::Real(3.0)));
        assert_eq!(conv(Value::Real(4.0), Kind::Int), Ok(Value::Int(4)));
        assert_eq!(conv(Value::Null, Kind::Bool), Ok(Value::Null));
        assert_eq!(
            conv(Value::Text("x".into()), Kind::Any),
            Ok(Value::Text("x".into()))
        );
    }

    #[test]
    fn a_value_the_target_cannot_hold_fails_naming_table_column_and_value() {
        let err = conv(Value::Int(2), Kind::Bool).unwrap_err();
        assert!(err.contains("table `t`: column `c` holds Int(2)"), "{err}");
        let err = conv(Value::Text("2026-01-01".into()), Kind::Int).unwrap_err();
        assert!(err.contains("the text `2026-01-01`"), "{err}");
        assert!(conv(Value::Real(0.5), Kind::Int).is_err());
    }

    #[test]
    fn coordination_tables_and_claim_columns_are_never_copied() {
        for table in [
            "leadsync_schema",
            "sqlite_sequence",
            "leases",
            "rate_ledger",
        ] {
            assert!(NOT_COPIED.table(table), "{table}");
        }
        assert!(!NOT_COPIED.table("persons"));
        assert!(NOT_COPIED.column("outbox", "claim_token"));
        assert!(!NOT_COPIED.column("outbox", "status"));
        assert!(!NOT_COPIED.column("persons", "claim_token"));
    }
}
