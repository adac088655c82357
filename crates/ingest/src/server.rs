//! Running the server on a socket: recovery after a crash, the expiry sweeper, graceful
//! shutdown.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use crate::auth::SqliteTokens;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::state::Ingest;
use crate::store::FileStore;

/// The local backends in `data` (created if missing): the state database
/// `data/ingest.sqlite`, the bytes under `data/uploads`.
pub fn open_local(data: &Path, limits: Limits) -> Result<Ingest> {
    let db = open_db(data)?;
    let store = FileStore::open(data, db.clone(), limits.expire_after)?;
    Ok(Ingest::new(Arc::new(store), Arc::new(SqliteTokens::new(db)), limits))
}

/// The state database in `data`, for token management without a running server.
pub fn open_db(data: &Path) -> Result<Db> {
    std::fs::create_dir_all(data).map_err(|source| Error::Io { path: data.display().to_string(), source })?;
    Db::open(&data.join("ingest.sqlite"))
}

/// Serves `ingest` on `listener` until `shutdown` resolves. Uploads a crash left finished
/// but unverified are verified first; expired uploads are swept in the background.
pub async fn serve(
    ingest: Ingest,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let recovered = ingest.recover().await?;
    if recovered > 0 {
        tracing::info!(recovered, "finished uploads a previous run left unverified");
    }
    let sweeper = {
        let ingest = ingest.clone();
        let every = ingest.limits().sweep_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = ingest.sweep().await {
                    tracing::error!(error = %e, "sweeping expired uploads failed");
                }
            }
        })
    };
    let header_timeout = ingest.limits().header_timeout;
    let app = crate::router::router(ingest);
    accept(listener, app, header_timeout, shutdown).await;
    sweeper.abort();
    Ok(())
}

/// hyper grows a connection's read buffer to about 400 KB while a body streams in; with a
/// thousand uploads at once that alone was 400 MB. Bodies are written to disk in pieces of
/// this size anyway.
const CONNECTION_BUFFER: usize = 64 * 1024;

/// The accept loop: one task per connection, HTTP/1.1 or HTTP/2, with a header read
/// timeout (axum::serve sets none) and bounded buffers. On shutdown, stops accepting and
/// lets requests in progress finish.
async fn accept(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    header_timeout: std::time::Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(CONNECTION_BUFFER);
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, mostly: wait for connections to close.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let watched = graceful.watcher().watch(connection);
        tokio::spawn(async move {
            if let Err(e) = watched.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
