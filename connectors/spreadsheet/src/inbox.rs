//! The inbox folder: which files are ready, their content hash, and moving them out safely.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Names that are never taken: hidden files, editor and office lock files, partial downloads,
/// and leadsync's own notes. A `.rejects.csv` is taken: leadsync writes its own beside the files
/// in `processed/`, so one in the inbox is a user's fixed rejects, dropped again.
pub fn is_ignored(name: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        ".tmp",
        ".temp",
        ".part",
        ".partial",
        ".crdownload",
        ".download",
        ".swp",
        "~",
        ".error.txt",
        ".lock",
    ];
    name.starts_with('.') || name.starts_with("~$") || {
        let lower = name.to_lowercase();
        SUFFIXES.iter().any(|s| lower.ends_with(s))
    }
}

/// A file in the inbox that is not taken as it is, and why: what the operator must fix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Skipped {
    /// The file's name (invalid UTF-8 shown as U+FFFD).
    pub file: String,
    pub reason: String,
}

/// What the inbox holds: the files to take, oldest first (then by name), and those skipped.
#[derive(Debug, Default)]
pub struct Listing {
    pub files: Vec<PathBuf>,
    pub skipped: Vec<Skipped>,
}

/// Files directly in `inbox` that are not ignored. Folders (`processed/`, `failed/`) are passed
/// over; symbolic links and other non-files are listed as skipped, never followed.
pub fn list(inbox: &Path) -> io::Result<Listing> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for entry in fs::read_dir(inbox)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_ignored(&name) {
            continue;
        }
        let skip = |reason: String| Skipped {
            file: name.clone(),
            reason,
        };
        let kind = match entry.file_type() {
            Ok(k) => k,
            Err(e) => {
                skipped.push(skip(format!("cannot be looked at: {e}")));
                continue;
            }
        };
        if kind.is_symlink() {
            skipped.push(skip(
                "a symbolic link: links are never followed; move or copy the file itself into the inbox".into(),
            ));
            continue;
        }
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            skipped.push(skip(
                "not a regular file (a pipe, socket or device); remove it from the inbox".into(),
            ));
            continue;
        }
        let mtime = entry
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        files.push((mtime, entry.path()));
    }
    files.sort();
    skipped.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(Listing {
        files: files.into_iter().map(|(_, p)| p).collect(),
        skipped,
    })
}

/// Whether a file is complete enough to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Still changing: look again after this long.
    NotYet(Duration),
}

/// What a file looked like when last seen.
#[derive(Debug, Clone, Copy)]
struct Look {
    size: u64,
    modified: SystemTime,
    /// When this size and modification time were first seen.
    since: Instant,
}

/// Each file's size and modification time across passes, so a file still being written is
/// simply not taken yet, and no pass waits for it.
#[derive(Debug, Default)]
pub struct Settling {
    seen: HashMap<PathBuf, Look>,
}

impl Settling {
    /// Ready once the file's size and modification time have not changed for `settle`: by its
    /// modification time, or by how long this process has seen it unchanged (a clock-skewed
    /// modification time never holds a file back for good).
    pub fn check(&mut self, path: &Path, meta: &fs::Metadata, settle: Duration) -> Readiness {
        let now = Instant::now();
        let size = meta.len();
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let age = SystemTime::now()
            .duration_since(modified)
            .unwrap_or(Duration::ZERO);
        let unchanged_for = match self.seen.get(path) {
            Some(l) if l.size == size && l.modified == modified => now - l.since,
            seen_before => {
                let changed = seen_before.is_some();
                let look = Look {
                    size,
                    modified,
                    since: now,
                };
                self.seen.insert(path.to_path_buf(), look);
                if changed {
                    // It changed since the last look: still being written.
                    return Readiness::NotYet(settle);
                }
                Duration::ZERO
            }
        };
        let quiet = age.max(unchanged_for);
        if quiet >= settle {
            Readiness::Ready
        } else {
            Readiness::NotYet(settle - quiet)
        }
    }

    /// Forgets files no longer in the inbox.
    pub fn retain(&mut self, present: &[PathBuf]) {
        self.seen.retain(|p, _| present.contains(p));
    }
}

/// SHA-256 of the file's bytes, hex: the identity of a drop's content.
pub fn content_hash(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A name in `dir` for `name` prefixed with a UTC timestamp that no existing file has: inputs
/// are never overwritten.
pub fn timestamped_target(dir: &Path, name: &str, now: chrono::DateTime<chrono::Utc>) -> PathBuf {
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    let mut candidate = dir.join(format!("{stamp}_{name}"));
    let mut n = 1;
    while candidate.exists() || sidecar(&candidate, ".rejects.csv").exists() {
        candidate = dir.join(format!("{stamp}-{n}_{name}"));
        n += 1;
    }
    candidate
}

/// `path` with `suffix` appended to its file name.
pub fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Moves a file, falling back to copy, sync and remove across file systems.
pub fn move_file(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir)?;
    }
    match fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
            fs::copy(from, to)?;
            fs::File::open(to)?.sync_all()?;
            fs::remove_file(from)
        }
        Err(e) => Err(e),
    }
}

/// Writes a file whole or not at all: a temp file in the same folder, synced, then renamed.
/// `mode` is its permission bits (a note takes its drop's, so whoever dropped it can read it).
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_and_hidden_names_are_ignored() {
        for n in [
            ".contacts.csv",
            "~$book.xlsx",
            "export.csv.part",
            "x.crdownload",
            "a.tmp",
            "f.csv.error.txt",
        ] {
            assert!(is_ignored(n), "{n}");
        }
        assert!(!is_ignored("contacts.csv") && !is_ignored("Leads Q3.xlsx"));
        assert!(!is_ignored("20260101T000000Z_contacts.csv.rejects.csv"));
    }

    #[test]
    fn targets_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let now = chrono::Utc::now();
        let a = timestamped_target(dir.path(), "c.csv", now);
        fs::write(&a, "x").unwrap();
        let b = timestamped_target(dir.path(), "c.csv", now);
        assert_ne!(a, b);
    }

    #[test]
    fn a_changing_file_is_not_ready_until_it_stops_changing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        let settle = Duration::from_millis(300);
        let mut settling = Settling::default();
        fs::write(&p, "a").unwrap();
        let look = |s: &mut Settling| s.check(&p, &fs::metadata(&p).unwrap(), settle);
        assert!(
            matches!(look(&mut settling), Readiness::NotYet(_)),
            "just written"
        );
        fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"more")
            .unwrap();
        assert!(matches!(look(&mut settling), Readiness::NotYet(_)), "grew");
        std::thread::sleep(settle);
        assert_eq!(look(&mut settling), Readiness::Ready);
    }
}
