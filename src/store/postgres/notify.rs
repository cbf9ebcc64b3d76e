//! Breaches of follow-up commitments in PostgreSQL: taken with `FOR UPDATE SKIP LOCKED`, so
//! replicas sending at once never take the same one.

use super::PgStore;
use crate::store::codec::{parse_ts, ts};
use crate::store::{Breach, NotifyStore, StoreError};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

impl NotifyStore for PgStore {
    fn add_breaches(&mut self, breaches: &[Breach], now: DateTime<Utc>) -> Result<u64, StoreError> {
        if breaches.is_empty() {
            return Ok(0);
        }
        let persons: Vec<i64> = breaches.iter().map(|b| b.person).collect();
        let slas: Vec<&str> = breaches.iter().map(|b| b.sla.as_str()).collect();
        let dues: Vec<String> = breaches.iter().map(|b| ts(&b.due_at)).collect();
        let payloads: Vec<&str> = breaches.iter().map(|b| b.payload.as_str()).collect();
        let added = self.db.execute(
            "INSERT INTO sla_breaches (person_id, sla, due_at, payload, status, next_at, created_at)
             SELECT p, s, d, b, 'waiting', $5, $5
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS x(p, s, d, b)
             ON CONFLICT DO NOTHING",
            &[&persons, &slas, &dues, &payloads, &ts(&now)],
        )?;
        Ok(added)
    }

    fn take_breaches(
        &mut self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Breach>, StoreError> {
        let rows = self.db.query(
            "UPDATE sla_breaches AS b SET status = 'taken', taken_at = $1
             FROM (SELECT person_id, sla, due_at FROM sla_breaches
                   WHERE (status = 'waiting' AND next_at <= $1) OR (status = 'taken' AND taken_at <= $2)
                   ORDER BY next_at, person_id LIMIT $3
                   FOR UPDATE SKIP LOCKED) AS t
             WHERE b.person_id = t.person_id AND b.sla = t.sla AND b.due_at = t.due_at
             RETURNING b.person_id, b.sla, b.due_at, b.payload, b.attempts",
            &[&ts(&now), &ts(&stale_before), &(limit as i64)],
        )?;
        rows.iter()
            .map(|r| {
                Ok(Breach {
                    person: r.get(0),
                    sla: r.get(1),
                    due_at: parse_ts(r.get(2))?,
                    payload: r.get(3),
                    attempts: r.get::<_, i32>(4) as u32,
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
        self.db.execute(
            "UPDATE sla_breaches SET status = $4, attempts = attempts + 1, last_error = $5,
               sent_at = $6, next_at = $7, taken_at = NULL
             WHERE person_id = $1 AND sla = $2 AND due_at = $3",
            &[
                &b.person,
                &b.sla,
                &ts(&b.due_at),
                &status,
                &error,
                &sent_at,
                &ts(&retry_at),
            ],
        )?;
        Ok(())
    }

    fn breach_counts(&mut self) -> Result<BTreeMap<String, u64>, StoreError> {
        Ok(self
            .db
            .query(
                "SELECT status, count(*) FROM sla_breaches GROUP BY status",
                &[],
            )?
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
            .collect())
    }
}
