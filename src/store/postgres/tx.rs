//! The one write transaction a page (or any other unit of change) goes through; each role's
//! writes are implemented in that role's file.
//!
//! `begin` takes a transaction-scoped advisory lock, the store's write lock: one writer at a time,
//! as with SQLite, waiting up to the lock timeout (then `Busy`). Dropping the transaction without
//! `commit` rolls it back.

use super::conn::Db;
use super::keyfilter::{KeyState, TxKeys};
use crate::store::cluster::Fencing;
use crate::store::{StoreError, StoreTx};

/// The advisory lock key of the store's write lock (`leadsync` in ASCII).
const WRITE_LOCK: i64 = 0x6c65_6164_7379_6e63;

pub(super) struct PgTx<'c> {
    pub(super) db: &'c Db,
    /// Person ids taken from the sequence and not handed out yet.
    pub(super) ids: std::collections::VecDeque<i64>,
    /// How many ids it took from the sequence so far.
    pub(super) ids_taken: i64,
    /// Ids handed out by this transaction and not saved yet: their persons are new, written by
    /// a plain `INSERT`.
    pub(super) new_ids: std::collections::HashSet<i64>,
    /// The store's filter of stored keys (see [`super::keyfilter`]).
    pub(super) keys: &'c mut KeyState,
    pub(super) tx_keys: TxKeys,
    /// Checked at commit (see [`check_fences`]).
    fences: &'c Fencing,
    /// Whether the transaction planned a push: its commit then wakes the other replicas.
    pub(super) planned: bool,
    done: bool,
}

impl<'c> PgTx<'c> {
    pub(super) fn begin(
        db: &'c Db,
        fences: &'c Fencing,
        keys: &'c mut KeyState,
    ) -> Result<Self, StoreError> {
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
            ids_taken: 0,
            new_ids: Default::default(),
            keys,
            tx_keys: TxKeys::default(),
            fences,
            planned: false,
            done: false,
        })
    }
}

impl StoreTx for PgTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        // Writes still in flight answer first: a failed one fails the commit (and the drop then
        // rolls back).
        self.db.flush()?;
        check_fences(self.db, self.fences)?;
        if self.planned {
            // Delivered at commit, to every connection listening.
            self.db.batch(&format!("NOTIFY {WAKEUP_CHANNEL}"))?;
        }
        self.done = true;
        self.db.batch("COMMIT")?;
        self.committed_keys();
        Ok(())
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Writes still in flight are waited for whatever they answer: the transaction ends
            // here.
            let _ = self.db.flush();
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

#[cfg(test)]
mod tests {
    use crate::model::Key;
    use crate::store::PgStore;
    use crate::store::prelude::*;
    use leadsync_connector_core::{Field, Locator, SourceRecord};

    #[test]
    fn a_sent_write_the_server_refuses_fails_the_transaction_and_nothing_of_it_stays() {
        // GIVEN a transaction that inserted a key, then sent records one of which has a NUL in
        // its id (which PostgreSQL's text refuses)
        let url = leadsync_test_postgres::Cluster::get().fresh_db();
        let mut store = PgStore::open(&url, None).unwrap();
        let key = Key {
            kind: "email",
            value: "a@x.io".into(),
        };
        let record = |id: &str, email: &str| SourceRecord {
            locator: Locator::Crm { id: id.into() },
            observed_at: chrono::Utc::now(),
            values: vec![(Field::Email, email.into())],
            archived: false,
        };
        let (good, bad) = (record("1", "a@x.io"), record("2\0", "b@x.io"));
        let mut tx = store.begin().unwrap();
        tx.insert_keys(&[(key, 1)]).unwrap();

        // WHEN the records are sent and the transaction committed
        let sent = tx.upsert_records("hubspot", &[(&good, 1), (&bad, 1)]);

        // THEN the server's answer fails the transaction: at commit, or already at the send
        // when the answer arrived before the send returned (the connection's thread can be
        // that quick); nothing of the transaction is stored, and the store takes the next one
        let err = match sent {
            Ok(()) => tx.commit().unwrap_err(),
            Err(e) => {
                drop(tx);
                e
            }
        };
        assert!(err.to_string().contains("0x00"), "{err}");
        assert_eq!(store.person_by_key("email", "a@x.io").unwrap(), None);
        assert!(!store.holds_records("hubspot").unwrap());
        let mut tx = store.begin().unwrap();
        tx.upsert_records("hubspot", &[(&good, 1)]).unwrap();
        tx.commit().unwrap();
        assert!(store.holds_records("hubspot").unwrap());
    }

    #[test]
    fn a_file_row_goes_in_once_and_a_crm_record_is_replaced() {
        // GIVEN a store holding a row of a dropped file and a CRM record
        let url = leadsync_test_postgres::Cluster::get().fresh_db();
        let mut store = PgStore::open(&url, None).unwrap();
        let row = |email: &str| SourceRecord {
            locator: Locator::File {
                hash: "h".into(),
                name: "f.csv".into(),
                row: 2,
            },
            observed_at: chrono::Utc::now(),
            values: vec![(Field::Email, email.into())],
            archived: false,
        };
        let contact = |email: &str| SourceRecord {
            locator: Locator::Crm { id: "7".into() },
            values: vec![(Field::Email, email.into())],
            ..row(email)
        };
        let mut tx = store.begin().unwrap();
        tx.upsert_records("drops", &[(&row("a@x.io"), 1)]).unwrap();
        tx.upsert_records("hubspot", &[(&contact("a@x.io"), 1)])
            .unwrap();
        tx.commit().unwrap();

        // WHEN the CRM record comes again, changed
        let mut tx = store.begin().unwrap();
        tx.upsert_records("hubspot", &[(&contact("b@x.io"), 2)])
            .unwrap();
        tx.commit().unwrap();
        // THEN it is replaced
        let records = store.records_of(2).unwrap();
        assert_eq!(records.len(), 1, "{records:?}");

        // WHEN the file row is offered again (its cursor would have moved past it)
        let mut tx = store.begin().unwrap();
        let err = match tx.upsert_records("drops", &[(&row("c@x.io"), 3)]) {
            Ok(()) => tx.commit().unwrap_err(),
            Err(e) => {
                drop(tx);
                e
            }
        };
        // THEN it is refused as a constraint error, and the stored row stays as it was
        assert_eq!(
            err.kind(),
            crate::store::StoreErrorKind::Constraint,
            "{err}"
        );
        assert!(store.records_of(3).unwrap().is_empty());
        assert_eq!(store.records_of(1).unwrap().len(), 1);
    }
}
