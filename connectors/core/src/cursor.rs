use serde::{Deserialize, Serialize};

/// Where a stream stands, as a pair ordered lexicographically: `(lastmodified_ms, id)` for a CRM
/// search, `(rows_read, 0)` for a dropped file. The store refuses a cursor whose position is
/// below the stored one for the same stream and version: a cursor never moves backwards.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct CursorPosition(pub u64, pub u64);

/// An opaque, versioned checkpoint for one stream of one connector.
///
/// The core commits a cursor in the same transaction as the records it covers, so a cursor never
/// passes data that is not stored. `state` is the connector's own serialised detail (it is not
/// interpreted by the core); `version` lets a connector change that format: positions are only
/// compared between cursors of the same version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The stream this cursor belongs to: `contacts` for a CRM, the content hash for a file.
    pub stream: String,
    pub version: u32,
    pub position: CursorPosition,
    /// Whether the stream is finished (a file read to its end).
    pub finished: bool,
    pub state: String,
}

impl Cursor {
    /// True when `next` may replace `self`: same stream, and not behind it (a newer format
    /// version always may, since positions of different versions are not comparable).
    pub fn allows(&self, next: &Cursor) -> bool {
        self.stream == next.stream
            && (next.version > self.version
                || (next.version == self.version && next.position >= self.position))
            && !(self.finished && !next.finished && next.version == self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(version: u32, a: u64, b: u64) -> Cursor {
        Cursor {
            stream: "s".into(),
            version,
            position: CursorPosition(a, b),
            finished: false,
            state: String::new(),
        }
    }

    #[test]
    fn a_cursor_never_moves_backwards() {
        assert!(at(1, 10, 5).allows(&at(1, 10, 6)));
        assert!(at(1, 10, 5).allows(&at(1, 10, 5)));
        assert!(!at(1, 10, 5).allows(&at(1, 9, 99)));
        assert!(
            at(1, 10, 5).allows(&at(2, 0, 0)),
            "a format upgrade restarts positions"
        );
        assert!(
            !at(2, 0, 0).allows(&at(1, 99, 0)),
            "a format downgrade is refused"
        );
        let mut done = at(1, 10, 0);
        done.finished = true;
        assert!(
            !done.allows(&at(1, 10, 0)),
            "a finished stream does not reopen"
        );
    }
}
