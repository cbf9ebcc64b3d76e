//! Runs and events in PostgreSQL.

use super::PgStore;
use super::tx::PgTx;
use crate::store::codec::{json, parse_ts, to_json, ts};
use crate::store::{RunStats, RunStore, RunSummary, RunTx, StoreError, StoreEvent};
use chrono::Utc;

impl RunStore for PgStore {
    fn start_run(&mut self, connector: &str) -> Result<i64, StoreError> {
        Ok(self
            .db
            .query_one(
                "INSERT INTO runs (connector, started_at) VALUES ($1, $2) RETURNING id",
                &[&connector, &ts(&Utc::now())],
            )?
            .get(0))
    }

    fn finish_run(&mut self, run: i64, stats: &RunStats) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE runs SET finished_at = $2, stats = $3 WHERE id = $1",
            &[&run, &ts(&Utc::now()), &to_json(stats)],
        )?;
        Ok(())
    }

    fn last_runs(&mut self, limit: u32) -> Result<Vec<RunSummary>, StoreError> {
        self.db
            .query(
                "SELECT id, connector, started_at, finished_at, stats FROM runs ORDER BY id DESC LIMIT $1",
                &[&i64::from(limit)],
            )?
            .into_iter()
            .map(|r| {
                let finished: Option<String> = r.get(3);
                let stats: Option<String> = r.get(4);
                Ok(RunSummary {
                    id: r.get(0),
                    connector: r.get(1),
                    started_at: parse_ts(r.get(2))?,
                    finished_at: finished.as_deref().map(parse_ts).transpose()?,
                    stats: stats.as_deref().map(json).transpose()?,
                })
            })
            .collect()
    }

    fn events(&mut self, connector: &str, limit: u32) -> Result<Vec<StoreEvent>, StoreError> {
        self.db
            .query(
                "SELECT connector, stream, kind, detail, at FROM events WHERE connector = $1 ORDER BY id DESC LIMIT $2",
                &[&connector, &i64::from(limit)],
            )?
            .into_iter()
            .map(|r| {
                Ok(StoreEvent {
                    connector: r.get(0),
                    stream: r.get(1),
                    kind: r.get(2),
                    detail: r.get(3),
                    at: parse_ts(r.get(4))?,
                })
            })
            .collect()
    }
}

impl RunTx for PgTx<'_> {
    fn add_event(&mut self, e: &StoreEvent) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO events (connector, stream, kind, detail, at) VALUES ($1, $2, $3, $4, $5)",
            &[&e.connector, &e.stream, &e.kind, &e.detail, &ts(&e.at)],
        )?;
        Ok(())
    }
}
