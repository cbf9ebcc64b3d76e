//! A temp folder with a config, an inbox and a store, and the real `leadsync` binary to run on it.
#![allow(dead_code, unreachable_pub)]

pub mod browser;
pub mod daemon;
pub mod hubspot;

use leadsync::store::{SqliteStore, prelude::*};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub inbox: PathBuf,
    pub config: PathBuf,
    pub db: PathBuf,
}

impl Env {
    /// An inbox connector `drops` with `settle = "0s"`, plus `extra` lines in its table.
    pub fn new(extra: &str) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let inbox = dir.path().join("inbox");
        fs::create_dir_all(&inbox).unwrap();
        let db = dir.path().join("leadsync.db");
        let config = dir.path().join("leadsync.toml");
        let env = Env {
            dir,
            inbox,
            config,
            db,
        };
        env.write_config(extra);
        env
    }

    pub fn write_config(&self, extra: &str) {
        let text = format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[connectors.drops]\ntype = \"spreadsheet\"\ninbox = \"{}\"\nsettle = \"0s\"\n{extra}\n",
            self.db.display(),
            self.inbox.display()
        );
        fs::write(&self.config, text).unwrap();
    }

    /// Writes a drop beside the inbox, then moves it in whole (the tests' inboxes settle for
    /// 0 s, so a daemon watching the inbox must never see the file half-written).
    pub fn drop_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let (staged, path) = (self.dir.path().join(name), self.inbox.join(name));
        fs::write(&staged, bytes).unwrap();
        fs::rename(&staged, &path).unwrap();
        path
    }

    /// Runs `leadsync --config <this config> ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// Runs `leadsync --config <this config> ARGS` with these environment variables set.
    pub fn run_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_leadsync"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("LEADSYNC_CONFIG")
            .env("RUST_LOG", "warn")
            .envs(vars.iter().copied())
            .output()
            .expect("leadsync runs")
    }

    /// Runs `leadsync --config <this config> ARGS` as the unprivileged user 65534 (nobody), with
    /// the temp folder and the inbox opened to it: root reads every file, nobody does not.
    pub fn run_as_nobody(&self, args: &[&str]) -> Output {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        for dir in [self.dir.path(), self.inbox.as_path()] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).unwrap();
        }
        Command::new(env!("CARGO_BIN_EXE_leadsync"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("LEADSYNC_CONFIG")
            .env("RUST_LOG", "warn")
            .uid(65534)
            .gid(65534)
            .output()
            .expect("leadsync runs as nobody")
    }

    /// `sync --once`, asserting success.
    pub fn sync(&self) -> String {
        let out = self.run(&["sync", "--once"]);
        assert!(
            out.status.success(),
            "sync failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.db).expect("store opens")
    }

    pub fn person_count(&self) -> u64 {
        self.store().person_count().unwrap()
    }

    pub fn processed_dir(&self) -> PathBuf {
        self.inbox.join("processed")
    }

    pub fn failed_dir(&self) -> PathBuf {
        self.inbox.join("failed")
    }

    /// Files in a folder, sorted by name (empty when the folder does not exist).
    pub fn files_in(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// The processed or failed file that came from `name`, and its sidecar with `suffix`.
    pub fn moved(dir: &Path, name: &str) -> Option<PathBuf> {
        Env::files_in(dir).into_iter().find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.ends_with(&format!("_{name}"))
        })
    }

    /// The rows of a rejects CSV (header excluded): (row, reason).
    pub fn rejects_of(processed: &Path) -> Vec<(u64, String)> {
        let mut path = processed.as_os_str().to_owned();
        path.push(".rejects.csv");
        let Ok(mut r) = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(PathBuf::from(path))
        else {
            return Vec::new();
        };
        r.records()
            .map(|rec| {
                let rec = rec.unwrap();
                (rec[0].parse().unwrap(), rec[1].to_string())
            })
            .collect()
    }
}

/// The files directly in `dir` with their bytes, by name (none when it does not exist).
pub fn file_bytes(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, fs::read(e.path()).unwrap())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Panics unless each of `dropped` (name → bytes) is in the inbox's `processed/` or `failed/`
/// (as `<time>_<name>`), byte for byte, once.
pub fn assert_each_drop_moved_once(
    inbox: &Path,
    dropped: &std::collections::BTreeMap<String, Vec<u8>>,
) {
    let processed = file_bytes(&inbox.join("processed"));
    let failed = file_bytes(&inbox.join("failed"));
    for (name, bytes) in dropped {
        let copies: Vec<(&String, bool)> = processed
            .iter()
            .chain(&failed)
            .filter(|(moved, _)| moved.ends_with(&format!("_{name}")))
            .map(|(moved, content)| (moved, content == bytes))
            .collect();
        assert!(
            matches!(copies.as_slice(), [(_, true)]),
            "{name}: copies (name, same bytes) {copies:?}"
        );
    }
}

/// Panics unless the store holds exactly `persons` persons and each of the first `persons`
/// sample persons of `seed` is found (by email, as identity matches it) as a person of its own.
pub fn assert_each_sample_person_once(
    store: &mut dyn leadsync::store::Store,
    seed: u64,
    persons: usize,
) {
    assert_eq!(store.person_count().unwrap(), persons as u64);
    let identity = leadsync::config::IdentityConfig::default();
    let mut seen = std::collections::HashSet::new();
    for i in 0..persons {
        let email = leadsync_sample::person(seed, i).email;
        let id = leadsync::explain::find(store, &identity, &email)
            .unwrap()
            .unwrap_or_else(|| panic!("sample person {i} ({email}) is missing"));
        assert!(
            seen.insert(id),
            "sample person {i} shares person {id} with another"
        );
    }
}
