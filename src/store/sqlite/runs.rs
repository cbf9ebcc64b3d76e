//! Runs and events in SQLite.

use super::SqliteStore;
use super::codec::{json, parse_ts, query_all, to_json, ts};
use super::tx::SqliteTx;
use crate::store::{RunStats, RunStore, RunSummary, RunTx, StoreError, StoreEvent};
use chrono::Utc;
use rusqlite::params;

impl RunStore for SqliteStore {
    fn start_run(&mut self, connector: &str) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO runs (connector, started_at) VALUES (?1, ?2)",
            params![connector, ts(&Utc::now())],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn finish_run(&mut self, run: i64, stats: &RunStats) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE runs SET finished_at = ?2, stats = ?3 WHERE id = ?1",
            params![run, ts(&Utc::now()), to_json(stats)],
        )?;
        Ok(())
    }

    fn last_runs(&mut self, limit: u32) -> Result<Vec<RunSummary>, StoreError> {
        query_all(
            &self.conn,
            "SELECT id, connector, started_at, finished_at, stats FROM runs ORDER BY id DESC LIMIT ?1",
            [limit],
            |r| {
                let row: (i64, String, String, Option<String>, Option<String>) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
                Ok(row)
            },
            |(id, connector, started, finished, stats)| {
                Ok(RunSummary {
                    id,
                    connector,
                    started_at: parse_ts(&started)?,
                    finished_at: finished.as_deref().map(parse_ts).transpose()?,
                    stats: stats.as_deref().map(json).transpose()?,
                })
            },
        )
    }

    fn events(&mut self, connector: &str, limit: u32) -> Result<Vec<StoreEvent>, StoreError> {
        query_all(
            &self.conn,
            "SELECT connector, stream, kind, detail, at FROM events WHERE connector = ?1 ORDER BY id DESC LIMIT ?2",
            params![connector, limit],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
            |(connector, stream, kind, detail, at)| {
                Ok(StoreEvent {
                    connector,
                    stream,
                    kind,
                    detail,
                    at: parse_ts(&at)?,
                })
            },
        )
    }
}

impl RunTx for SqliteTx<'_> {
    fn add_event(&mut self, e: &StoreEvent) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO events (connector, stream, kind, detail, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        stmt.execute(params![e.connector, e.stream, e.kind, e.detail, ts(&e.at)])?;
        Ok(())
    }
}
