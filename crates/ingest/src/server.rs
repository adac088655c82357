//! Running the server on a socket: recovery after a crash, the expiry sweeper, then the
//! connections (`connections.rs`) until shutdown.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use crate::auth::SqliteTokens;
use crate::bucket::Bucket;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::pg::{Pg, PgTokens};
use crate::state::Ingest;
use crate::store::{ClusterStore, FileStore};

/// The local backends in `data` (created if missing): the state database
/// `data/ingest.sqlite`, the bytes under `data/uploads`.
pub fn open_local(data: &Path, limits: Limits) -> Result<Ingest> {
    let db = open_db(data)?;
    let store = FileStore::open(data, db.clone(), limits.expire_after)?;
    Ok(Ingest::new(Arc::new(store), Arc::new(SqliteTokens::new(db)), limits))
}

/// The cluster backends: the state in the PostgreSQL database at `state` (migrated first,
/// safely when several instances start at once), the bytes in `bucket` (checked first). A
/// wrong URL, an unreachable server, refused credentials or a missing database or bucket
/// is an error that says which. Runs on the current Tokio runtime.
pub async fn open_cluster(state: &str, bucket: Bucket, limits: Limits) -> Result<Ingest> {
    let pg = Pg::connect(state).await?;
    bucket.check().await?;
    let store = ClusterStore::new(pg.clone(), bucket, limits.expire_after, limits.max_size)?;
    Ok(Ingest::new(Arc::new(store), Arc::new(PgTokens::new(pg)), limits))
}

/// The state database in `data`, for token management without a running server.
pub fn open_db(data: &Path) -> Result<Db> {
    std::fs::create_dir_all(data).map_err(|source| Error::Io { path: data.display().to_string(), source })?;
    Db::open(&data.join("ingest.sqlite"))
}

/// Serves `ingest` on `listener` until `shutdown` resolves. Uploads a crash left finished
/// but unverified are verified first; expired uploads are swept in the background. Once
/// `shutdown` resolves, requests in progress get the limits' grace period, then the
/// server returns whatever clients do.
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
    // Instances sharing a store report their counters, so that any of them answers
    // /metrics for all.
    let reporter = ingest.store().shared().then(|| {
        let ingest = ingest.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(crate::metrics::REPORT_EVERY);
            loop {
                tick.tick().await;
                if let Err(e) = ingest.totals().await {
                    tracing::debug!(error = %e, "reporting this instance's counters failed");
                }
            }
        })
    });
    let limits = ingest.limits().clone();
    let app = crate::router::router(ingest);
    crate::connections::accept(listener, app, &limits, shutdown).await;
    sweeper.abort();
    if let Some(reporter) = reporter {
        reporter.abort();
    }
    Ok(())
}
