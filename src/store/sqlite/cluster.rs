//! Replicas on one SQLite file (processes on one machine): leases, claims, the shared pace and
//! turns, by this machine's clock. Each write runs in an IMMEDIATE transaction, which holds
//! SQLite's one write lock, so a read-then-write is never interleaved with another writer.

use super::SqliteStore;
use super::outbox::{OUTBOX_COLUMNS, outbox_entry, outbox_row};
use super::tx::check_fences;
use crate::store::cluster::{Claim, ClusterStore, Fence, Lease, PushResult, Replica};
use crate::store::codec::{parse_ts, ts};
use crate::store::{OutboxEntry, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, Transaction, TransactionBehavior, params};
use std::time::Duration;

const LEASE_COLUMNS: &str = "name, holder, instance, epoch, expires_at";

fn lease_row(r: &Row<'_>) -> rusqlite::Result<(String, String, String, i64, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn lease(row: (String, String, String, i64, String)) -> Result<Lease, StoreError> {
    let (name, holder, instance, epoch, expires_at) = row;
    Ok(Lease {
        name,
        holder,
        instance,
        epoch,
        expires_at: parse_ts(&expires_at)?,
    })
}

fn later(now: DateTime<Utc>, d: Duration) -> String {
    ts(&(now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)))
}

impl SqliteStore {
    /// Runs `write` in an IMMEDIATE transaction that commits only if `fenced` is false or the
    /// store's fences hold.
    pub(super) fn write<T>(
        &mut self,
        fenced: bool,
        write: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if fenced {
            check_fences(&tx, &self.fences)?;
        }
        let out = write(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

impl ClusterStore for SqliteStore {
    fn take_lease(
        &mut self,
        name: &str,
        replica: &Replica,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let now = Utc::now();
        self.write(false, |tx| {
            let row = tx
                .prepare_cached(&format!(
                    "INSERT INTO leases AS l (name, holder, instance, epoch, acquired_at, expires_at)
                     VALUES (?1, ?2, ?3, 1, ?4, ?5)
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                       instance = excluded.instance, epoch = l.epoch + 1,
                       acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
                     WHERE l.expires_at <= ?4
                     RETURNING {LEASE_COLUMNS}"
                ))?
                .query_row(
                    params![name, replica.id, replica.instance, ts(&now), later(now, ttl)],
                    lease_row,
                )
                .optional()?;
            row.map(lease).transpose()
        })
    }

    fn renew_lease(&mut self, fence: &Fence, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let now = Utc::now();
        self.write(false, |tx| {
            let row = tx
                .prepare_cached(&format!(
                    "UPDATE leases SET expires_at = ?5
                     WHERE name = ?1 AND instance = ?2 AND epoch = ?3 AND expires_at > ?4
                     RETURNING {LEASE_COLUMNS}"
                ))?
                .query_row(
                    params![
                        fence.lease,
                        fence.instance,
                        fence.epoch,
                        ts(&now),
                        later(now, ttl)
                    ],
                    lease_row,
                )
                .optional()?;
            row.map(lease).transpose()
        })
    }

    fn release_lease(&mut self, fence: &Fence) -> Result<(), StoreError> {
        let now = ts(&Utc::now());
        self.write(false, |tx| {
            tx.execute(
                "UPDATE leases SET expires_at = ?4
                 WHERE name = ?1 AND instance = ?2 AND epoch = ?3 AND expires_at > ?4",
                params![fence.lease, fence.instance, fence.epoch, now],
            )?;
            Ok(())
        })
    }

    fn leases(&mut self) -> Result<Vec<Lease>, StoreError> {
        super::codec::query_all(
            &self.conn,
            &format!("SELECT {LEASE_COLUMNS} FROM leases ORDER BY name"),
            [],
            lease_row,
            lease,
        )
    }

    fn reap_leases(&mut self, age: Duration) -> Result<u64, StoreError> {
        let before = ts(&(Utc::now() - chrono::Duration::from_std(age).unwrap_or_default()));
        self.write(false, |tx| {
            Ok(tx.execute(
                "DELETE FROM leases WHERE name LIKE 'replica:%' AND expires_at < ?1",
                [before],
            )? as u64)
        })
    }

    fn set_fences(&mut self, fences: Vec<Fence>, renew: Duration) {
        self.fences = crate::store::cluster::Fencing { fences, renew };
    }

    fn claim_pushes(
        &mut self,
        connector: &str,
        after: i64,
        claim: &Claim,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let now = Utc::now();
        let mut entries = self.write(true, |tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "UPDATE outbox SET claim_token = ?2, claimed_by = ?3, claimed_until = ?4
                 WHERE id IN (
                   SELECT id FROM outbox
                   WHERE connector = ?1 AND status = 'pending' AND id > ?7
                     AND (claimed_until IS NULL OR claimed_until <= ?5)
                   ORDER BY id LIMIT ?6)
                 RETURNING {OUTBOX_COLUMNS}"
            ))?;
            let rows = stmt
                .query_map(
                    params![
                        connector,
                        claim.token,
                        claim.by,
                        later(now, claim.ttl),
                        ts(&now),
                        limit as i64,
                        after
                    ],
                    outbox_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(outbox_entry)
                .collect::<Result<Vec<_>, _>>()
        })?;
        entries.sort_by_key(|e| e.id);
        Ok(entries)
    }

    fn complete_pushes(
        &mut self,
        claim: &Claim,
        results: &[PushResult<'_>],
    ) -> Result<usize, StoreError> {
        let now = ts(&Utc::now());
        self.write(true, |tx| {
            let mut outcome = tx.prepare_cached(
                "UPDATE outbox SET status = ?2, reason = ?3, attempts = attempts + 1, updated_at = ?4,
                   claim_token = NULL, claimed_by = NULL, claimed_until = NULL
                 WHERE id = ?1 AND claim_token = ?5",
            )?;
            // An applied stage is what the record holds until it is pulled again.
            let mut holds = tx.prepare_cached(
                "UPDATE source_records SET pushed_tier = o.tier FROM outbox AS o
                 WHERE o.id = ?1 AND source_records.connector = o.connector
                   AND source_records.locator_key = o.record_id",
            )?;
            let mut recorded = 0;
            for (id, status, reason) in results {
                if outcome.execute(params![id, status, reason, now, claim.token])? == 0 {
                    continue;
                }
                recorded += 1;
                if *status == "done" {
                    holds.execute([id])?;
                }
            }
            Ok(recorded)
        })
    }

    fn pace(&mut self, account: &str, spacing: Duration) -> Result<Duration, StoreError> {
        let now = Utc::now().timestamp_micros();
        let spacing = spacing.as_micros() as i64;
        self.write(false, |tx| {
            let next: Option<i64> = tx
                .prepare_cached("SELECT next_at FROM rate_ledger WHERE account = ?1")?
                .query_row([account], |r| r.get(0))
                .optional()?;
            let slot = next.unwrap_or(now).max(now);
            tx.prepare_cached(
                "INSERT INTO rate_ledger (account, next_at) VALUES (?1, ?2)
                 ON CONFLICT (account) DO UPDATE SET next_at = excluded.next_at",
            )?
            .execute(params![account, slot + spacing])?;
            Ok(Duration::from_micros((slot - now) as u64))
        })
    }

    fn take_turn(&mut self, name: &str, min_gap: Duration) -> Result<bool, StoreError> {
        let now = Utc::now();
        let before = ts(&(now - chrono::Duration::from_std(min_gap).unwrap_or_default()));
        self.write(false, |tx| {
            Ok(tx
                .prepare_cached(
                    "INSERT INTO cluster_marks AS m (name, at) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET at = excluded.at WHERE m.at <= ?3
                     RETURNING 1",
                )?
                .query_row(params![name, ts(&now), before], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }
}
