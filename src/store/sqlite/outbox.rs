//! The outbox in SQLite.

use super::SqliteStore;
use super::codec::{parse_tier, parse_ts, query_all, ts};
use super::tx::SqliteTx;
use crate::model::PersonId;
use crate::store::{OutboxEntry, OutboxStore, OutboxTx, StoreError};
use chrono::Utc;
use leadsync_connector_core::Tier;
use rusqlite::{Row, params};
use std::collections::BTreeMap;

pub(super) const OUTBOX_COLUMNS: &str =
    "id, connector, record_id, person_id, tier, status, attempts, reason, updated_at";

const OUTBOX_SELECT: &str = "SELECT id, connector, record_id, person_id, tier, status, attempts, reason, updated_at FROM outbox";

type OutboxRow = (
    i64,
    String,
    String,
    PersonId,
    String,
    String,
    u32,
    Option<String>,
    String,
);

pub(super) fn outbox_row(r: &Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

pub(super) fn outbox_entry(row: OutboxRow) -> Result<OutboxEntry, StoreError> {
    let (id, connector, record_id, person, tier, status, attempts, reason, at) = row;
    Ok(OutboxEntry {
        id,
        connector,
        record_id,
        person,
        tier: parse_tier(Some(tier))?.expect("some in, some out"),
        status,
        attempts,
        reason,
        updated_at: parse_ts(&at)?,
    })
}

impl OutboxStore for SqliteStore {
    fn pending_pushes(
        &mut self,
        connector: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        query_all(
            &self.conn,
            &format!(
                "{OUTBOX_SELECT} WHERE connector = ?1 AND status = 'pending' AND id > ?2 ORDER BY id LIMIT ?3"
            ),
            params![connector, after, limit as i64],
            outbox_row,
            outbox_entry,
        )
    }

    fn push_results(&mut self, results: &[(i64, &str, Option<String>)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET status = ?2, reason = ?3, attempts = attempts + 1, updated_at = ?4 WHERE id = ?1",
            )?;
            // An applied stage is what the record holds until it is pulled again.
            let mut holds = tx.prepare_cached(
                "UPDATE source_records SET pushed_tier = o.tier FROM outbox AS o
                 WHERE o.id = ?1 AND source_records.connector = o.connector
                   AND source_records.locator_key = o.record_id",
            )?;
            let now = ts(&Utc::now());
            for (id, status, reason) in results {
                stmt.execute(params![id, status, reason, now])?;
                if *status == "done" {
                    holds.execute([id])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn retry_dead(&mut self, id: i64) -> Result<bool, StoreError> {
        let changed = self.conn.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, reason = NULL, updated_at = ?2,
               claim_token = NULL, claimed_by = NULL, claimed_until = NULL
             WHERE id = ?1 AND status = 'dead'",
            params![id, ts(&Utc::now())],
        )?;
        Ok(changed == 1)
    }

    fn outbox_of(&mut self, person: PersonId) -> Result<Vec<OutboxEntry>, StoreError> {
        query_all(
            &self.conn,
            &format!("{OUTBOX_SELECT} WHERE person_id = ?1 ORDER BY id"),
            [person],
            outbox_row,
            outbox_entry,
        )
    }

    fn outbox_counts(&mut self, connector: &str) -> Result<BTreeMap<String, u64>, StoreError> {
        let rows = query_all(
            &self.conn,
            "SELECT status, count(*) FROM outbox WHERE connector = ?1 GROUP BY status",
            [connector],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            |(status, n)| Ok((status, n as u64)),
        )?;
        Ok(rows.into_iter().collect())
    }

    fn dead_letters(&mut self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        query_all(
            &self.conn,
            &format!(
                "{OUTBOX_SELECT} WHERE status = 'dead' ORDER BY updated_at DESC, id DESC LIMIT ?1"
            ),
            [limit],
            outbox_row,
            outbox_entry,
        )
    }

    fn outbox_with_status(
        &mut self,
        connector: &str,
        status: &str,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        query_all(
            &self.conn,
            &format!("{OUTBOX_SELECT} WHERE connector = ?1 AND status = ?2 ORDER BY id LIMIT ?3"),
            params![connector, status, limit],
            outbox_row,
            outbox_entry,
        )
    }
}

impl OutboxTx for SqliteTx<'_> {
    fn plan_push(
        &mut self,
        connector: &str,
        record_id: &str,
        person: PersonId,
        tier: Tier,
    ) -> Result<(), StoreError> {
        let now = ts(&chrono::Utc::now());
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO outbox (connector, record_id, person_id, tier, status, attempts, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5)
             ON CONFLICT (connector, record_id) DO UPDATE SET person_id = ?3, tier = ?4,
               status = 'pending', attempts = 0, reason = NULL, updated_at = ?5,
               claim_token = NULL, claimed_by = NULL, claimed_until = NULL
             WHERE outbox.tier != excluded.tier OR outbox.status IN ('done', 'kept')",
        )?;
        stmt.execute(params![connector, record_id, person, tier.as_str(), now])?;
        Ok(())
    }

    fn push_entry(
        &mut self,
        connector: &str,
        record_id: &str,
    ) -> Result<Option<(Tier, String)>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT tier, status FROM outbox WHERE connector = ?1 AND record_id = ?2",
        )?;
        let mut rows = stmt.query(params![connector, record_id])?;
        let Some(row) = rows.next()? else {
            return Ok(None);
        };
        let tier = parse_tier(Some(row.get(0)?))?.expect("some in, some out");
        Ok(Some((tier, row.get(1)?)))
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
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO outbox (connector, record_id, person_id, tier, status, attempts, reason, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'kept', 0, ?5, ?6, ?6)
             ON CONFLICT (connector, record_id) DO UPDATE SET person_id = ?3, tier = ?4,
               status = 'kept', attempts = 0, reason = ?5, updated_at = ?6,
               claim_token = NULL, claimed_by = NULL, claimed_until = NULL
             WHERE outbox.status != 'kept' OR outbox.tier != excluded.tier OR outbox.reason IS NOT excluded.reason",
        )?;
        stmt.execute(params![
            connector,
            record_id,
            person,
            tier.as_str(),
            reason,
            now
        ])?;
        Ok(())
    }

    fn close_kept(&mut self, connector: &str, record_id: &str) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "UPDATE outbox SET status = 'done', reason = NULL, updated_at = ?3
             WHERE connector = ?1 AND record_id = ?2 AND status = 'kept'",
        )?;
        stmt.execute(params![connector, record_id, ts(&chrono::Utc::now())])?;
        Ok(())
    }
}
