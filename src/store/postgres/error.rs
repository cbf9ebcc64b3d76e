//! PostgreSQL's errors sorted into the store's kinds, by SQLSTATE.

use crate::store::StoreError;
use tokio_postgres::error::SqlState;

/// PostgreSQL's error with the server's own message in its text (`tokio_postgres` shows only
/// "db error" and keeps the message in its source).
#[derive(Debug)]
pub(super) struct PgError(tokio_postgres::Error);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_db_error() {
            Some(db) => {
                write!(f, "{} ({})", db.message(), db.code().code())?;
                if let Some(detail) = db.detail() {
                    write!(f, ": {detail}")?;
                }
                Ok(())
            }
            None => match std::error::Error::source(&self.0) {
                Some(source) => write!(f, "{}: {source}", self.0),
                None => write!(f, "{}", self.0),
            },
        }
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl PgError {
    pub(super) fn boxed(e: tokio_postgres::Error) -> Box<PgError> {
        Box::new(PgError(e))
    }
}

/// Every `?` on a PostgreSQL call inside this backend goes through here.
impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(code) = e.code() else {
            // No SQLSTATE: the connection itself failed (closed, reset, timed out).
            let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
            return if e.is_closed() || io {
                StoreError::Io(PgError::boxed(e))
            } else {
                StoreError::Backend(PgError::boxed(e))
            };
        };
        match code {
            c if *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::QUERY_CANCELED =>
            {
                StoreError::Busy(PgError::boxed(e))
            }
            c if c.code().starts_with("23") => StoreError::Constraint(PgError::boxed(e)),
            c if c.code().starts_with("53")
                || c.code().starts_with("58")
                || c.code().starts_with("08") =>
            {
                StoreError::Io(PgError::boxed(e))
            }
            _ => StoreError::Backend(PgError::boxed(e)),
        }
    }
}
