//! The inbox folder: which files are ready, their content hash, and moving them out safely.

use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Names that are never taken: hidden files, editor and office lock files, partial downloads,
/// and leadsync's own notes.
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
        ".rejects.csv",
        ".error.txt",
        ".lock",
    ];
    name.starts_with('.') || name.starts_with("~$") || {
        let lower = name.to_lowercase();
        SUFFIXES.iter().any(|s| lower.ends_with(s))
    }
}

/// Files directly in `inbox` that are not ignored, oldest first (then by name).
pub fn list(inbox: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(inbox)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_ignored(name) || !entry.file_type()?.is_file() {
            continue;
        }
        let mtime = entry
            .metadata()?
            .modified()
            .unwrap_or(SystemTime::UNIX_EPOCH);
        files.push((mtime, entry.path()));
    }
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

/// Waits until `path` has not been modified for `settle` (a file still being copied keeps
/// changing its size and modification time, so it is never read half-way). Gives up after
/// `max_wait`, returning false.
pub fn wait_until_settled(path: &Path, settle: Duration, max_wait: Duration) -> io::Result<bool> {
    let started = Instant::now();
    loop {
        let meta = fs::metadata(path)?;
        let age = SystemTime::now()
            .duration_since(meta.modified()?)
            .unwrap_or(Duration::ZERO);
        if age >= settle {
            return Ok(true);
        }
        if started.elapsed() >= max_wait {
            return Ok(false);
        }
        std::thread::sleep(
            (settle - age).clamp(Duration::from_millis(10), Duration::from_millis(500)),
        );
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
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
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
            "f.csv.rejects.csv",
        ] {
            assert!(is_ignored(n), "{n}");
        }
        assert!(!is_ignored("contacts.csv") && !is_ignored("Leads Q3.xlsx"));
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
    fn a_growing_file_is_not_settled_until_it_stops() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        fs::write(&p, "a").unwrap();
        let writer = {
            let p = p.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    std::thread::sleep(Duration::from_millis(60));
                    let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
                    f.write_all(b"more").unwrap();
                }
            })
        };
        let started = Instant::now();
        assert!(
            wait_until_settled(&p, Duration::from_millis(200), Duration::from_secs(10)).unwrap()
        );
        writer.join().unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(400),
            "waited for the writes to stop"
        );
        assert_eq!(fs::read_to_string(&p).unwrap().len(), 21);
    }
}
