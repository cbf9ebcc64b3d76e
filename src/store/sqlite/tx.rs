//! The one write transaction a page (or any other unit of change) goes through; each role's
//! writes are implemented in that role's file.

use super::KeyState;
use crate::model::PersonId;
use crate::store::cluster::Fencing;
use crate::store::{StoreError, StoreTx};
use rusqlite::{Connection, Transaction};

pub(super) struct SqliteTx<'c> {
    pub(super) tx: Transaction<'c>,
    /// The next person id to hand out; read once per transaction (SQLite has one writer).
    pub(super) next_id: Option<PersonId>,
    pub(super) keys: &'c mut KeyState,
    /// Checked at commit (see [`check_fences`]).
    fences: &'c Fencing,
}

impl<'c> SqliteTx<'c> {
    pub(super) fn begin(
        conn: &'c mut Connection,
        keys: &'c mut KeyState,
        fences: &'c Fencing,
    ) -> Result<Self, StoreError> {
        // IMMEDIATE: take the write lock now, so a concurrent writer waits here (busy_timeout)
        // rather than failing half-way through a page.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another connection committed since this one last looked: the key filter may lack
        // its keys. (No one else can commit while this transaction holds the write lock.)
        let version: i64 = tx.pragma_query_value(None, "data_version", |r| r.get(0))?;
        if version != keys.data_version {
            keys.filter = None;
            keys.data_version = version;
        }
        Ok(SqliteTx {
            tx,
            next_id: None,
            keys,
            fences,
        })
    }
}

impl StoreTx for SqliteTx<'_> {
    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        check_fences(&self.tx, self.fences)?;
        self.tx.commit()?;
        Ok(())
    }
}

/// Inside a write transaction (which holds SQLite's one write lock, so no takeover can commit
/// before this one): fails with [`StoreError::Fenced`] unless every fence still holds by this
/// machine's clock, and extends each by the fencing's `renew`.
pub(super) fn check_fences(conn: &Connection, fencing: &Fencing) -> Result<(), StoreError> {
    let now = chrono::Utc::now();
    let until = now + chrono::Duration::from_std(fencing.renew).unwrap_or_default();
    let (now, until) = (
        crate::store::codec::ts(&now),
        crate::store::codec::ts(&until),
    );
    for fence in &fencing.fences {
        let held = conn
            .prepare_cached(
                "UPDATE leases SET expires_at = max(expires_at, ?5)
                 WHERE name = ?1 AND instance = ?2 AND epoch = ?3 AND expires_at > ?4",
            )?
            .execute(rusqlite::params![
                fence.lease,
                fence.instance,
                fence.epoch,
                now,
                until
            ])?;
        if held == 0 {
            return Err(StoreError::Fenced {
                lease: fence.lease.clone(),
            });
        }
    }
    Ok(())
}
