//! Values in and out of SQLite (the shared encodings of `store::codec`), and the two query
//! shapes every role uses (rows built into values; multi-row inserts).

use crate::store::StoreError;
pub(super) use crate::store::codec::{json, parse_tier, parse_ts, to_json, ts};
use rusqlite::{Connection, Row, ToSql, Transaction};

/// Runs a query and builds one value per row: `read` takes the columns out, `build` parses
/// them (JSON, timestamps), so SQLite errors and corrupt data are both reported.
pub(super) fn query_all<P: rusqlite::Params, R, T>(
    conn: &Connection,
    sql: &str,
    params: P,
    read: impl FnMut(&Row<'_>) -> rusqlite::Result<R>,
    build: impl Fn(R) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, read)?;
    rows.map(|r| build(r?)).collect()
}

/// Rows per multi-row statement: one statement per 100 rows costs a fraction of 100 statements,
/// and stays far below SQLite's limit on bound parameters.
pub(super) const ROWS_PER_STATEMENT: usize = 100;

/// `?, ?, ?`
pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// `(?, ?), (?, ?)`: `n` rows of `width` parameters.
fn rows_of(width: usize, n: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    vec![row; n].join(", ")
}

/// Writes `rows` as multi-row statements, [`ROWS_PER_STATEMENT`] rows each: `head VALUES (…), …
/// tail`, where `head` names the table and columns and `tail` is an `ON CONFLICT` clause or
/// empty. `own` makes the values a row's parameters need computed (JSON, timestamps); `bind`
/// lists a row's `W` parameters from the row and those values.
///
/// Heads say `INSERT OR FAIL`: a failed statement fails its whole transaction anyway (it is
/// never committed), and unlike the default `ABORT` it spares SQLite a statement journal, a copy
/// of every page the statement touches.
pub(super) fn insert_rows<T, O, const W: usize>(
    tx: &Transaction<'_>,
    head: &str,
    tail: &str,
    rows: &[T],
    own: impl Fn(&T) -> O,
    bind: impl for<'r> Fn(&'r T, &'r O) -> [&'r dyn ToSql; W],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!("{head} VALUES {} {tail}", rows_of(W, chunk.len()));
        let owned: Vec<O> = chunk.iter().map(&own).collect();
        let params: Vec<&dyn ToSql> = chunk
            .iter()
            .zip(&owned)
            .flat_map(|(row, values)| bind(row, values))
            .collect();
        tx.prepare_cached(&sql)?.execute(&params[..])?;
    }
    Ok(())
}
