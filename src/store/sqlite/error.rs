//! SQLite's errors sorted into the store's kinds.

use crate::store::StoreError;
use rusqlite::ErrorCode;

/// Every `?` on a SQLite call inside this backend goes through here.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Busy(Box::new(e))
            }
            Some(ErrorCode::ConstraintViolation) => StoreError::Constraint(Box::new(e)),
            Some(
                ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::ReadOnly
                | ErrorCode::CannotOpen
                | ErrorCode::PermissionDenied,
            ) => StoreError::Io(Box::new(e)),
            _ => StoreError::Backend(Box::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreErrorKind;

    fn failure(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn sqlite_codes_become_the_stores_kinds() {
        use rusqlite::ffi;
        let kind = |e: rusqlite::Error| StoreError::from(e).kind();
        assert_eq!(kind(failure(ffi::SQLITE_BUSY)), StoreErrorKind::Busy);
        assert_eq!(kind(failure(ffi::SQLITE_LOCKED)), StoreErrorKind::Busy);
        assert_eq!(
            kind(failure(ffi::SQLITE_CONSTRAINT_UNIQUE)),
            StoreErrorKind::Constraint
        );
        assert_eq!(kind(failure(ffi::SQLITE_FULL)), StoreErrorKind::Io);
        assert_eq!(kind(failure(ffi::SQLITE_READONLY)), StoreErrorKind::Io);
        assert_eq!(
            kind(rusqlite::Error::QueryReturnedNoRows),
            StoreErrorKind::Backend
        );
    }
}
