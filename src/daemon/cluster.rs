//! This replica among others on one store: its membership lease and the connector leases it
//! holds, renewed by a heartbeat thread of its own (on its own store connection, so a long
//! cycle on the loop never delays a renewal), and each connector's request pace shared through
//! the store.
//!
//! The heartbeat renews every third of `daemon.lease_ttl`. When a renewal of the membership
//! finds it lost (the process was paused, or cut off from the database, past the lease), the
//! replica is told to stop: whatever it still believes may be stale, and the fences on its
//! writes already refuse them. A supervisor (systemd, the container runtime) starts it again
//! clean.

use crate::store::{Fence, Lease, Replica, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// What the heartbeat holds now.
#[derive(Debug, Clone)]
struct Held {
    member: Fence,
    /// By connector id.
    connectors: BTreeMap<String, Lease>,
    /// Connectors this replica runs (it takes their leases when free).
    wanted: Vec<String>,
}

pub(crate) struct Membership {
    pub(crate) replica: Replica,
    held: Arc<Mutex<Held>>,
    /// Set to the lost lease's name when the membership is lost.
    lost: watch::Receiver<Option<String>>,
    stop: Arc<AtomicBool>,
    heartbeat: Option<std::thread::JoinHandle<Box<dyn Store>>>,
}

/// The lease name of a connector.
pub(crate) fn connector_lease(id: &str) -> String {
    format!("connector:{id}")
}

/// The connector id of a connector lease's name.
pub(crate) fn lease_connector(name: &str) -> Option<&str> {
    name.strip_prefix("connector:")
}

impl Membership {
    /// Joins the cluster: takes this process's membership lease and whichever of `wanted`'s
    /// connector leases are free, then starts the heartbeat on `store` (a connection of its
    /// own).
    pub(crate) fn join(
        mut store: Box<dyn Store>,
        replica: Replica,
        ttl: Duration,
        wanted: Vec<String>,
        taken: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Result<Membership, StoreError> {
        let member = store
            .take_lease(&replica.member_lease(), &replica, ttl)?
            .ok_or_else(|| StoreError::Fenced {
                lease: replica.member_lease(),
            })?
            .fence();
        let held = Arc::new(Mutex::new(Held {
            member,
            connectors: BTreeMap::new(),
            wanted,
        }));
        take_free(store.as_mut(), &replica, ttl, &held, None);
        let (lost_tx, lost) = watch::channel(None);
        let stop = Arc::new(AtomicBool::new(false));
        let heartbeat = {
            let (replica, held, stop) = (replica.clone(), Arc::clone(&held), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("leadsync-heartbeat".into())
                .spawn(move || {
                    beat(
                        store.as_mut(),
                        &replica,
                        ttl,
                        &held,
                        &stop,
                        &lost_tx,
                        &taken,
                    );
                    store
                })
                .map_err(|e| StoreError::Io(Box::new(e)))?
        };
        tracing::info!(replica = %replica.id, instance = %replica.instance, ttl_s = ttl.as_secs_f64(), "Joined the store's replicas.");
        Ok(Membership {
            replica,
            held,
            lost,
            stop,
            heartbeat: Some(heartbeat),
        })
    }

    /// The fences a write of this replica carries outside a pull: its membership.
    pub(crate) fn fences(&self) -> Vec<Fence> {
        vec![lock(&self.held).member.clone()]
    }

    /// The fences of a pull of `connector`, when this replica holds it.
    pub(crate) fn fences_for(&self, connector: &str) -> Option<Vec<Fence>> {
        let held = lock(&self.held);
        let lease = held.connectors.get(connector)?;
        Some(vec![held.member.clone(), lease.fence()])
    }

    /// Which connectors this replica runs now (after a reload).
    pub(crate) fn want(&self, connectors: Vec<String>) {
        lock(&self.held).wanted = connectors;
    }

    /// Resolves when the membership is lost, with the lost lease's name.
    pub(crate) async fn lost(&self) -> String {
        let mut lost = self.lost.clone();
        match lost.wait_for(Option::is_some).await {
            Ok(name) => name.clone().unwrap_or_default(),
            Err(_) => std::future::pending().await,
        }
    }

    /// The connector leases this replica holds, by connector id.
    pub(crate) fn held(&self) -> Vec<String> {
        lock(&self.held).connectors.keys().cloned().collect()
    }

    /// Stops the heartbeat and gives every lease up at once, so other replicas need not wait
    /// for them to expire.
    pub(crate) fn leave(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let Some(Ok(mut store)) = self.heartbeat.take().map(|h| h.join()) else {
            return;
        };
        let held = lock(&self.held).clone();
        for lease in held.connectors.values() {
            let _ = store.release_lease(&lease.fence());
        }
        let _ = store.release_lease(&held.member);
        tracing::info!(replica = %self.replica.id, "Left the store's replicas; leases released.");
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The heartbeat: renews, takes free connector leases, reaps long-gone members' rows.
fn beat(
    store: &mut dyn Store,
    replica: &Replica,
    ttl: Duration,
    held: &Mutex<Held>,
    stop: &AtomicBool,
    lost: &watch::Sender<Option<String>>,
    taken: &tokio::sync::mpsc::UnboundedSender<String>,
) {
    let every = ttl / 3;
    let mut beats: u64 = 0;
    loop {
        // Sleep in short steps, so a stop is seen at once.
        let woke = std::time::Instant::now();
        while woke.elapsed() < every {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50).min(every));
        }
        let member = lock(held).member.clone();
        match store.renew_lease(&member, ttl) {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::error!(lease = %member.lease, "This replica's membership lease expired before it was renewed (the process was paused or cut off from the database): stopping.");
                let _ = lost.send(Some(member.lease));
                return;
            }
            Err(e) => {
                // A blip: the next beat tries again, well before the lease expires.
                tracing::warn!(error = %e, "Renewing the membership lease failed.");
                continue;
            }
        }
        let connectors = lock(held).connectors.clone();
        for (id, lease) in connectors {
            match store.renew_lease(&lease.fence(), ttl) {
                Ok(Some(renewed)) => {
                    lock(held).connectors.insert(id, renewed);
                }
                Ok(None) => {
                    tracing::warn!(connector = %id, "Lost the connector's lease; another replica runs it now.");
                    lock(held).connectors.remove(&id);
                }
                Err(e) => {
                    tracing::warn!(connector = %id, error = %e, "Renewing a connector lease failed.")
                }
            }
        }
        take_free(store, replica, ttl, held, Some(taken));
        beats += 1;
        if beats.is_multiple_of(100) {
            // Members gone for a day leave no row behind.
            let _ = store.reap_leases(Duration::from_secs(86_400));
        }
    }
}

/// Takes the leases of wanted connectors that nobody holds (telling `taken`, if given, of each),
/// and drops those no longer wanted.
fn take_free(
    store: &mut dyn Store,
    replica: &Replica,
    ttl: Duration,
    held: &Mutex<Held>,
    taken: Option<&tokio::sync::mpsc::UnboundedSender<String>>,
) {
    let (wanted, connectors) = {
        let h = lock(held);
        (h.wanted.clone(), h.connectors.clone())
    };
    for (id, lease) in &connectors {
        if !wanted.contains(id) {
            let _ = store.release_lease(&lease.fence());
            lock(held).connectors.remove(id);
        }
    }
    for id in wanted.iter().filter(|id| !connectors.contains_key(*id)) {
        match store.take_lease(&connector_lease(id), replica, ttl) {
            Ok(Some(lease)) => {
                tracing::info!(connector = %id, epoch = lease.epoch, "Took the connector's lease: this replica runs it.");
                lock(held).connectors.insert(id.clone(), lease);
                if let Some(taken) = taken {
                    let _ = taken.send(id.clone());
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(connector = %id, error = %e, "Taking a connector lease failed.")
            }
        }
    }
}

/// A connector's request slots, shared with the other replicas through the store (one
/// connection per process, shared by its connectors).
pub(crate) struct StorePace {
    store: Arc<Mutex<Box<dyn Store>>>,
    account: String,
}

impl StorePace {
    pub(crate) fn new(store: Arc<Mutex<Box<dyn Store>>>, account: &str) -> StorePace {
        StorePace {
            store,
            account: account.to_string(),
        }
    }
}

impl leadsync_pacing::SharedPace for StorePace {
    fn take(&self, spacing: Duration) -> Result<Duration, String> {
        lock(&self.store)
            .pace(&self.account, spacing)
            .map_err(|e| e.to_string())
    }
}
