//! The one write transaction a page (or any other unit of change) goes through; each role's
//! writes are implemented in that role's file.
//!
//! `begin` takes a transaction-scoped advisory lock, the store's write lock: one writer at a time,
//! as with SQLite, waiting up to the lock timeout (then `Busy`). Dropping the transaction without
//! `commit` rolls it back.

use super::conn::Db;
use crate::store::cluster::Fencing;
use crate::store::{StoreError, StoreTx};

/// The advisory lock key of the store's write lock (`leadsync` in ASCII).
const WRITE_LOCK: i64 = 0x6c65_6164_7379_6e63;

pub(super) struct PgTx<'c> {
    pub(super) db: &'c Db,
    /// Person ids taken from the sequence and not handed out yet.
    pub(super) ids: std::collections::VecDeque<i64>,
    /// Checked at commit (see [`check_fences`]).
    fences: &'c Fencing,
    /// Whether the transaction planned a push: its commit then wakes the other replicas.
    pub(super) planned: bool,
    done: bool,
}

impl<'c> PgTx<'c> {
    pub(super) fn begin(db: &'c Db, fences: &'c Fencing) -> Result<Self, StoreError> {
        let locked = db.batch(&format!(
            "BEGIN; SET LOCAL lock_timeout = '{}s'; SELECT pg_advisory_xact_lock({WRITE_LOCK})",
            super::BUSY_TIMEOUT.as_secs()
        ));
        if let Err(e) = locked {
            // Waited too long for the lock (or the connection failed): end the aborted
            // transaction so the connection stays usable.
            let _ = db.batch("ROLLBACK");
            return Err(e);
        }
        Ok(PgTx {
            db,
            ids: Default::default(),
            fences,
            planned: false,
            done: false,
        })
    }
}

impl StoreTx for PgTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        check_fences(self.db, self.fences)?;
        if self.planned {
            // Delivered at commit, to every connection listening.
            self.db.batch(&format!("NOTIFY {WAKEUP_CHANNEL}"))?;
        }
        self.done = true;
        self.db.batch("COMMIT")?;
        Ok(())
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if !self.done {
            // A failed statement already aborted the transaction; ROLLBACK ends it either way.
            if let Err(e) = self.db.batch("ROLLBACK") {
                tracing::warn!(error = %e, "Rolling back a PostgreSQL transaction failed.");
            }
        }
    }
}

/// The channel a commit that planned pushes notifies.
pub(super) const WAKEUP_CHANNEL: &str = "leadsync_outbox";

/// Inside an open transaction: fails with [`StoreError::Fenced`] unless every fence still holds
/// (same instance and epoch, not expired by the database's clock), and extends each by the
/// fencing's `renew`. The rows stay locked until the transaction ends, so no takeover can slip
/// in between this check and the commit.
pub(super) fn check_fences(db: &Db, fencing: &Fencing) -> Result<(), StoreError> {
    let renew = fencing.renew.as_secs_f64();
    for fence in &fencing.fences {
        let held = db.query_opt(
            "UPDATE leases
             SET expires_at = greatest(expires_at, clock_timestamp() + $4::float8 * interval '1 second')
             WHERE name = $1 AND instance = $2 AND epoch = $3 AND expires_at > clock_timestamp()
             RETURNING 1",
            &[&fence.lease, &fence.instance, &fence.epoch, &renew],
        )?;
        if held.is_none() {
            return Err(StoreError::Fenced {
                lease: fence.lease.clone(),
            });
        }
    }
    Ok(())
}
