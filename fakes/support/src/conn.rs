//! The connections: a listener whose streams can be "killed" from inside a handler. That is how a
//! fake's drop-after-write fault (HubSpot's `DropAfterApply`, Salesforce's `DropAfterWrite`)
//! applies a write and then loses the answer, exactly what a dropped connection looks like to the
//! client.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Per-connection info handed to handlers: lets a handler kill its own connection.
#[derive(Debug, Clone)]
pub struct ConnAddr {
    kill: Arc<AtomicBool>,
}

impl ConnAddr {
    /// From now on the connection fails every read and write, so hyper drops it unanswered.
    pub fn kill(&self) {
        self.kill.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnAddr {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A bound listener whose connections hand a [`ConnAddr`] to handlers (serve the app with
/// `into_make_service_with_connect_info::<ConnAddr>()`).
pub struct KillableListener {
    inner: TcpListener,
    /// Names the fake in logs ("fake HubSpot"), since two fakes may run in one process.
    fake: &'static str,
}

impl KillableListener {
    /// Wraps `listener`; `fake` names the fake in the log lines ("fake Salesforce").
    pub fn new(listener: TcpListener, fake: &'static str) -> Self {
        KillableListener {
            inner: listener,
            fake,
        }
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = ConnAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let kill = Arc::new(AtomicBool::new(false));
                    let io = KillableStream {
                        inner: stream,
                        kill: Arc::clone(&kill),
                    };
                    return (io, ConnAddr { kill });
                }
                Err(error) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::debug!(%error, "{} accept failed", self.fake);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()?;
        Ok(ConnAddr {
            kill: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// A TCP stream that fails every read and write once its [`ConnAddr`] is killed.
pub struct KillableStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

impl KillableStream {
    fn killed(&self) -> Option<io::Error> {
        self.kill.load(Ordering::SeqCst).then(|| {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "scripted fault: connection dropped after the write",
            )
        })
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.killed() {
            Some(error) => Poll::Ready(Err(error)),
            None => Pin::new(&mut this.inner).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.killed() {
            Some(error) => Poll::Ready(Err(error)),
            None => Pin::new(&mut this.inner).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.killed() {
            Some(error) => Poll::Ready(Err(error)),
            None => Pin::new(&mut this.inner).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.killed() {
            Some(error) => Poll::Ready(Err(error)),
            None => Pin::new(&mut this.inner).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
