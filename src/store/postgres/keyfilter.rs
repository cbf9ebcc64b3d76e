//! When this connection's filter of stored identity keys ([`crate::store::keyfilter`]) is
//! whole on PostgreSQL, where other connections (replicas, a `store copy`) insert keys too.
//!
//! A statement-level trigger on `identity_keys` (migration 3) writes the id of the transaction
//! that inserted or changed keys into the one row of `key_writes`. Transaction ids are never
//! handed out twice, so the filter is whole while that row holds the id of this connection's
//! own last committed key write, or the value it held when the filter was last found whole:
//! any other writer since would have left its own id there. Read once per write transaction,
//! after the store's write lock is taken, so no other leadsync writer can slip in until commit.
//!
//! A mismatch only costs a rebuild; what must never happen is a match the filter does not
//! deserve. None can: a transaction that rolls back (also one whose `COMMIT` the server turned
//! into a rollback) leaves the row as it was, and this connection then expects its own id,
//! which no other transaction can write.

use super::tx::PgTx;
use crate::store::StoreError;
use crate::store::keyfilter::KeyFilter;

/// The last transaction that wrote keys, and this one's id (assigned now if it had none).
const LAST_KEY_WRITE: &str = "SELECT last_xact, txid_current() FROM key_writes";

/// The filter of a store's connection and the `key_writes` value it is whole at.
#[derive(Default)]
pub(super) struct KeyState {
    filter: Option<KeyFilter>,
    whole_at: Option<i64>,
}

/// What a write transaction learnt and did about keys.
#[derive(Default)]
pub(super) struct TxKeys {
    /// This transaction's id, once the filter was checked in it.
    xact: Option<i64>,
    /// Whether it inserted keys: its commit leaves its id in `key_writes`.
    wrote: bool,
}

impl PgTx<'_> {
    /// The filter, checked against `key_writes` once per transaction and built again (a scan
    /// of every stored key) when dropped or full.
    pub(super) fn key_filter(&mut self) -> Result<&mut KeyFilter, StoreError> {
        if self.tx_keys.xact.is_none() {
            let row = self.db.query_one(LAST_KEY_WRITE, &[])?;
            let (last, mine): (i64, i64) = (row.get(0), row.get(1));
            if self.keys.whole_at != Some(last) {
                self.keys.filter = None;
            }
            self.keys.whole_at = Some(last);
            self.tx_keys.xact = Some(mine);
        }
        if self.keys.filter.as_ref().is_none_or(KeyFilter::is_full) {
            self.keys.filter = Some(build(self)?);
        }
        Ok(self.keys.filter.as_mut().expect("built above"))
    }

    /// Called before this transaction's keys are inserted (and added to the filter).
    pub(super) fn writing_keys(&mut self) {
        self.tx_keys.wrote = true;
    }

    /// Called once `COMMIT` succeeded: the filter holds this transaction's keys, which are
    /// now the last written.
    pub(super) fn committed_keys(&mut self) {
        if self.tx_keys.wrote {
            self.keys.whole_at = self.tx_keys.xact;
        }
    }
}

/// A filter of every key in `identity_keys` (as this transaction sees it), sized for twice as
/// many.
fn build(tx: &PgTx<'_>) -> Result<KeyFilter, StoreError> {
    let stored: i64 = tx
        .db
        .query_one("SELECT count(*) FROM identity_keys", &[])?
        .get(0);
    let mut filter = KeyFilter::with_capacity(2 * stored as usize);
    tx.db
        .stream("SELECT kind, value FROM identity_keys", &mut |row| {
            filter.insert(row.get(0), row.get(1));
            Ok(())
        })?;
    Ok(filter)
}
