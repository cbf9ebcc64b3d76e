//! One PostgreSQL connection, used synchronously as the store's traits are.
//!
//! `tokio-postgres` splits a connection in two: the [`Client`] that sends queries, and a
//! connection future that does the socket I/O. The future runs on a thread of its own with a
//! one-thread runtime; the client's futures only talk to it over channels, so the store waits on
//! them with a plain executor, from any thread — also from inside the daemon's runtime, where a
//! nested `block_on` of tokio would panic. The wait blocks the calling thread, as a SQLite call
//! does.
//!
//! A write whose answer the caller does not need at once can be [sent](Db::send) instead: the
//! server runs it while the caller goes on with its own work (a page's qualifying, say), and
//! its answer is read before any later statement's.

use crate::store::StoreError;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

/// A write sent and not answered yet.
type InFlight =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, tokio_postgres::Error>> + Send>>;

/// A statement's parameters, owned: a [sent](Db::send) write outlives its caller's borrows.
pub(super) type Params = Vec<Box<dyn ToSql + Sync + Send>>;

pub(super) struct Db {
    client: std::sync::Arc<Client>,
    /// Writes [sent](Db::send) and not answered yet, in the order sent.
    in_flight: std::sync::Mutex<Vec<InFlight>>,
    /// Prepared statements by their text: each is parsed and planned once per connection.
    statements: std::sync::Mutex<std::collections::HashMap<String, Statement>>,
    /// The thread driving the connection; it ends when the client is dropped.
    _driver: std::thread::JoinHandle<()>,
}

impl Db {
    /// Connects with `config` (the password already set on it, if any).
    pub(super) fn connect(config: &tokio_postgres::Config) -> Result<Db, tokio_postgres::Error> {
        Db::connect_with(config, None)
    }

    /// Connects, and sends a message on `notices` for every notification the server delivers
    /// to this connection (after a `LISTEN`). The sender is dropped when the connection ends.
    pub(super) fn connect_with(
        config: &tokio_postgres::Config,
        notices: Option<tokio::sync::mpsc::UnboundedSender<()>>,
    ) -> Result<Db, tokio_postgres::Error> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let config = config.clone();
        let driver = std::thread::Builder::new()
            .name("leadsync-pg".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => panic!("cannot start the PostgreSQL connection's runtime: {e}"),
                };
                runtime.block_on(async move {
                    match config.connect(tokio_postgres::NoTls).await {
                        Ok((client, connection)) => {
                            let _ = ready_tx.send(Ok(client));
                            if let Err(e) = drive(connection, notices).await {
                                tracing::warn!(error = %e, "PostgreSQL connection ended.");
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .expect("a thread can be spawned");
        let client = ready_rx
            .recv()
            .expect("the connection thread answers before it ends")?;
        Ok(Db {
            client: std::sync::Arc::new(client),
            in_flight: Default::default(),
            statements: Default::default(),
            _driver: driver,
        })
    }

    /// The prepared statement for `sql`, prepared at its first use.
    async fn prepared(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        let cached = self
            .statements
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(sql)
            .cloned();
        if let Some(stmt) = cached {
            return Ok(stmt);
        }
        let stmt = self.client.prepare(sql).await?;
        self.statements
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    pub(super) fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        self.flush()?;
        Ok(wait(async {
            let stmt = self.prepared(sql).await?;
            self.client.query(&stmt, params).await
        })?)
    }

    pub(super) fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        self.flush()?;
        Ok(wait(async {
            let stmt = self.prepared(sql).await?;
            self.client.query_opt(&stmt, params).await
        })?)
    }

    pub(super) fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, StoreError> {
        self.flush()?;
        Ok(wait(async {
            let stmt = self.prepared(sql).await?;
            self.client.query_one(&stmt, params).await
        })?)
    }

    /// Runs one statement; the rows it changed.
    pub(super) fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.flush()?;
        Ok(wait(async {
            let stmt = self.prepared(sql).await?;
            self.client.execute(&stmt, params).await
        })?)
    }

    /// Runs a query and hands each row to `visit` as it arrives (the rows are not all held in
    /// memory); stops at the first error `visit` returns.
    pub(super) fn stream(
        &self,
        sql: &str,
        visit: &mut dyn FnMut(Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.flush()?;
        let stmt = wait(self.prepared(sql))?;
        let params: [&(dyn ToSql + Sync); 0] = [];
        let rows = wait(self.client.query_raw(&stmt, params))?;
        for row in futures_executor::block_on_stream(Box::pin(rows)) {
            visit(row?)?;
        }
        Ok(())
    }

    /// Runs statements separated by `;`, without parameters (migrations, `BEGIN`, `COMMIT`).
    pub(super) fn batch(&self, sql: &str) -> Result<(), StoreError> {
        self.flush()?;
        Ok(wait(self.client.batch_execute(sql))?)
    }

    /// Sends a write without waiting for its answer: the server runs it while the caller goes
    /// on. Statements run in the order sent, so later ones see its rows; its answer is read
    /// before any later statement's, and a failure comes back from that later call (or from
    /// [`Db::flush`]), or from this one when the answer arrived before it returned. Only for
    /// writes whose failure dooms the whole transaction anyway.
    pub(super) fn send(&self, sql: &str, params: Params) -> Result<(), StoreError> {
        self.flush()?;
        let stmt = wait(self.prepared(sql))?;
        let client = self.client.clone();
        let mut write: InFlight = Box::pin(async move {
            let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p as _).collect();
            client.execute(&stmt, &params).await
        });
        // The first poll encodes the statement and hands it to the connection's thread, which
        // sends it; then it waits for the answer, read in `flush`.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::future::Future::poll(write.as_mut(), &mut cx) {
            std::task::Poll::Ready(done) => done.map(drop).map_err(StoreError::from),
            std::task::Poll::Pending => {
                self.in_flight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(write);
                Ok(())
            }
        }
    }

    /// Waits for every write [sent](Db::send) and not answered yet; the first failure among
    /// them, if any.
    pub(super) fn flush(&self) -> Result<(), StoreError> {
        let sent = std::mem::take(
            &mut *self
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut failed = None;
        for write in sent {
            if let Err(e) = wait(write) {
                failed.get_or_insert(e);
            }
        }
        failed.map_or(Ok(()), |e| Err(e.into()))
    }
}

/// Waits for one of the client's futures on the calling thread.
fn wait<T>(
    future: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, tokio_postgres::Error> {
    futures_executor::block_on(future)
}

/// Does a connection's I/O until it ends, handing each notification to `notices`.
async fn drive<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    notices: Option<tokio::sync::mpsc::UnboundedSender<()>>,
) -> Result<(), tokio_postgres::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Some(notices) = notices else {
        return connection.await;
    };
    std::future::poll_fn(|cx| {
        loop {
            match connection.poll_message(cx) {
                std::task::Poll::Ready(Some(Ok(tokio_postgres::AsyncMessage::Notification(_)))) => {
                    // A listener that went away leaves nothing to tell.
                    let _ = notices.send(());
                }
                std::task::Poll::Ready(Some(Ok(_))) => {}
                std::task::Poll::Ready(Some(Err(e))) => return std::task::Poll::Ready(Err(e)),
                std::task::Poll::Ready(None) => return std::task::Poll::Ready(Ok(())),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
    })
    .await
}
