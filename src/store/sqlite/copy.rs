//! A SQLite store seen as tables of rows, for `store copy` (see `store/copy.rs`).

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::copy::{
    Backend, Catalog, Column, CopyError, Export, Import, Kind, Row, Value, quoted,
};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Transaction, TransactionBehavior};

/// The most rows one INSERT writes: SQLite binds at most 32,766 values per statement.
const ROWS_PER_INSERT: usize = 500;
const MAX_VALUES: usize = 32_766;

impl Backend for SqliteStore {
    fn location(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    /// A read transaction: in WAL mode it sees one snapshot from its first read on.
    fn export(&mut self) -> Result<Box<dyn Export + '_>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)?;
        Ok(Box::new(Tables { tx }))
    }

    /// IMMEDIATE: the write lock is taken now and held until the copy commits.
    fn import(&mut self) -> Result<Box<dyn Import + '_>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(Box::new(Tables { tx }))
    }
}

struct Tables<'c> {
    tx: Transaction<'c>,
}

impl Catalog for Tables<'_> {
    fn tables(&mut self) -> Result<Vec<String>, StoreError> {
        // `sqlite_master` lists objects in the order they were created.
        let mut stmt = self.tx.prepare(
            r"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY rowid",
        )?;
        let names = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(names)
    }

    fn columns(&mut self, table: &str) -> Result<Vec<Column>, CopyError> {
        let mut stmt = self
            .tx
            .prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")
            .map_err(StoreError::from)?;
        let columns = stmt
            .query_map([table], |r| {
                Ok(Column {
                    name: r.get(0)?,
                    kind: kind_of(&r.get::<_, String>(1)?),
                })
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(StoreError::from)?;
        Ok(columns)
    }

    fn count(&mut self, table: &str) -> Result<u64, StoreError> {
        let sql = format!("SELECT count(*) FROM {}", quoted(table));
        let n: i64 = self.tx.query_row(&sql, [], |r| r.get(0))?;
        Ok(n as u64)
    }
}

/// The kind of a column by its declared type, as SQLite's own affinity rules read it; `BOOL`
/// first, for a flag declared as such (leadsync declares its flags `INTEGER`: they copy as
/// integers and convert on the way into a boolean column).
fn kind_of(declared: &str) -> Kind {
    let t = declared.to_ascii_uppercase();
    if t.contains("BOOL") {
        Kind::Bool
    } else if t.contains("INT") {
        Kind::Int
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        Kind::Text
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        Kind::Real
    } else if t.contains("BLOB") {
        Kind::Blob
    } else {
        Kind::Any
    }
}

impl Export for Tables<'_> {
    fn rows(
        &mut self,
        table: &str,
        columns: &[Column],
        visit: &mut dyn FnMut(Row) -> Result<(), CopyError>,
    ) -> Result<(), CopyError> {
        let names: Vec<String> = columns.iter().map(|c| quoted(&c.name)).collect();
        let sql = format!("SELECT {} FROM {}", names.join(", "), quoted(table));
        let mut stmt = self.tx.prepare(&sql).map_err(StoreError::from)?;
        let mut rows = stmt.query([]).map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let row = (0..columns.len())
                .map(|i| r.get_ref(i).map(value_of))
                .collect::<Result<Row, _>>()
                .map_err(StoreError::from)?;
            visit(row)?;
        }
        Ok(())
    }
}

/// A stored value as it is: SQLite keeps a type per value, not per column.
fn value_of(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn bound(v: &Value) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(match v {
        Value::Null => ValueRef::Null,
        Value::Int(i) => ValueRef::Integer(*i),
        Value::Bool(b) => ValueRef::Integer(i64::from(*b)),
        Value::Real(r) => ValueRef::Real(*r),
        Value::Text(t) => ValueRef::Text(t.as_bytes()),
        Value::Blob(b) => ValueRef::Blob(b),
    })
}

impl Import for Tables<'_> {
    /// Multi-row INSERTs, each prepared once per size and table.
    fn insert(&mut self, table: &str, columns: &[Column], rows: &[Row]) -> Result<(), StoreError> {
        let names: Vec<String> = columns.iter().map(|c| quoted(&c.name)).collect();
        let tuple = format!("({})", vec!["?"; columns.len()].join(", "));
        let per_insert = ROWS_PER_INSERT
            .min(MAX_VALUES / columns.len().max(1))
            .max(1);
        for chunk in rows.chunks(per_insert) {
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {}",
                quoted(table),
                names.join(", "),
                vec![tuple.as_str(); chunk.len()].join(", ")
            );
            let mut stmt = self.tx.prepare_cached(&sql)?;
            let values: Vec<ToSqlOutput<'_>> = chunk.iter().flatten().map(bound).collect();
            stmt.execute(rusqlite::params_from_iter(values))?;
        }
        Ok(())
    }

    /// Nothing to move: an `INTEGER PRIMARY KEY` continues after the largest id stored.
    fn finish(self: Box<Self>) -> Result<(), CopyError> {
        self.tx.commit().map_err(StoreError::from)?;
        Ok(())
    }
}
