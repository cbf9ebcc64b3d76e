//! Breaches of follow-up commitments in SQLite.

use super::SqliteStore;
use super::codec::{parse_ts, ts};
use crate::store::{Breach, NotifyStore, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::params;
use std::collections::BTreeMap;

impl NotifyStore for SqliteStore {
    fn add_breaches(&mut self, breaches: &[Breach], now: DateTime<Utc>) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let mut added = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO sla_breaches (person_id, sla, due_at, payload, status, next_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'waiting', ?5, ?5) ON CONFLICT DO NOTHING",
            )?;
            let now = ts(&now);
            for b in breaches {
                added += stmt.execute(params![b.person, b.sla, ts(&b.due_at), b.payload, now])?;
            }
        }
        tx.commit()?;
        Ok(added as u64)
    }

    fn take_breaches(
        &mut self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Breach>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (now, stale) = (ts(&now), ts(&stale_before));
        let rows: Vec<(i64, String, String, String, i64)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT person_id, sla, due_at, payload, attempts FROM sla_breaches
                 WHERE (status = 'waiting' AND next_at <= ?1) OR (status = 'taken' AND taken_at <= ?2)
                 ORDER BY next_at, person_id LIMIT ?3",
            )?;
            stmt.query_map(params![now, stale, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?
        };
        {
            let mut take = tx.prepare_cached(
                "UPDATE sla_breaches SET status = 'taken', taken_at = ?4
                 WHERE person_id = ?1 AND sla = ?2 AND due_at = ?3",
            )?;
            for (person, sla, due_at, ..) in &rows {
                take.execute(params![person, sla, due_at, now])?;
            }
        }
        tx.commit()?;
        rows.into_iter()
            .map(|(person, sla, due_at, payload, attempts)| {
                Ok(Breach {
                    person,
                    sla,
                    due_at: parse_ts(&due_at)?,
                    payload,
                    attempts: attempts as u32,
                })
            })
            .collect()
    }

    fn breach_outcome(
        &mut self,
        b: &Breach,
        outcome: Result<(), &str>,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (status, error, sent_at) = crate::store::notify::outcome_columns(outcome, now);
        self.conn.execute(
            "UPDATE sla_breaches SET status = ?4, attempts = attempts + 1, last_error = ?5,
               sent_at = ?6, next_at = ?7, taken_at = NULL
             WHERE person_id = ?1 AND sla = ?2 AND due_at = ?3",
            params![
                b.person,
                b.sla,
                ts(&b.due_at),
                status,
                error,
                sent_at,
                ts(&retry_at)
            ],
        )?;
        Ok(())
    }

    fn breach_counts(&mut self) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT status, count(*) FROM sla_breaches GROUP BY status")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
