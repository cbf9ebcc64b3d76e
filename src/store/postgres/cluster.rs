//! Replicas on one PostgreSQL database: leases, claims, the shared pace, turns, wake-ups. Every
//! time that decides is `clock_timestamp()`, the server's clock at the statement (not `now()`,
//! which stands still for a whole transaction).

use super::PgStore;
use super::conn::Db;
use super::tx::{WAKEUP_CHANNEL, check_fences};
use crate::store::cluster::{Claim, ClusterStore, Fence, Lease, PushResult, Replica};
use crate::store::codec::{parse_ts, ts};
use crate::store::{OutboxEntry, StoreError};
use std::time::Duration;
use tokio_postgres::Row;

/// A timestamp column as the store's RFC 3339 text, in UTC with milliseconds.
macro_rules! utc_text {
    ($col:literal) => {
        concat!(
            "to_char(",
            $col,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        )
    };
}

const LEASE_COLUMNS: &str = concat!("name, holder, instance, epoch, ", utc_text!("expires_at"));

fn lease(row: Row) -> Result<Lease, StoreError> {
    Ok(Lease {
        name: row.get(0),
        holder: row.get(1),
        instance: row.get(2),
        epoch: row.get(3),
        expires_at: parse_ts(row.get(4))?,
    })
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl PgStore {
    /// Runs `write` in a transaction of its own that commits only if the store's fences hold.
    pub(super) fn fenced<T>(
        &self,
        write: impl FnOnce(&Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.db.batch("BEGIN")?;
        let done = (|| {
            check_fences(&self.db, &self.fences)?;
            let out = write(&self.db)?;
            self.db.batch("COMMIT")?;
            Ok(out)
        })();
        if done.is_err() {
            let _ = self.db.batch("ROLLBACK");
        }
        done
    }
}

impl ClusterStore for PgStore {
    fn take_lease(
        &mut self,
        name: &str,
        replica: &Replica,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let row = self.db.query_opt(
            &format!(
                "INSERT INTO leases AS l (name, holder, instance, epoch, acquired_at, expires_at)
                 VALUES ($1, $2, $3, 1, clock_timestamp(), clock_timestamp() + $4::float8 * interval '1 second')
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, instance = excluded.instance,
                   epoch = l.epoch + 1, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
                 WHERE l.expires_at <= clock_timestamp()
                 RETURNING {LEASE_COLUMNS}"
            ),
            &[&name, &replica.id, &replica.instance, &seconds(ttl)],
        )?;
        row.map(lease).transpose()
    }

    fn renew_lease(&mut self, fence: &Fence, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let row = self.db.query_opt(
            &format!(
                "UPDATE leases SET expires_at = clock_timestamp() + $4::float8 * interval '1 second'
                 WHERE name = $1 AND instance = $2 AND epoch = $3 AND expires_at > clock_timestamp()
                 RETURNING {LEASE_COLUMNS}"
            ),
            &[&fence.lease, &fence.instance, &fence.epoch, &seconds(ttl)],
        )?;
        row.map(lease).transpose()
    }

    fn release_lease(&mut self, fence: &Fence) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE leases SET expires_at = clock_timestamp()
             WHERE name = $1 AND instance = $2 AND epoch = $3 AND expires_at > clock_timestamp()",
            &[&fence.lease, &fence.instance, &fence.epoch],
        )?;
        Ok(())
    }

    fn leases(&mut self) -> Result<Vec<Lease>, StoreError> {
        self.db
            .query(
                &format!("SELECT {LEASE_COLUMNS} FROM leases ORDER BY name"),
                &[],
            )?
            .into_iter()
            .map(lease)
            .collect()
    }

    fn reap_leases(&mut self, age: Duration) -> Result<u64, StoreError> {
        self.db.execute(
            "DELETE FROM leases WHERE name LIKE 'replica:%'
               AND expires_at < clock_timestamp() - $1::float8 * interval '1 second'",
            &[&seconds(age)],
        )
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
        let limit = limit as i64;
        let ttl = seconds(claim.ttl);
        let mut entries = self.fenced(|db| {
            db.query(
                "UPDATE outbox SET claim_token = $2, claimed_by = $3,
                   claimed_until = clock_timestamp() + $4::float8 * interval '1 second'
                 WHERE id IN (
                   SELECT id FROM outbox
                   WHERE connector = $1 AND status = 'pending' AND id > $6
                     AND (claimed_until IS NULL OR claimed_until <= clock_timestamp())
                   ORDER BY id LIMIT $5
                   FOR UPDATE SKIP LOCKED)
                 RETURNING id, connector, record_id, person_id, tier, status, attempts, reason, updated_at",
                &[&connector, &claim.token, &claim.by, &ttl, &limit, &after],
            )?
            .into_iter()
            .map(super::outbox::outbox_entry)
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
        let now = ts(&chrono::Utc::now());
        let ids: Vec<i64> = results.iter().map(|(id, ..)| *id).collect();
        let statuses: Vec<&str> = results.iter().map(|(_, s, _)| *s).collect();
        let reasons: Vec<Option<&str>> = results.iter().map(|(.., r)| r.as_deref()).collect();
        self.fenced(|db| {
            let recorded: Vec<i64> = db
                .query(
                    "UPDATE outbox SET status = r.status, reason = r.reason, attempts = attempts + 1,
                       updated_at = $4, claim_token = NULL, claimed_by = NULL, claimed_until = NULL
                     FROM unnest($1::bigint[], $2::text[], $3::text[]) AS r(id, status, reason)
                     WHERE outbox.id = r.id AND outbox.claim_token = $5
                     RETURNING outbox.id",
                    &[&ids, &statuses, &reasons, &now, &claim.token],
                )?
                .into_iter()
                .map(|r| r.get(0))
                .collect();
            // An applied stage is what the record holds until it is pulled again.
            db.execute(
                "UPDATE source_records SET pushed_tier = o.tier FROM outbox AS o
                 WHERE o.id = ANY($1) AND o.status = 'done' AND source_records.connector = o.connector
                   AND source_records.locator_key = o.record_id",
                &[&recorded],
            )?;
            Ok(recorded.len())
        })
    }

    fn pace(&mut self, account: &str, spacing: Duration) -> Result<Duration, StoreError> {
        // The slot taken is the one before the new `next_at`: now, or the first free one later.
        let wait: f64 = self
            .db
            .query_one(
                "INSERT INTO rate_ledger AS l (account, next_at)
                 VALUES ($1, clock_timestamp() + $2::float8 * interval '1 second')
                 ON CONFLICT (account) DO UPDATE
                   SET next_at = greatest(l.next_at, clock_timestamp()) + $2::float8 * interval '1 second'
                 RETURNING greatest(0, extract(epoch FROM l.next_at - clock_timestamp())::float8 - $2::float8)",
                &[&account, &seconds(spacing)],
            )?
            .get(0);
        Ok(Duration::from_secs_f64(wait.max(0.0)))
    }

    fn take_turn(&mut self, name: &str, min_gap: Duration) -> Result<bool, StoreError> {
        Ok(self
            .db
            .query_opt(
                "INSERT INTO cluster_marks AS m (name, at) VALUES ($1, clock_timestamp())
                 ON CONFLICT (name) DO UPDATE SET at = excluded.at
                 WHERE m.at <= clock_timestamp() - $2::float8 * interval '1 second'
                 RETURNING 1",
                &[&name, &seconds(min_gap)],
            )?
            .is_some())
    }

    fn wakeups(&mut self) -> Result<Option<tokio::sync::mpsc::UnboundedReceiver<()>>, StoreError> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let db = Db::connect_with(&self.config, Some(tx))?;
        db.batch(&format!("LISTEN {WAKEUP_CHANNEL}"))?;
        self.listener = Some(db);
        Ok(Some(rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::prelude::*;
    use leadsync_connector_core::Tier;

    #[test]
    fn a_commit_that_plans_pushes_wakes_the_listeners_and_one_that_does_not_stays_quiet() {
        // GIVEN a listening replica and another connection
        let url = leadsync_test_postgres::Cluster::get().fresh_db();
        let mut listener = PgStore::open(&url, None).unwrap();
        let mut wakeups = listener.wakeups().unwrap().expect("PostgreSQL listens");
        let mut writer = PgStore::open(&url, None).unwrap();
        let wait = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<()>| {
            let started = std::time::Instant::now();
            while started.elapsed() < Duration::from_secs(5) {
                if rx.try_recv().is_ok() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        };

        // WHEN the other commits a page without pushes, THEN nothing arrives
        let mut tx = writer.begin().unwrap();
        tx.add_event(&crate::store::StoreEvent {
            connector: "drops".into(),
            stream: "a.csv".into(),
            kind: "duplicate".into(),
            detail: "seen before".into(),
            at: chrono::Utc::now(),
        })
        .unwrap();
        tx.commit().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(wakeups.try_recv().is_err());

        // WHEN it commits a page that plans a push, THEN the listener is woken
        let mut tx = writer.begin().unwrap();
        tx.plan_push("hubspot", "101", 1, Tier::MQL).unwrap();
        tx.commit().unwrap();
        assert!(wait(&mut wakeups), "no wake-up within 5 s");

        // WHEN a page that planned a push is rolled back, THEN nothing arrives
        let mut tx = writer.begin().unwrap();
        tx.plan_push("hubspot", "102", 2, Tier::MQL).unwrap();
        drop(tx);
        std::thread::sleep(Duration::from_millis(300));
        assert!(wakeups.try_recv().is_err());
    }
}
