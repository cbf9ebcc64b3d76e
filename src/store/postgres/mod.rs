//! The scale-out store: one PostgreSQL database, for teams past one machine.
//!
//! Selected by `store.url = "postgres://USER@HOST:PORT/DATABASE"`. The password never sits in the
//! URL: it comes from `store.password` (`{ env }` / `{ file }`) or the standard `PGPASSWORD`;
//! host, port, user and database missing from the URL come from `PGHOST`, `PGPORT`, `PGUSER` and
//! `PGDATABASE`, as `psql` takes them.
//!
//! The same contract as SQLite's (the shared suite runs against both): every page in one
//! transaction, one writer at a time (a transaction-scoped advisory lock), reads outside
//! transactions seeing the last committed state.

mod cluster;
mod conn;
mod copy;
mod error;
mod keyfilter;
mod matching;
mod notify;
mod outbox;
mod persons;
mod records;
mod reports;
mod runs;
mod schema;
mod tx;

use super::{Store, StoreError, StoreTx};
use conn::Db;
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// How long a transaction waits for another writer before it gives up (`Busy`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a session may sit idle inside a transaction before the server ends it (and its
/// transaction, freeing its locks): well under [`BUSY_TIMEOUT`], so a writer waiting behind a
/// stalled one gets the lock.
const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(5);

pub struct PgStore {
    db: Db,
    /// What every write checks (see [`crate::store::cluster`]).
    fences: crate::store::cluster::Fencing,
    /// The filter of stored identity keys, built at the first lookup of keys.
    keys: keyfilter::KeyState,
    /// How this store connected, for the connection that listens for wake-ups.
    config: tokio_postgres::Config,
    /// That connection, once asked for.
    listener: Option<Db>,
    /// `postgres://USER@HOST:PORT/DATABASE`, for messages (never with a password).
    location: String,
}

impl PgStore {
    /// Connects and brings the schema up to date. `password`: `store.password` as read, else
    /// `PGPASSWORD`.
    pub fn open(url: &str, password: Option<SecretString>) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| StoreError::Open {
            path: PathBuf::from(redact(url)),
            source: Box::new(e),
        })?;
        if config.get_password().is_some() {
            return Err(StoreError::Open {
                path: PathBuf::from(redact(url)),
                source: "the store url holds a password; write it as `store.password = { env = \"NAME\" }` or `{ file = \"PATH\" }`, or set PGPASSWORD, and take it out of the url".into(),
            });
        }
        from_environment(&mut config);
        let password = password.or_else(|| {
            std::env::var("PGPASSWORD")
                .ok()
                .filter(|p| !p.is_empty())
                .map(SecretString::from)
        });
        if let Some(p) = &password {
            config.password(p.expose_secret());
        }
        config.connect_timeout(Duration::from_secs(10));
        // A transaction left open by a process that stopped running (paused, frozen, cut off)
        // would hold the write lock for every replica: the server ends such a session once it
        // has sat idle inside a transaction this long. A page's statements follow each other
        // within milliseconds, so no live writer comes near it; waiters wait longer (Busy).
        config.options(format!(
            "-c idle_in_transaction_session_timeout={}",
            IDLE_IN_TRANSACTION.as_millis()
        ));
        // As psql does: PGAPPNAME names the connections (one per replica, say, in pg_stat_activity).
        let name = std::env::var("PGAPPNAME").ok().filter(|n| !n.is_empty());
        config.application_name(name.as_deref().unwrap_or("leadsync"));
        let location = describe(&config);
        let db = Db::connect(&config).map_err(|e| {
            let auth = e.code().is_some_and(|c| c.code().starts_with("28"));
            if auth {
                StoreError::Auth {
                    location: location.clone(),
                    source: error::PgError::boxed(e),
                }
            } else {
                StoreError::Open {
                    path: PathBuf::from(&location),
                    source: error::PgError::boxed(e),
                }
            }
        })?;
        let mut store = PgStore {
            db,
            fences: Default::default(),
            keys: Default::default(),
            config,
            listener: None,
            location,
        };
        store.migrate()?;
        Ok(store)
    }

    /// `postgres://USER@HOST:PORT/DATABASE`.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Applies the missing migrations in one transaction under the write lock: replicas starting
    /// at once migrate once between them.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let known = schema::MIGRATIONS.len() as i64;
        // An up-to-date store is only read: opening it never waits for a writer.
        let current = self
            .db
            .query_opt("SELECT version FROM leadsync_schema", &[]);
        if let Ok(Some(row)) = current
            && row.get::<_, i64>(0) == known
        {
            return Ok(());
        }
        let tx = tx::PgTx::begin(&self.db, &crate::store::cluster::NO_FENCING, &mut self.keys)?;
        tx.db.batch(
            "CREATE TABLE IF NOT EXISTS leadsync_schema (version BIGINT NOT NULL);
             INSERT INTO leadsync_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM leadsync_schema)",
        )?;
        let found: i64 = tx
            .db
            .query_one("SELECT version FROM leadsync_schema", &[])?
            .get(0);
        if found > known {
            return Err(StoreError::TooNew {
                path: PathBuf::from(&self.location),
                found,
                known,
            });
        }
        for sql in schema::MIGRATIONS.iter().skip(found as usize) {
            tx.db.batch(sql)?;
        }
        tx.db
            .execute("UPDATE leadsync_schema SET version = $1", &[&known])?;
        Box::new(tx).commit()
    }
}

/// Host, port, user and database from `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE` where the URL
/// left them out.
fn from_environment(config: &mut tokio_postgres::Config) {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if config.get_hosts().is_empty() {
        config.host(var("PGHOST").as_deref().unwrap_or("localhost"));
    }
    if config.get_ports().is_empty()
        && let Some(port) = var("PGPORT").and_then(|p| p.parse().ok())
    {
        config.port(port);
    }
    if config.get_user().is_none() {
        let user = var("PGUSER")
            .or_else(|| var("USER"))
            .unwrap_or_else(|| "postgres".into());
        config.user(user);
    }
    if config.get_dbname().is_none()
        && let Some(db) = var("PGDATABASE")
    {
        config.dbname(db);
    }
}

/// `postgres://USER@HOST:PORT/DATABASE` of a config, without its password.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or("?"),
        config.get_dbname().or(config.get_user()).unwrap_or("?")
    )
}

/// A URL as it may be shown: any password replaced.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) => {
                let user = user.split_once(':').map_or(user, |(u, _)| u);
                format!("{scheme}://{user}:***@{host}")
            }
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl Store for PgStore {
    fn begin(&mut self) -> Result<Box<dyn StoreTx + '_>, StoreError> {
        Ok(Box::new(tx::PgTx::begin(
            &self.db,
            &self.fences,
            &mut self.keys,
        )?))
    }

    /// PostgreSQL checkpoints on its own.
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn schema_version(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .db
            .query_one("SELECT version FROM leadsync_schema", &[])?
            .get(0))
    }
}

/// The store's contract, as every backend must keep it: the same suite as SQLite's, each test in
/// a fresh database of the test cluster.
#[cfg(test)]
mod contract {
    use super::PgStore;
    use crate::store::suite::{Fresh, store_suite};

    store_suite!(|| {
        let url = leadsync_test_postgres::Cluster::get().fresh_db();
        let store = PgStore::open(&url, None).unwrap();
        Fresh::new(store, (), move || PgStore::open(&url, None).unwrap())
    });
}
