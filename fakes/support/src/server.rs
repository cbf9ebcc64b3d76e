//! The HTTP server of a fake: binds, serves the fake's routes over the killable listener of
//! [`crate::conn`], and stops when its handle is dropped or shut down.

use std::io;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::conn::{ConnAddr, KillableListener};

/// A running server. Dropping it stops the server (gracefully, in the background).
#[derive(Debug)]
pub struct ServerHandle {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    /// The bound address.
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(self) {
        let Self { stop, task, .. } = self;
        let _ = stop.send(());
        let _ = task.await;
    }
}

/// Binds `addr` and serves `router` in a tokio task; handlers may take
/// `ConnectInfo<`[`ConnAddr`]`>` to cut their own connection. `fake` names the fake in log lines
/// ("fake HubSpot").
pub async fn serve(
    router: Router,
    addr: SocketAddr,
    fake: &'static str,
) -> io::Result<ServerHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = router.into_make_service_with_connect_info::<ConnAddr>();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(KillableListener::new(listener, fake), app)
            .with_graceful_shutdown(async move {
                // A dropped handle ends the server too.
                let _ = stopped.await;
            })
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "{fake} server stopped with an error");
        }
    });
    Ok(ServerHandle {
        base_url: format!("http://{addr}"),
        addr,
        stop,
        task,
    })
}
