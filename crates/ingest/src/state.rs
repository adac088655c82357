//! [`Ingest`]: what every handler shares — the store, the tokens, the limits, the counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::auth::{Principal, Tokens};
use crate::complete;
use crate::error::{Result, TusError};
use crate::limits::{Guards, Limits};
use crate::metrics::{Metrics, Report, Totals};
use crate::store::{self, UploadState, UploadStore};

/// Seconds since its last write after which the sweep finishes an upload that has all its
/// bytes but was never finished.
const STALE_AFTER: u64 = 15;
/// How long a verified token is trusted without asking the token table again: a revoked
/// token stops working within this time.
const TOKEN_CACHE: Duration = Duration::from_secs(5);
/// Tokens remembered at once. Keys are SHA-256 digests, so each entry is small whatever a
/// client presents; past this the cache drops stale entries, then everything.
const CACHED_TOKENS: usize = 10_000;
/// Longer than any token this server makes (`wst_` and 64 hex digits) by a wide margin;
/// anything longer is refused before it is hashed or looked up.
pub(crate) const MAX_TOKEN_LEN: usize = 256;

/// Tokens by their SHA-256: who owns each (or no one), and since when that is known.
type TokenCache = HashMap<[u8; 32], (Option<Principal>, Instant)>;

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
    token_cache: Mutex<TokenCache>,
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

    /// Finishes what a crash interrupted: uploads claimed for verifying but not recorded,
    /// uploads whose bytes are all in but which were never claimed, and final uploads whose
    /// parts completed. One upload's trouble is logged and left (a final whose part is
    /// gone fails with that reason): it never stops the server from starting.
    pub async fn recover(&self) -> Result<usize> {
        let store = &self.inner.store;
        let mut pending = store.list(Some(UploadState::Verifying), usize::MAX >> 1).await?;
        pending.extend(store.list(Some(UploadState::Receiving), usize::MAX >> 1).await?);
        let mut finished = 0;
        for upload in pending {
            let outcome = match upload.state {
                UploadState::Verifying if store.shared() => {
                    complete::settle(self, upload.clone()).await.map(|_| ())
                }
                UploadState::Verifying => complete::finish_claimed(self, &upload).await.map(|_| ()),
                _ if upload.is_final() => complete::join(self, &upload.id).await,
                _ if upload.length == Some(upload.offset) => {
                    complete::finish(self, &upload).await.map(|_| ())
                }
                _ => continue,
            };
            match outcome {
                Ok(()) => finished += 1,
                Err(e) => {
                    tracing::error!(upload = %upload.id, error = %e, "could not finish it; left as it is")
                }
            }
        }
        Ok(finished)
    }

    /// Removes expired unfinished uploads (failing the finals that listed them), and joins
    /// finals and finishes uploads that an interruption left unfinished (on the cluster
    /// store, an instance killed after acknowledging an upload's last byte: any instance's
    /// sweep finishes it); returns how many were removed.
    pub async fn sweep(&self) -> Result<usize> {
        let removed = self.inner.store.remove_expired(crate::db::now()).await?;
        for id in &removed {
            tracing::info!(upload = %id, "expired upload removed");
            complete::fail_finals_of(self, id, "expired before it was finished").await;
        }
        self.inner.metrics.expired.fetch_add(removed.len() as u64, std::sync::atomic::Ordering::Relaxed);
        // Last written before this, an upload with all its bytes is one nobody is finishing
        // (its writer's lease, seconds long, is over): one still being finished is left be.
        let stale = (crate::db::now() + self.limits().expire_after.as_secs()).saturating_sub(STALE_AFTER);
        let verifying = self.inner.store.list(Some(UploadState::Verifying), usize::MAX >> 1).await?;
        let receiving = self.inner.store.list(Some(UploadState::Receiving), usize::MAX >> 1).await?;
        for upload in verifying {
            let id = upload.id.clone();
            match complete::settle(self, upload).await {
                // Its check is running elsewhere.
                Ok(_) | Err(crate::Error::Locked(_)) => {}
                Err(e) => {
                    tracing::error!(upload = %id, error = %e, "checking an upload left unchecked failed")
                }
            }
        }
        for upload in receiving {
            let orphaned = upload.length == Some(upload.offset) && upload.expires.is_some_and(|e| e < stale);
            if upload.is_final() || orphaned {
                let id = upload.id.clone();
                match complete::settle(self, upload).await {
                    // It is being written or finished now, elsewhere.
                    Ok(_) | Err(crate::Error::Locked(_)) => {}
                    Err(e) => {
                        tracing::error!(upload = %id, error = %e, "finishing an interrupted upload failed")
                    }
                }
            }
        }
        Ok(removed.len())
    }

    /// What this process has counted, and the bodies streaming to it now.
    fn report(&self) -> Report {
        Report {
            counters: self.inner.metrics.counters(),
            in_flight: self.inner.guards.transfers_in_flight() as u64,
        }
    }

    /// The counters of every instance sharing the store, summed (publishing this one's
    /// first, so that its own are current; the others' are as of their last report).
    pub(crate) async fn totals(&self) -> Result<Totals> {
        let report = self.report();
        Ok(match self.inner.store.cluster_totals(&report).await? {
            Some(totals) => totals,
            None => Totals::alone(report),
        })
    }

    /// The owner of a bearer token (`None`: no one's), from a short cache keyed by the
    /// token's digest, else looked up — once `before_lookup` allows it (a token seen lately
    /// passes whatever else its address sent). A token too long to be one is no one's and
    /// is never looked up.
    pub(crate) async fn principal(
        &self,
        token: &str,
        before_lookup: impl FnOnce() -> Result<(), TusError>,
    ) -> Result<Option<Principal>, TusError> {
        if token.len() > MAX_TOKEN_LEN {
            return Ok(None);
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Ok(cache) = self.inner.token_cache.lock() {
            if let Some((p, at)) = cache.get(&key) {
                if at.elapsed() < TOKEN_CACHE {
                    return Ok(p.clone());
                }
            }
        }
        before_lookup()?;
        let p = self.inner.tokens.verify(token).await?;
        if let Ok(mut cache) = self.inner.token_cache.lock() {
            if cache.len() >= CACHED_TOKENS {
                cache.retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE);
                if cache.len() >= CACHED_TOKENS {
                    cache.clear();
                }
            }
            cache.insert(key, (p.clone(), Instant::now()));
        }
        Ok(p)
    }
}
