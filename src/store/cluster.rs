//! Several `leadsync run` replicas on one store: leases with fencing epochs, outbox claims, the
//! shared request pace of each CRM account, and turns taken once per cluster.
//!
//! - A **lease** is a row `(name, holder, instance, epoch, expires_at)`. A replica takes a free
//!   or expired lease (the epoch goes up by one at every takeover) and renews it while it lives.
//!   Every replica holds a lease of its own (`replica:<instance>`, its membership) and, while it
//!   pulls a connector, that connector's (`connector:<id>`).
//! - A **fence** is a lease as a replica believes it holds it. Every write of a fenced store
//!   (each transaction's commit, each outbox outcome, each connector state) first checks, in the
//!   same transaction, that every fence still holds: same instance, same epoch, not expired by
//!   the database's clock. A replica paused past its lease therefore writes nothing when it
//!   wakes: [`StoreError::Fenced`], and it stops.
//! - An outbox **claim** marks a batch of pending entries with a token for a while; the outcome
//!   is recorded only for entries that still carry the token. A replica that dies between the
//!   CRM's answer and that commit leaves the claim to expire, and the entries are pushed again
//!   (setting the same stage twice is harmless).
//! - The **pace** of an account is one row: the time of its next free request slot. Taking a
//!   slot is one statement, so replicas together never send faster than the slots allow.
//!
//! Times that decide (expiries, slots) are the database's own clock on PostgreSQL, so replicas'
//! clocks do not matter; SQLite, on one machine, uses that machine's clock.

use super::{OutboxEntry, StoreError};
use chrono::{DateTime, Utc};
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// One running process of a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// What operators call it: `daemon.replica_id`, else `HOSTNAME-PID`.
    pub id: String,
    /// Unique to this process: a restarted replica with the same id is a new instance, so it
    /// never mistakes its predecessor's leases for its own.
    pub instance: String,
}

impl Replica {
    /// This process, named `id` or, without one, after the host and the process id.
    pub fn this_process(id: Option<&str>) -> Replica {
        let id = id
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id()));
        let mut random = std::collections::hash_map::RandomState::new().build_hasher();
        random.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        random.write_u32(std::process::id());
        Replica {
            id,
            instance: format!("{:016x}", random.finish()),
        }
    }

    /// The name of this process's membership lease.
    pub fn member_lease(&self) -> String {
        format!("replica:{}", self.instance)
    }
}

/// The machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `localhost`).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A lease row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lease {
    pub name: String,
    /// The replica id of the holder.
    pub holder: String,
    pub instance: String,
    /// Goes up by one at every takeover.
    pub epoch: i64,
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    /// The fence a write made under this lease carries.
    pub fn fence(&self) -> Fence {
        Fence {
            lease: self.name.clone(),
            instance: self.instance.clone(),
            epoch: self.epoch,
        }
    }
}

/// A lease as its holder believes it holds it; see the module's documentation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fence {
    pub lease: String,
    pub instance: String,
    pub epoch: i64,
}

/// What every write of a store checks, and how long a write that passes extends the leases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fencing {
    pub fences: Vec<Fence>,
    /// A writer that still holds its leases is alive: each write extends them to at least this
    /// long from now, so a replica busy with long pages never depends on its heartbeat alone
    /// (SQLite's one write lock can keep a heartbeat waiting for a long drop).
    pub renew: Duration,
}

/// No fences: the writes of a one-off command, a migration, a copy.
pub(crate) static NO_FENCING: Fencing = Fencing {
    fences: Vec::new(),
    renew: Duration::ZERO,
};

/// A batch of outbox entries taken by one replica for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Unique to the batch; the outcome is recorded only where it still stands.
    pub token: String,
    /// The replica id, for operators.
    pub by: String,
    /// How long other replicas leave the entries alone.
    pub ttl: Duration,
}

impl Claim {
    /// A new claim of `replica`'s, with a token no other batch has.
    pub fn new(replica: &Replica, ttl: Duration) -> Claim {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Claim {
            token: format!("{}-{n}", replica.instance),
            by: replica.id.clone(),
            ttl,
        }
    }
}

/// The outcome of one pushed entry: `done`, `dead` (with the reason) or still `pending` (with
/// the reason of the failed attempt).
pub type PushResult<'a> = (i64, &'a str, Option<String>);

/// What replicas share through the store. Every method commits on its own.
pub trait ClusterStore {
    /// Takes the lease `name` for `ttl` when it is free or expired (its epoch then goes up by
    /// one); `None` while another instance holds it.
    fn take_lease(
        &mut self,
        name: &str,
        replica: &Replica,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError>;
    /// Extends a lease its holder still holds (same instance and epoch, not expired) by `ttl`
    /// from now; `None` once it is lost.
    fn renew_lease(&mut self, fence: &Fence, ttl: Duration) -> Result<Option<Lease>, StoreError>;
    /// Gives a held lease up at once (a clean stop), so another replica need not wait for it to
    /// expire.
    fn release_lease(&mut self, fence: &Fence) -> Result<(), StoreError>;
    /// Every lease row, by name; expired ones included (their holder is gone).
    fn leases(&mut self) -> Result<Vec<Lease>, StoreError>;
    /// Deletes membership leases expired for longer than `age` (replicas gone for good).
    fn reap_leases(&mut self, age: Duration) -> Result<u64, StoreError>;

    /// From now on, every write of this store checks these fences (empty: none) and extends
    /// them by `renew` (see [`Fencing`]).
    fn set_fences(&mut self, fences: Vec<Fence>, renew: Duration);

    /// Claims up to `limit` pending entries of a connector with an id above `after` that nobody
    /// claims (or whose claim expired), oldest first, skipping rows another replica is claiming
    /// at this moment.
    fn claim_pushes(
        &mut self,
        connector: &str,
        after: i64,
        claim: &Claim,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Records the outcomes of a claimed batch where the claim still stands (an entry planned
    /// again since, or claimed by another replica after the claim expired, keeps its state);
    /// a `done` push also marks its record as holding the pushed tier. Answers how many
    /// outcomes were recorded.
    fn complete_pushes(
        &mut self,
        claim: &Claim,
        results: &[PushResult<'_>],
    ) -> Result<usize, StoreError>;

    /// Takes the next request slot of `account`, slots being `spacing` apart whoever takes
    /// them; answers how long to wait for it (zero: now).
    fn pace(&mut self, account: &str, spacing: Duration) -> Result<Duration, StoreError>;

    /// Takes the turn `name` unless some replica took it less than `min_gap` ago: the first of
    /// several replicas asking at once gets it.
    fn take_turn(&mut self, name: &str, min_gap: Duration) -> Result<bool, StoreError>;

    /// A message each time another connection commits new pushes (PostgreSQL's LISTEN/NOTIFY,
    /// on a connection of its own); `None` where the backend has no such thing. Notices are lost
    /// while the connection is down: a slow poll must back them up.
    fn wakeups(&mut self) -> Result<Option<tokio::sync::mpsc::UnboundedReceiver<()>>, StoreError> {
        Ok(None)
    }
}
