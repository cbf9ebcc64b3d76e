//! The one write transaction a page (or any other unit of change) goes through; each role's
//! writes are implemented in that role's file.
//!
//! `begin` takes a transaction-scoped advisory lock, the store's write lock: one writer at a time,
//! as with SQLite, waiting up to the lock timeout (then `Busy`). Dropping the transaction without
//! `commit` rolls it back.

use super::conn::Db;
use crate::store::{StoreError, StoreTx};

/// The advisory lock key of the store's write lock (`leadsync` in ASCII).
const WRITE_LOCK: i64 = 0x6c65_6164_7379_6e63;

pub(super) struct PgTx<'c> {
    pub(super) db: &'c Db,
    /// Person ids taken from the sequence and not handed out yet.
    pub(super) ids: std::collections::VecDeque<i64>,
    done: bool,
}

impl<'c> PgTx<'c> {
    pub(super) fn begin(db: &'c Db) -> Result<Self, StoreError> {
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
            done: false,
        })
    }
}

impl StoreTx for PgTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
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
