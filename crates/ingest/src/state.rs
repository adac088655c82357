//! [`Ingest`]: what every handler shares — the store, the tokens, the limits, the counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::auth::{Principal, Tokens};
use crate::error::{Result, TusError};
use crate::limits::{Guards, Limits};
use crate::metrics::Metrics;
use crate::store::{self, UploadState, UploadStore};

/// How long a verified token is trusted without asking the token table again: a revoked
/// token stops working within this time.
const TOKEN_CACHE: Duration = Duration::from_secs(5);

/// The server's shared state; cheap to clone. Build it with the backends chosen at start-up.
#[derive(Clone)]
pub struct Ingest {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Arc<dyn UploadStore>,
    pub tokens: Arc<dyn Tokens>,
    pub guards: Guards,
    pub metrics: Metrics,
    /// `Tus-Extension`, derived once from the store.
    pub extensions: String,
    token_cache: Mutex<HashMap<String, (Option<Principal>, Instant)>>,
}

impl Ingest {
    pub fn new(store: Arc<dyn UploadStore>, tokens: Arc<dyn Tokens>, limits: Limits) -> Ingest {
        let extensions = store::extensions(store.as_ref()).join(",");
        Ingest {
            inner: Arc::new(Inner {
                store,
                tokens,
                guards: Guards::new(limits),
                metrics: Metrics::default(),
                extensions,
                token_cache: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The store this server was built with.
    pub fn store(&self) -> &dyn UploadStore {
        self.inner.store.as_ref()
    }

    pub fn limits(&self) -> &Limits {
        self.inner.guards.limits()
    }

    /// Finishes what a crash interrupted: uploads whose bytes are all in but which were never
    /// verified, and final uploads whose parts completed before the crash.
    pub async fn recover(&self) -> Result<usize> {
        let mut finished = 0;
        for upload in self.inner.store.list(Some(UploadState::Receiving), usize::MAX >> 1).await? {
            if upload.is_final() {
                if let Some(concat) = self.inner.store.concat() {
                    if let Some(done) = concat.concatenate(&upload.id).await? {
                        crate::complete::finish(self, &done).await?;
                        finished += 1;
                    }
                }
            } else if upload.length == Some(upload.offset) {
                crate::complete::finish(self, &upload).await?;
                finished += 1;
            }
        }
        Ok(finished)
    }

    /// Removes expired unfinished uploads; returns how many.
    pub async fn sweep(&self) -> Result<usize> {
        let removed = self.inner.store.remove_expired(crate::db::now()).await?;
        for id in &removed {
            tracing::info!(upload = %id, "expired upload removed");
        }
        self.inner.metrics.expired.fetch_add(removed.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(removed.len())
    }

    /// The owner of a bearer token, through a short cache.
    pub(crate) async fn principal(&self, token: &str) -> Result<Option<Principal>, TusError> {
        if let Ok(cache) = self.inner.token_cache.lock() {
            if let Some((p, at)) = cache.get(token) {
                if at.elapsed() < TOKEN_CACHE {
                    return Ok(p.clone());
                }
            }
        }
        let p = self.inner.tokens.verify(token).await?;
        if let Ok(mut cache) = self.inner.token_cache.lock() {
            if cache.len() > 10_000 {
                cache.retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE);
            }
            cache.insert(token.to_string(), (p.clone(), Instant::now()));
        }
        Ok(p)
    }
}
