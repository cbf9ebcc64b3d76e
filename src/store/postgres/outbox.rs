//! The outbox in PostgreSQL.

use super::PgStore;
use super::tx::PgTx;
use crate::model::PersonId;
use crate::store::codec::{parse_tier, parse_ts, ts};
use crate::store::{OutboxEntry, OutboxStore, OutboxTx, StoreError};
use chrono::Utc;
use leadsync_connector_core::Tier;
use std::collections::BTreeMap;
use tokio_postgres::Row;

const OUTBOX_SELECT: &str = "SELECT id, connector, record_id, person_id, tier, status, attempts, reason, updated_at FROM outbox";

pub(super) fn outbox_entry(r: Row) -> Result<OutboxEntry, StoreError> {
    let attempts: i64 = r.get(6);
    Ok(OutboxEntry {
        id: r.get(0),
        connector: r.get(1),
        record_id: r.get(2),
        person: r.get(3),
        tier: parse_tier(Some(r.get(4)))?.expect("some in, some out"),
        status: r.get(5),
        attempts: attempts as u32,
        reason: r.get(7),
        updated_at: parse_ts(r.get(8))?,
    })
}

fn entries(rows: Vec<Row>) -> Result<Vec<OutboxEntry>, StoreError> {
    rows.into_iter().map(outbox_entry).collect()
}

impl OutboxStore for PgStore {
    fn pending_pushes(
        &mut self,
        connector: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        entries(self.db.query(
            &format!(
                "{OUTBOX_SELECT} WHERE connector = $1 AND status = 'pending' AND id > $2 ORDER BY id LIMIT $3"
            ),
            &[&connector, &after, &(limit as i64)],
        )?)
    }

    fn push_results(&mut self, results: &[(i64, &str, Option<String>)]) -> Result<(), StoreError> {
        let now = ts(&Utc::now());
        let ids: Vec<i64> = results.iter().map(|(id, ..)| *id).collect();
        let statuses: Vec<&str> = results.iter().map(|(_, s, _)| *s).collect();
        let reasons: Vec<Option<&str>> = results.iter().map(|(.., r)| r.as_deref()).collect();
        // One statement per kind of write, whatever the number of results: the outcomes, then
        // what an applied stage means for its record (it holds that stage until pulled again).
        self.db.batch("BEGIN")?;
        let written = (|| {
            self.db.execute(
                "UPDATE outbox SET status = r.status, reason = r.reason, attempts = attempts + 1, updated_at = $4
                 FROM unnest($1::bigint[], $2::text[], $3::text[]) AS r(id, status, reason)
                 WHERE outbox.id = r.id",
                &[&ids, &statuses, &reasons, &now],
            )?;
            self.db.execute(
                "UPDATE source_records SET pushed_tier = o.tier FROM outbox AS o
                 WHERE o.id = ANY($1) AND o.status = 'done' AND source_records.connector = o.connector
                   AND source_records.locator_key = o.record_id",
                &[&ids],
            )?;
            self.db.batch("COMMIT")
        })();
        if written.is_err() {
            let _ = self.db.batch("ROLLBACK");
        }
        written
    }

    fn retry_dead(&mut self, id: i64) -> Result<bool, StoreError> {
        let changed = self.db.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, reason = NULL, updated_at = $2,
               claim_token = NULL, claimed_by = NULL, claimed_until = NULL
             WHERE id = $1 AND status = 'dead'",
            &[&id, &ts(&Utc::now())],
        )?;
        Ok(changed == 1)
    }

    fn outbox_of(&mut self, person: PersonId) -> Result<Vec<OutboxEntry>, StoreError> {
        entries(self.db.query(
            &format!("{OUTBOX_SELECT} WHERE person_id = $1 ORDER BY id"),
            &[&person],
        )?)
    }

    fn outbox_counts(&mut self, connector: &str) -> Result<BTreeMap<String, u64>, StoreError> {
        Ok(self
            .db
            .query(
                "SELECT status, count(*) FROM outbox WHERE connector = $1 GROUP BY status",
                &[&connector],
            )?
            .into_iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
            .collect())
    }

    fn dead_letters(&mut self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        entries(self.db.query(
            &format!(
                "{OUTBOX_SELECT} WHERE status = 'dead' ORDER BY updated_at DESC, id DESC LIMIT $1"
            ),
            &[&i64::from(limit)],
        )?)
    }

    fn outbox_with_status(
        &mut self,
        connector: &str,
        status: &str,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        entries(self.db.query(
            &format!("{OUTBOX_SELECT} WHERE connector = $1 AND status = $2 ORDER BY id LIMIT $3"),
            &[&connector, &status, &i64::from(limit)],
        )?)
    }
}

impl OutboxTx for PgTx<'_> {
    fn plan_push(
        &mut self,
        connector: &str,
        record_id: &str,
        person: PersonId,
        tier: Tier,
    ) -> Result<(), StoreError> {
        let now = ts(&chrono::Utc::now());
        self.planned |= self.db.execute(
            "INSERT INTO outbox (connector, record_id, person_id, tier, status, attempts, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)
             ON CONFLICT (connector, record_id) DO UPDATE SET person_id = $3, tier = $4,
               status = 'pending', attempts = 0, reason = NULL, updated_at = $5,
               claim_token = NULL, claimed_by = NULL, claimed_until = NULL
             WHERE outbox.tier != excluded.tier OR outbox.status IN ('done', 'kept')",
            &[&connector, &record_id, &person, &tier.as_str(), &now],
        )? > 0;
        Ok(())
    }

    fn plan_pushes(&mut self, entries: &[(&str, &str, PersonId, Tier)]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let now = ts(&chrono::Utc::now());
        let connectors: Vec<&str> = entries.iter().map(|e| e.0).collect();
        let records: Vec<&str> = entries.iter().map(|e| e.1).collect();
        let persons: Vec<PersonId> = entries.iter().map(|e| e.2).collect();
        let tiers: Vec<&str> = entries.iter().map(|e| e.3.as_str()).collect();
        // As `plan_push`, one statement for all.
        self.planned |= self.db.execute(
            "INSERT INTO outbox (connector, record_id, person_id, tier, status, attempts, created_at, updated_at)
             SELECT c, r, p, t, 'pending', 0, $5, $5
             FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS e(c, r, p, t)
             ON CONFLICT (connector, record_id) DO UPDATE SET person_id = excluded.person_id,
               tier = excluded.tier, status = 'pending', attempts = 0, reason = NULL,
               updated_at = excluded.updated_at,
               claim_token = NULL, claimed_by = NULL, claimed_until = NULL
             WHERE outbox.tier != excluded.tier OR outbox.status IN ('done', 'kept')",
            &[&connectors, &records, &persons, &tiers, &now],
        )? > 0;
        Ok(())
    }

    fn push_entry(
        &mut self,
        connector: &str,
        record_id: &str,
    ) -> Result<Option<(Tier, String)>, StoreError> {
        let Some(row) = self.db.query_opt(
            "SELECT tier, status FROM outbox WHERE connector = $1 AND record_id = $2",
            &[&connector, &record_id],
        )?
        else {
            return Ok(None);
        };
        let tier = parse_tier(Some(row.get(0)))?.expect("some in, some out");
        Ok(Some((tier, row.get(1))))
    }

    fn keep_downgrade(
        &mut self,
        connector: &str,
        record_id: &str,
        person: PersonId,
        tier: Tier,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = ts(&chrono::Utc::now());
        self.db.execute(
            "INSERT INTO outbox (connector, record_id, person_id, tier, status, attempts, reason, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'kept', 0, $5, $6, $6)
             ON CONFLICT (connector, record_id) DO UPDATE SET person_id = $3, tier = $4,
               status = 'kept', attempts = 0, reason = $5, updated_at = $6,
               claim_token = NULL, claimed_by = NULL, claimed_until = NULL
             WHERE outbox.status != 'kept' OR outbox.tier != excluded.tier
               OR outbox.reason IS DISTINCT FROM excluded.reason",
            &[&connector, &record_id, &person, &tier.as_str(), &reason, &now],
        )?;
        Ok(())
    }

    fn close_kept(&mut self, connector: &str, record_id: &str) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE outbox SET status = 'done', reason = NULL, updated_at = $3
             WHERE connector = $1 AND record_id = $2 AND status = 'kept'",
            &[&connector, &record_id, &ts(&chrono::Utc::now())],
        )?;
        Ok(())
    }
}
