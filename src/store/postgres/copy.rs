//! A PostgreSQL store seen as tables of rows, for `store copy` (see `store/copy.rs`).

use super::PgStore;
use super::conn::Db;
use super::tx::PgTx;
use crate::store::copy::{
    Backend, Catalog, Column, CopyError, Export, Import, Kind, Row, Value, quoted,
};
use crate::store::{StoreError, StoreTx};
use tokio_postgres::types::{ToSql, Type};

/// Sequences that belong to no column (`OWNED BY` none), with the column whose ids they hand
/// out: after a copy each is moved past that column's largest value. A free sequence missing
/// here fails the copy, so a migration that adds one cannot go unnoticed.
const FREE_SEQUENCES: &[(&str, &str, &str)] = &[
    // Person ids are taken in blocks by `next_person_id` (persons.rs), not by a column default.
    ("person_ids", "persons", "id"),
];

impl Backend for PgStore {
    fn location(&self) -> String {
        self.location.clone()
    }

    /// One snapshot for every read of the copy, counts included.
    fn export(&mut self) -> Result<Box<dyn Export + '_>, StoreError> {
        self.db
            .batch("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        Ok(Box::new(Snapshot { db: &self.db }))
    }

    /// The store's own write transaction, under its write lock.
    fn import(&mut self) -> Result<Box<dyn Import + '_>, StoreError> {
        Ok(Box::new(Writer {
            tx: PgTx::begin(&self.db, &crate::store::cluster::NO_FENCING, &mut self.keys)?,
        }))
    }
}

struct Snapshot<'c> {
    db: &'c Db,
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.db.batch("ROLLBACK") {
            tracing::warn!(error = %e, "Ending a PostgreSQL read transaction failed.");
        }
    }
}

struct Writer<'c> {
    tx: PgTx<'c>,
}

impl Catalog for Snapshot<'_> {
    fn tables(&mut self) -> Result<Vec<String>, StoreError> {
        tables(self.db)
    }
    fn columns(&mut self, table: &str) -> Result<Vec<Column>, CopyError> {
        columns(self.db, table)
    }
    fn count(&mut self, table: &str) -> Result<u64, StoreError> {
        count(self.db, table)
    }
}

impl Catalog for Writer<'_> {
    fn tables(&mut self) -> Result<Vec<String>, StoreError> {
        tables(self.tx.db)
    }
    fn columns(&mut self, table: &str) -> Result<Vec<Column>, CopyError> {
        columns(self.tx.db, table)
    }
    fn count(&mut self, table: &str) -> Result<u64, StoreError> {
        count(self.tx.db, table)
    }
}

/// The schema's tables, oldest first (table oids grow as tables are created).
fn tables(db: &Db) -> Result<Vec<String>, StoreError> {
    Ok(db
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY c.oid",
            &[],
        )?
        .into_iter()
        .map(|r| r.get(0))
        .collect())
}

fn columns(db: &Db, table: &str) -> Result<Vec<Column>, CopyError> {
    db.query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        &[&table],
    )?
    .into_iter()
    .map(|r| -> (String, String) { (r.get(0), r.get(1)) })
    // What is not copied needs no conversion (the claims' times are the server's own type).
    .filter(|(name, _)| !crate::store::copy::NOT_COPIED.column(table, name))
    .map(|(name, ty)| {
        let kind = match ty.as_str() {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "boolean" => Kind::Bool,
            "text" | "character varying" | "character" => Kind::Text,
            "double precision" | "real" => Kind::Real,
            "bytea" => Kind::Blob,
            _ => {
                return Err(CopyError::UnknownType {
                    table: table.to_string(),
                    column: name,
                    ty,
                });
            }
        };
        Ok(Column { name, kind })
    })
    .collect()
}

fn count(db: &Db, table: &str) -> Result<u64, StoreError> {
    let n: i64 = db
        .query_one(&format!("SELECT count(*) FROM {}", quoted(table)), &[])?
        .get(0);
    Ok(n as u64)
}

impl Export for Snapshot<'_> {
    fn rows(
        &mut self,
        table: &str,
        columns: &[Column],
        visit: &mut dyn FnMut(Row) -> Result<(), CopyError>,
    ) -> Result<(), CopyError> {
        let names: Vec<String> = columns.iter().map(|c| quoted(&c.name)).collect();
        let sql = format!("SELECT {} FROM {}", names.join(", "), quoted(table));
        // The stream stops at a `StoreError`; the copy's own error waits here meanwhile.
        let mut stopped: Option<CopyError> = None;
        let streamed = self.db.stream(&sql, &mut |r| {
            let row = (0..columns.len())
                .map(|i| value_of(&r, i, table))
                .collect::<Result<Row, _>>()
                .and_then(&mut *visit);
            row.map_err(|e| {
                stopped = Some(e);
                StoreError::Corrupt("the copy stopped".into())
            })
        });
        match (stopped, streamed) {
            (Some(e), _) => Err(e),
            (None, result) => Ok(result?),
        }
    }
}

/// Column `i` of a row, read by its type.
fn value_of(r: &tokio_postgres::Row, i: usize, table: &str) -> Result<Value, CopyError> {
    let ty = r.columns()[i].type_();
    let value = match *ty {
        Type::INT8 => get::<i64>(r, i)?.map(Value::Int),
        Type::INT4 => get::<i32>(r, i)?.map(|v| Value::Int(v.into())),
        Type::INT2 => get::<i16>(r, i)?.map(|v| Value::Int(v.into())),
        Type::BOOL => get::<bool>(r, i)?.map(Value::Bool),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            get::<String>(r, i)?.map(Value::Text)
        }
        Type::FLOAT8 => get::<f64>(r, i)?.map(Value::Real),
        Type::FLOAT4 => get::<f32>(r, i)?.map(|v| Value::Real(v.into())),
        Type::BYTEA => get::<Vec<u8>>(r, i)?.map(Value::Blob),
        _ => {
            return Err(CopyError::UnknownType {
                table: table.to_string(),
                column: r.columns()[i].name().to_string(),
                ty: ty.name().to_string(),
            });
        }
    };
    Ok(value.unwrap_or(Value::Null))
}

/// Column `i` of a row as a `T`, or `None` for NULL.
fn get<'r, T: tokio_postgres::types::FromSql<'r>>(
    r: &'r tokio_postgres::Row,
    i: usize,
) -> Result<Option<T>, CopyError> {
    Ok(r.try_get(i).map_err(StoreError::from)?)
}

/// One column's values of a batch, as one array parameter.
enum Array<'a> {
    Int(Vec<Option<i64>>),
    Real(Vec<Option<f64>>),
    Text(Vec<Option<&'a str>>),
    Bool(Vec<Option<bool>>),
    Blob(Vec<Option<&'a [u8]>>),
}

impl<'a> Array<'a> {
    /// The column's values; each is already of the column's kind (`copy::convert`).
    fn of(column: &Column, index: usize, rows: &'a [Row]) -> Result<Array<'a>, StoreError> {
        let mismatch = |v: &Value| {
            StoreError::Corrupt(format!(
                "column `{}` was handed {v:?} for a {:?} column",
                column.name, column.kind
            ))
        };
        let values = rows.iter().map(|r| &r[index]);
        Ok(match column.kind {
            Kind::Int => Array::Int(
                values
                    .map(|v| match v {
                        Value::Null => Ok(None),
                        Value::Int(i) => Ok(Some(*i)),
                        v => Err(mismatch(v)),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Kind::Real => Array::Real(
                values
                    .map(|v| match v {
                        Value::Null => Ok(None),
                        Value::Real(r) => Ok(Some(*r)),
                        v => Err(mismatch(v)),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Kind::Text | Kind::Any => Array::Text(
                values
                    .map(|v| match v {
                        Value::Null => Ok(None),
                        Value::Text(t) => Ok(Some(t.as_str())),
                        v => Err(mismatch(v)),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Kind::Bool => Array::Bool(
                values
                    .map(|v| match v {
                        Value::Null => Ok(None),
                        Value::Bool(b) => Ok(Some(*b)),
                        v => Err(mismatch(v)),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Kind::Blob => Array::Blob(
                values
                    .map(|v| match v {
                        Value::Null => Ok(None),
                        Value::Blob(b) => Ok(Some(b.as_slice())),
                        v => Err(mismatch(v)),
                    })
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// The array type the parameter is sent as (the insert casts it to the column's own type).
    fn sql_type(&self) -> &'static str {
        match self {
            Array::Int(_) => "bigint[]",
            Array::Real(_) => "float8[]",
            Array::Text(_) => "text[]",
            Array::Bool(_) => "boolean[]",
            Array::Blob(_) => "bytea[]",
        }
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Array::Int(v) => v,
            Array::Real(v) => v,
            Array::Text(v) => v,
            Array::Bool(v) => v,
            Array::Blob(v) => v,
        }
    }
}

impl Import for Writer<'_> {
    /// One statement per batch: a parameter per column, an array of the batch's values each,
    /// unnested into rows. Ids are written as they were (`OVERRIDING SYSTEM VALUE`, for
    /// identity columns).
    fn insert(&mut self, table: &str, columns: &[Column], rows: &[Row]) -> Result<(), StoreError> {
        let arrays = columns
            .iter()
            .enumerate()
            .map(|(i, c)| Array::of(c, i, rows))
            .collect::<Result<Vec<_>, _>>()?;
        let names: Vec<String> = columns.iter().map(|c| quoted(&c.name)).collect();
        let unnest: Vec<String> = arrays
            .iter()
            .enumerate()
            .map(|(i, a)| format!("${}::{}", i + 1, a.sql_type()))
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT * FROM unnest({})",
            quoted(table),
            names.join(", "),
            unnest.join(", ")
        );
        let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(Array::param).collect();
        self.tx.db.execute(&sql, &params)?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), CopyError> {
        for (sequence, table, column) in id_generators(self.tx.db)? {
            let sql = format!(
                "SELECT setval($1::text::regclass, m) FROM (SELECT max({}) AS m FROM {}) s WHERE m IS NOT NULL",
                quoted(&column),
                quoted(&table)
            );
            self.tx.db.query(&sql, &[&quoted(&sequence)])?;
        }
        Box::new(self.tx).commit()?;
        Ok(())
    }
}

/// Every sequence of the schema with the table and column whose ids it hands out: its owner
/// (identity and `BIGSERIAL` columns), else its entry in [`FREE_SEQUENCES`].
fn id_generators(db: &Db) -> Result<Vec<(String, String, String)>, CopyError> {
    let rows = db.query(
        "SELECT s.relname::text, t.relname::text, a.attname::text
         FROM pg_class s
         JOIN pg_namespace n ON n.oid = s.relnamespace
         LEFT JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
             AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
         LEFT JOIN pg_class t ON t.oid = d.refobjid
         LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE s.relkind = 'S' AND n.nspname = current_schema()
         ORDER BY s.oid",
        &[],
    )?;
    rows.into_iter()
        .map(|r| {
            let sequence: String = r.get(0);
            match (r.get::<_, Option<String>>(1), r.get::<_, Option<String>>(2)) {
                (Some(table), Some(column)) => Ok((sequence, table, column)),
                _ => FREE_SEQUENCES
                    .iter()
                    .find(|(s, _, _)| *s == sequence)
                    .map(|(s, t, c)| (s.to_string(), t.to_string(), c.to_string()))
                    .ok_or(CopyError::UnknownSequence(sequence)),
            }
        })
        .collect()
}
