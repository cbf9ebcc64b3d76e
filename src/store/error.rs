//! What can go wrong in a store, whatever the backend: a small set of kinds, the backend's own
//! error kept only as the source, and one function that says whether a kind is worth retrying.

use std::path::PathBuf;

/// A backend's own error (SQLite's, PostgreSQL's), kept as the cause of a [`StoreError`].
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be opened or its settings cannot be applied.
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: BackendError,
    },
    /// The database refused the credentials (a wrong or missing password, an unknown role).
    #[error(
        "the store at {location} refused the credentials: {source}; check `store.password` (or PGPASSWORD) and the role"
    )]
    Auth {
        location: String,
        #[source]
        source: BackendError,
    },
    /// The store was written by a newer leadsync.
    #[error(
        "store at {path} has schema version {found}, newer than this leadsync knows ({known}); upgrade leadsync"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// A cursor was offered that is behind the stored one; the transaction must be abandoned.
    #[error(
        "cursor for {connector}/{stream} would move backwards (stored {stored}, offered {offered}); nothing was written"
    )]
    CursorRegression {
        connector: String,
        stream: String,
        stored: String,
        offered: String,
    },
    /// Stored data leadsync cannot read back (bad JSON, timestamp or tier), or a store url it
    /// does not know.
    #[error("store data is corrupt: {0}")]
    Corrupt(String),
    /// Another connection held the store's write lock for longer than the store waits.
    #[error("store query failed: {0}")]
    Busy(#[source] BackendError),
    /// A write broke a uniqueness or other constraint of the schema.
    #[error("store query failed: {0}")]
    Constraint(#[source] BackendError),
    /// The backend could not read or write its files (disk full, read-only, permissions).
    #[error("store query failed: {0}")]
    Io(#[source] BackendError),
    /// Anything else the backend reported.
    #[error("store query failed: {0}")]
    Backend(#[source] BackendError),
    /// A write of a replica that no longer holds the lease it was made under: the replica was
    /// paused or cut off past the lease's expiry, and another may have taken over.
    #[error(
        "this replica no longer holds the lease `{lease}` (paused or cut off past its expiry; another replica may hold it now): nothing was written"
    )]
    Fenced { lease: String },
}

/// The kind of a [`StoreError`], for deciding what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    Open,
    Auth,
    TooNew,
    CursorRegression,
    Corrupt,
    Busy,
    Constraint,
    Io,
    Backend,
    Fenced,
}

/// What a caller should do about an error of some kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Trying again later (the next page, cycle or turn) may succeed: the failed transaction
    /// was rolled back whole, so nothing is lost by retrying.
    pub retry: bool,
    /// What an operator can do, when the message alone does not say it.
    pub hint: Option<&'static str>,
}

impl StoreErrorKind {
    /// The one mapping from a kind to retry-or-give-up.
    ///
    /// A constraint failure counts as retryable: it means two writers raced or a bug, the page is
    /// rolled back with its cursor, and it is read again on the next cycle.
    pub fn policy(self) -> Policy {
        use StoreErrorKind::*;
        let (retry, hint) = match self {
            Open => (
                true,
                Some(
                    "check that the store's folder exists and is writable by the user leadsync runs as",
                ),
            ),
            Busy => (
                true,
                Some(
                    "another process (a daemon, a sync) held the store's write lock too long; try again when it is done",
                ),
            ),
            Io => (
                true,
                Some("check the free space and permissions of the store's folder"),
            ),
            Constraint | Backend => (true, None),
            Fenced => (
                false,
                Some(
                    "the replica stops so that it starts again clean (its supervisor restarts it); if it happens often, raise `daemon.lease_ttl` or look for pauses (swap, a frozen VM)",
                ),
            ),
            Auth | TooNew | CursorRegression | Corrupt => (false, None),
        };
        Policy { retry, hint }
    }
}

impl StoreError {
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::Open { .. } => StoreErrorKind::Open,
            StoreError::Auth { .. } => StoreErrorKind::Auth,
            StoreError::TooNew { .. } => StoreErrorKind::TooNew,
            StoreError::CursorRegression { .. } => StoreErrorKind::CursorRegression,
            StoreError::Corrupt(_) => StoreErrorKind::Corrupt,
            StoreError::Busy(_) => StoreErrorKind::Busy,
            StoreError::Constraint(_) => StoreErrorKind::Constraint,
            StoreError::Io(_) => StoreErrorKind::Io,
            StoreError::Backend(_) => StoreErrorKind::Backend,
            StoreError::Fenced { .. } => StoreErrorKind::Fenced,
        }
    }

    /// See [`StoreErrorKind::policy`].
    pub fn policy(&self) -> Policy {
        self.kind().policy()
    }
}
