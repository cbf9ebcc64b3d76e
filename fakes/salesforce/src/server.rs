//! The HTTP server: binds, serves the routes, and stops when its handle is dropped or shut down.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::conn::{ConnAddr, KillableListener};
use crate::gate::Shared;
use crate::routes;

/// A running server. Dropping it stops the server (gracefully, in the background).
#[derive(Debug)]
pub struct ServerHandle {
    /// `http://127.0.0.1:PORT`, no trailing slash: the org's `instance_url`.
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

pub(crate) async fn serve(shared: Arc<Shared>, addr: SocketAddr) -> io::Result<ServerHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = routes::router(shared).into_make_service_with_connect_info::<ConnAddr>();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(KillableListener::new(listener), app)
            .with_graceful_shutdown(async move {
                // A dropped handle ends the server too.
                let _ = stopped.await;
            })
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "fake Salesforce server stopped with an error");
        }
    });
    Ok(ServerHandle {
        base_url: format!("http://{addr}"),
        addr,
        stop,
        task,
    })
}
