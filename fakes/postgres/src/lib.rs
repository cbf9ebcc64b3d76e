//! A throwaway PostgreSQL cluster for tests, and a fresh database in it for each test.
//!
//! With `LEADSYNC_TEST_PG_URL` set (`postgres://user@host:port/db`, a role allowed to create
//! databases), tests use that server. Otherwise the first test of a process runs `initdb` into a
//! temporary folder and starts the cluster with `pg_ctl` on a free port of 127.0.0.1, using the
//! server binaries installed on the machine (on PATH, else Debian's
//! `/usr/lib/postgresql/VERSION/bin`); it stops when the test process ends. Run as root, the
//! cluster belongs to the `postgres` user (PostgreSQL refuses to run as root).
//!
//! Without server binaries and without the variable, [`Cluster::get`] panics naming what is
//! missing: PostgreSQL tests never skip silently.
#![deny(unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The variable naming a server to use instead of a throwaway cluster.
pub const URL_VAR: &str = "LEADSYNC_TEST_PG_URL";

/// A role with a password, for tests of password authentication: [`PASSWORD_ROLE`] /
/// [`PASSWORD`]. (Only in a throwaway cluster; against `LEADSYNC_TEST_PG_URL` such tests use the
/// server as configured.)
pub const PASSWORD_ROLE: &str = "leadsync_pw";
pub const PASSWORD: &str = "correct-horse-battery";

/// A running server tests can make databases in.
pub struct Cluster {
    /// `postgres://USER@HOST:PORT` without a database: a superuser (or a role that may create
    /// databases) that needs no password.
    base: String,
    /// The admin URL's database, for creating the others.
    admin_db: String,
    /// `psql`, used to create databases.
    psql: PathBuf,
    /// Whether this is a throwaway cluster (it has the password role).
    pub throwaway: bool,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

impl Cluster {
    /// The process's cluster, started at the first call.
    pub fn get() -> &'static Cluster {
        CLUSTER.get_or_init(|| match std::env::var(URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Cluster::external(url.trim()),
            _ => Cluster::start(),
        })
    }

    /// A new, empty database; its URL (`postgres://USER@127.0.0.1:PORT/NAME`).
    pub fn fresh_db(&self) -> String {
        let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
        let name = format!("leadsync_t{}_{n}", std::process::id());
        self.psql(&format!("CREATE DATABASE {name}"));
        format!("{}/{name}", self.base)
    }

    /// A new, empty database owned by `role` (which must exist); its name.
    pub fn fresh_db_owned_by(&self, role: &str) -> String {
        let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
        let name = format!("leadsync_t{}_{n}", std::process::id());
        self.psql(&format!("CREATE DATABASE {name} OWNER {role}"));
        name
    }

    /// `host:port` of the server.
    pub fn host_port(&self) -> &str {
        self.base
            .rsplit_once('@')
            .map_or(self.base.as_str(), |(_, hp)| hp)
    }

    /// Runs `sql` on the database at `url` with `psql` (a client independent of the store's):
    /// the rows of its last statement, each a `|`-separated line. Panics with psql's message
    /// on an error.
    pub fn query(&self, url: &str, sql: &str) -> Vec<String> {
        let out = Command::new(&self.psql)
            .arg(url)
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.psql.display()));
        assert!(
            out.status.success(),
            "psql failed on `{sql}`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn psql(&self, sql: &str) {
        let out = Command::new(&self.psql)
            .arg(format!("{}/{}", self.base, self.admin_db))
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.psql.display()));
        assert!(
            out.status.success(),
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn external(url: &str) -> Cluster {
        let (base, db) = url
            .rsplit_once('/')
            .filter(|(b, _)| b.contains("://") && !b.ends_with('/'))
            .unwrap_or_else(|| {
                panic!("{URL_VAR}=`{url}` must be postgres://USER@HOST:PORT/DATABASE")
            });
        let psql = binary("psql").unwrap_or_else(|| missing("psql"));
        Cluster {
            base: base.to_string(),
            admin_db: db.to_string(),
            psql,
            throwaway: false,
        }
    }

    fn start() -> Cluster {
        let initdb = binary("initdb").unwrap_or_else(|| missing("initdb"));
        let pg_ctl = binary("pg_ctl").unwrap_or_else(|| missing("pg_ctl"));
        let psql = binary("psql").unwrap_or_else(|| missing("psql"));
        // Kept (not deleted on drop): the stopper removes it once the cluster is down.
        let dir = tempfile::Builder::new()
            .prefix("leadsync-pg-")
            .tempdir()
            .expect("a temporary folder")
            .keep();
        let owner = as_postgres_if_root(&dir);
        let data = dir.join("data");
        run(
            owner.command(&initdb).args(["-D"]).arg(&data).args([
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-A",
                "trust",
            ]),
            "initdb",
        );
        // The superuser needs no password on 127.0.0.1; every other role does.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("pg_hba.conf");
        let port = free_port();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            dir.display()
        );
        run(
            owner
                .command(&pg_ctl)
                .arg("-D")
                .arg(&data)
                .args(["-o", &options, "-l"])
                .arg(dir.join("log"))
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
        );
        // Stop the cluster when this process ends, however it ends.
        // (The watcher runs as this user: `kill -0` on another user's process would fail.)
        let stopper = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {}'{}' -D '{}' -m immediate stop >/dev/null 2>&1; rm -rf '{}'",
            if owner.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            pg_ctl.display(),
            data.display(),
            dir.display(),
            pid = std::process::id()
        );
        // Left running on purpose: it outlives this process to stop the cluster.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &stopper])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the cluster's stopper starts");
        let cluster = Cluster {
            base: format!("postgres://postgres@127.0.0.1:{port}"),
            admin_db: "postgres".into(),
            psql,
            throwaway: true,
        };
        cluster.psql(&format!(
            "CREATE ROLE {PASSWORD_ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'"
        ));
        cluster
    }
}

/// Who runs the server: this user, or `postgres` when this is root.
struct Owner {
    as_postgres: bool,
}

impl Owner {
    fn command(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }
}

/// PostgreSQL refuses to run as root: as root, the folder is handed to `postgres`.
fn as_postgres_if_root(dir: &Path) -> Owner {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root {
        let out = Command::new("chown")
            .args(["-R", "postgres:"])
            .arg(dir)
            .output()
            .expect("chown runs");
        assert!(
            out.status.success(),
            "running as root, the test cluster must belong to the `postgres` user, and chown failed: {} (create the user, or set {URL_VAR})",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Owner { as_postgres: root }
}

fn run(command: &mut Command, what: &str) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL program on PATH, else in the newest `/usr/lib/postgresql/VERSION/bin`.
fn binary(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| {
                let e = e.ok()?;
                let v = e.file_name().to_str()?.parse().ok()?;
                Some((v, e.path().join("bin").join(name)))
            })
            .filter(|(_, p)| p.is_file())
            .collect();
        versions.sort();
        versions.pop().map(|(_, p)| p)
    })
}

fn missing(name: &str) -> ! {
    panic!(
        "PostgreSQL tests need the server binaries: `{name}` is neither on PATH nor in /usr/lib/postgresql/*/bin. Install the PostgreSQL server (Debian: apt-get install postgresql), or point {URL_VAR} at a server (postgres://USER@HOST:PORT/DATABASE, a role that may create databases)"
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}
