//! One writer per upload across instances: a lease in the upload's row, with a fencing
//! token that every take-over raises and every write checks (in the same transaction, with
//! the row locked), so an instance that was paused or cut off past its lease can never
//! commit again. The instance that wants an upload another holds asks it to let go
//! (`NOTIFY wedsync_release`); a holder whose body has gone quiet ends it there, keeping
//! what arrived, as if the client had gone. A holder that died is waited out: its lease
//! ends by itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use deadpool_postgres::Object;
use tokio::sync::Notify;
use tokio_postgres::types::ToSql;

use super::{row, ClusterStore, Row, COLUMNS};
use crate::error::{Error, Result};
use crate::pg::Pg;

/// How long a lease lasts without renewal; its holder renews it every [`RENEW`]. A holder
/// that dies keeps its uploads this long.
const LEASE: Duration = Duration::from_secs(6);
const RENEW: Duration = Duration::from_secs(2);
/// How long a request waits for an upload another request holds (as the local store).
const LOCK_WAIT: Duration = Duration::from_secs(2);
/// The channel on which instances ask each other to let an upload go; the payload is its id.
const CHANNEL: &str = "wedsync_release";

/// Whether [`ClusterStore::acquire`] asks the holder to let go, or only waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ask {
    ToLetGo,
    Wait,
    /// Neither asks nor waits: [`Error::Locked`] at once if it is held.
    NoWait,
}

/// A held lease: the upload and the fencing token it was taken with. A task renews it
/// every [`RENEW`] for as long as it is held, whatever the holder is doing (a part upload
/// to a slow bucket included), and stops when it is dropped or found lost.
#[derive(Debug)]
pub(super) struct Lease {
    pub id: String,
    pub fence: i64,
    renewal: tokio::task::JoinHandle<()>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

/// Extends the lease on `id` taken with `fence`; false if it was lost (taken over, or the
/// upload is gone).
async fn renew(pg: &Pg, id: &str, fence: i64) -> Result<bool> {
    let client = pg.client().await?;
    let n = client
        .execute(
            "UPDATE uploads SET lease_until = now() + make_interval(secs => $3) WHERE id = $1 AND fence = $2",
            &[&id, &fence, &LEASE.as_secs_f64()],
        )
        .await
        .map_err(|e| pg.error(e))?;
    Ok(n == 1)
}

impl Lease {
    fn held(pg: Pg, id: &str, fence: i64) -> Lease {
        let key = id.to_string();
        let renewal = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + RENEW, RENEW);
            loop {
                tick.tick().await;
                match renew(&pg, &key, fence).await {
                    Ok(true) => {}
                    // Lost: the holder's next write is refused by its fence.
                    Ok(false) => return,
                    Err(e) => {
                        tracing::warn!(upload = %key, error = %e, "renewing a lease failed; trying again")
                    }
                }
            }
        });
        Lease { id: id.to_string(), fence, renewal }
    }
}

/// The appends running in this instance, each with the signal that asks it to let go.
#[derive(Default)]
pub(super) struct Releases {
    running: Mutex<HashMap<String, Arc<Notify>>>,
}

/// Unregisters a running append when dropped.
pub(super) struct Registered<'a> {
    releases: &'a Releases,
    id: String,
    pub signal: Arc<Notify>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Ok(mut running) = self.releases.running.lock() {
            running.remove(&self.id);
        }
    }
}

impl Releases {
    pub fn register(&self, id: &str) -> Registered<'_> {
        let signal = Arc::new(Notify::new());
        if let Ok(mut running) = self.running.lock() {
            running.insert(id.to_string(), signal.clone());
        }
        Registered { releases: self, id: id.to_string(), signal }
    }

    fn ask(&self, id: &str) {
        if let Some(signal) = self.running.lock().ok().and_then(|r| r.get(id).cloned()) {
            // notify_one keeps the permit if the append is between two reads.
            signal.notify_one();
        }
    }

    /// Passes the release requests from every instance (this one's included) to the
    /// appends running here, for as long as `releases` lives; listens again after the
    /// database connection drops.
    pub fn listen(pg: Pg, releases: Weak<Releases>) {
        tokio::spawn(async move {
            let (to, mut from) = tokio::sync::mpsc::channel::<String>(256);
            let listener = {
                let pg = pg.clone();
                tokio::spawn(async move {
                    loop {
                        if let Err(e) = pg.listen(CHANNEL, &to).await {
                            tracing::warn!(error = %e, "listening for release requests; trying again");
                        }
                        if to.is_closed() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                })
            };
            let mut check = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    id = from.recv() => match (id, releases.upgrade()) {
                        (Some(id), Some(releases)) => releases.ask(&id),
                        _ => break,
                    },
                    _ = check.tick() => if releases.strong_count() == 0 { break },
                }
            }
            listener.abort();
        });
    }
}

impl ClusterStore {
    /// Takes the lease on upload `id`, waiting for it up to [`LOCK_WAIT`]; [`Error::Locked`]
    /// after that, [`Error::NotFound`] if there is no such upload. With `ask`, asks the
    /// holder to let go first: a PATCH does, since a tus client sends the next PATCH only
    /// once it has given the last one up (whose connection the server may not yet know is
    /// dead). Returns the lease and the row as it is now. In the same statement, drops the
    /// tail segments and parts that hold bytes past the acknowledged offset (what a writer
    /// that crashed or lost its lease left): never acknowledged, and in the new holder's way.
    pub(super) async fn acquire(&self, id: &str, ask: Ask) -> Result<(Lease, Row)> {
        let start = tokio::time::Instant::now();
        let mut asked = false;
        loop {
            let client = self.pg.client().await?;
            let taken = client
                .query_opt(
                    &format!(
                        "WITH taken AS (
                             UPDATE uploads SET fence = fence + 1, holder = $2,
                                 lease_until = now() + make_interval(secs => $3)
                             WHERE id = $1 AND (holder IS NULL OR lease_until < now())
                             RETURNING fence, {COLUMNS}),
                         tail AS (DELETE FROM upload_tail WHERE upload = $1
                             AND start >= (SELECT \"offset\" FROM taken)),
                         parts AS (DELETE FROM upload_parts WHERE upload = $1
                             AND start + size > (SELECT \"offset\" FROM taken))
                         SELECT * FROM taken"
                    ),
                    &[&id, &self.instance, &LEASE.as_secs_f64()],
                )
                .await
                .map_err(|e| self.pg.error(e))?;
            if let Some(r) = taken {
                let lease = Lease::held(self.pg.clone(), id, r.get(0));
                return Ok((lease, row(&r, 1)));
            }
            let exists = client
                .query_opt("SELECT 1 FROM uploads WHERE id = $1", &[&id])
                .await
                .map_err(|e| self.pg.error(e))?;
            if exists.is_none() {
                return Err(Error::NotFound(id.to_string()));
            }
            if ask == Ask::NoWait {
                return Err(Error::Locked(id.to_string()));
            }
            if !asked && ask == Ask::ToLetGo {
                client
                    .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &id])
                    .await
                    .map_err(|e| self.pg.error(e))?;
                asked = true;
            }
            drop(client);
            if start.elapsed() > LOCK_WAIT {
                return Err(Error::Locked(id.to_string()));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Gives `lease` up, if it is still held. A failure is logged: the lease ends by itself.
    pub(super) async fn release(&self, lease: &Lease) {
        lease.renewal.abort();
        let outcome = async {
            let client = self.pg.client().await?;
            client
                .execute(
                    "UPDATE uploads SET holder = NULL, lease_until = NULL WHERE id = $1 AND fence = $2",
                    &[&lease.id, &lease.fence],
                )
                .await
                .map_err(|e| self.pg.error(e))
        };
        if let Err(e) = outcome.await {
            tracing::warn!(upload = %lease.id, error = %e, "giving a lease up failed; it ends by itself");
        }
    }

    /// A transaction that has checked, with the upload's row locked, that `lease` is
    /// still the current one: a writer that lost it commits nothing and gets
    /// [`Error::Locked`].
    pub(super) async fn fenced(&self, lease: &Lease) -> Result<Fenced> {
        let client = self.pg.client().await?;
        let tx = Fenced { client: Some(client), pg: self.pg.clone() };
        tx.execute("BEGIN", &[]).await?;
        let current = tx
            .client()?
            .query_opt(
                "SELECT 1 FROM uploads WHERE id = $1 AND fence = $2 FOR UPDATE",
                &[&lease.id, &lease.fence],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        if current.is_none() {
            return Err(lost(&lease.id));
        }
        Ok(tx)
    }
}

/// An open transaction on a connection of its own. Dropped without [`Fenced::commit`], it
/// takes its connection out of the pool and closes it, which rolls the transaction back.
pub(super) struct Fenced {
    client: Option<Object>,
    pg: Pg,
}

impl Fenced {
    fn client(&self) -> Result<&Object> {
        self.client.as_ref().ok_or_else(|| Error::Task("a finished transaction was used".into()))
    }

    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.client()?.execute(sql, params).await.map_err(|e| self.pg.error(e))
    }

    pub async fn commit(mut self) -> Result<()> {
        self.execute("COMMIT", &[]).await?;
        self.client = None;
        Ok(())
    }
}

impl Drop for Fenced {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

/// What a writer that lost its lease gets.
fn lost(id: &str) -> Error {
    Error::Locked(id.to_string())
}
