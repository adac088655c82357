//! The protocol: one handler per HTTP verb, plus the admin endpoints. Handlers check
//! headers, identity and limits, then call the store through its traits.

pub(crate) mod admin;
pub(crate) mod delete;
pub(crate) mod get;
pub(crate) mod head;
pub(crate) mod options;
pub(crate) mod patch;
pub(crate) mod post;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue};
use futures_util::StreamExt;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::TusError;
use crate::headers::{is_upload_id, Algorithm, Checksum, TUS_VERSION};
use crate::state::Ingest;
use crate::store::{self, BodyError, ConcatRole, Upload, UploadState};

pub(crate) const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// A header as text; a value that is not visible ASCII is a bad request, and so is a
/// header sent twice with different values (which one a proxy on the way would have
/// honoured is anyone's guess).
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, TusError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else { return Ok(None) };
    if values.any(|other| other != first) {
        return Err(TusError::BadRequest(format!("{name} is sent more than once, with different values")));
    }
    first.to_str().map(Some).map_err(|_| TusError::BadRequest(format!("{name} is not ASCII text")))
}

/// The client's address, where the request came over a socket (the accept loop records
/// it); tests that call the router directly have none.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Peer(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Peer>().copied().unwrap_or_default())
    }
}

/// Every tus request but OPTIONS names the protocol version.
pub(crate) fn check_version(headers: &HeaderMap) -> Result<(), TusError> {
    match header(headers, "Tus-Resumable") {
        Ok(Some(TUS_VERSION)) => Ok(()),
        _ => Err(TusError::UnsupportedVersion),
    }
}

/// The bearer token's owner, after the token's request rate is charged. An address whose
/// recent attempts failed too often gets 429 without its token being looked up (a token
/// already in the cache still passes).
pub(crate) async fn authenticate(
    ingest: &Ingest,
    headers: &HeaderMap,
    peer: Peer,
) -> Result<Principal, TusError> {
    let guards = &ingest.inner.guards;
    let principal = match bearer(headers) {
        Some(token) => ingest.principal(token, || guards.may_try(peer.0)).await?,
        None => None,
    };
    let Some(principal) = principal else {
        guards.failed(peer.0);
        return Err(TusError::Unauthorized);
    };
    guards.rate(principal.id)?;
    Ok(principal)
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = header(headers, "Authorization").ok()??;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// For a request that must carry no bytes (to an upload that has them all, or one of
/// length 0): reads what the body holds, whatever its framing, and refuses it if it holds
/// any — the same answer a `Content-Length` says in advance gets.
pub(crate) async fn refuse_bytes(ingest: &Ingest, body: axum::body::Body) -> Result<(), TusError> {
    let mut stream = body.into_data_stream();
    loop {
        match tokio::time::timeout(ingest.limits().body_idle_timeout, stream.next()).await {
            Err(_) => return Err(TusError::Timeout),
            Ok(None) => return Ok(()),
            Ok(Some(Err(_))) => return Err(TusError::BadRequest("the request body ended early".into())),
            Ok(Some(Ok(bytes))) if bytes.is_empty() => {}
            Ok(Some(Ok(_))) => return Err(TusError::TooLarge("the body is longer than the upload".into())),
        }
    }
}

/// The upload `id` if `principal` owns it; anyone else's is not found, as is any id the
/// server could not have made.
pub(crate) async fn owned(ingest: &Ingest, principal: &Principal, id: &str) -> Result<Upload, TusError> {
    if !is_upload_id(id) {
        return Err(TusError::NotFound);
    }
    match ingest.inner.store.get(id).await {
        Ok(u) if u.owner == principal.id => Ok(u),
        Ok(_) | Err(crate::Error::NotFound(_)) => Err(TusError::NotFound),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn is_expired(upload: &Upload) -> bool {
    upload.state == UploadState::Receiving && upload.expires.is_some_and(|e| e < crate::db::now())
}

/// Headers describing `upload`, shared by HEAD, POST and PATCH responses.
pub(crate) fn describe(headers: &mut HeaderMap, upload: &Upload) {
    headers.insert("Tus-Resumable", HeaderValue::from_static(TUS_VERSION));
    headers.insert("Cache-Control", HeaderValue::from_static("no-store"));
    let unfinished_final = upload.is_final() && upload.state == UploadState::Receiving;
    if !unfinished_final {
        headers.insert("Upload-Offset", HeaderValue::from(upload.offset));
    }
    match upload.length {
        Some(l) => {
            headers.insert("Upload-Length", HeaderValue::from(l));
        }
        None if !upload.is_final() => {
            headers.insert("Upload-Defer-Length", HeaderValue::from_static("1"));
        }
        None => {}
    }
    if !upload.metadata.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&upload.metadata) {
            headers.insert("Upload-Metadata", v);
        }
    }
    match &upload.concat {
        ConcatRole::None => {}
        ConcatRole::Partial => {
            headers.insert("Upload-Concat", HeaderValue::from_static("partial"));
        }
        ConcatRole::Final(parts) => {
            let urls: Vec<String> = parts.iter().map(|p| format!("/files/{p}")).collect();
            if let Ok(v) = HeaderValue::from_str(&format!("final;{}", urls.join(" "))) {
                headers.insert("Upload-Concat", v);
            }
        }
    }
    if upload.state == UploadState::Receiving {
        if let Some(e) = upload.expires {
            let at = UNIX_EPOCH + Duration::from_secs(e);
            if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(at)) {
                headers.insert("Upload-Expires", v);
            }
        }
    }
    headers.insert("WedSync-Upload-State", HeaderValue::from_static(upload.state.as_str()));
    // Why it is quarantined, failed or consumed: a HEAD has no body to say it in.
    if let Some(note) = upload.note.as_deref().and_then(|n| HeaderValue::from_str(n).ok()) {
        headers.insert("WedSync-Upload-Note", note);
    }
}

/// Requires `Content-Type: application/offset+octet-stream`.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), TusError> {
    let ct = header(headers, "Content-Type").map_err(|_| TusError::UnsupportedMediaType)?.unwrap_or("");
    match ct.split(';').next() {
        Some(t) if t.trim().eq_ignore_ascii_case(OFFSET_OCTET_STREAM) => Ok(()),
        _ => Err(TusError::UnsupportedMediaType),
    }
}

/// How a guarded body ended, for the handler's reply after the store returns.
#[derive(Clone, Default)]
pub(crate) struct Ending(Arc<AtomicU8>);

impl Ending {
    const STALLED: u8 = 1;
    const BROKEN: u8 = 2;

    pub(crate) fn error(&self) -> Option<TusError> {
        match self.0.load(Ordering::Acquire) {
            Self::STALLED => Some(TusError::Timeout),
            Self::BROKEN => Some(TusError::BadRequest("the request body ended early".into())),
            _ => None,
        }
    }
}

enum Hasher {
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    fn new(a: Algorithm) -> Hasher {
        match a {
            Algorithm::Sha1 => Hasher::Sha1(Sha1::new()),
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
        }
    }
}

fn matches_digest(h: &Hasher, expected: &[u8]) -> bool {
    let digest = match h {
        Hasher::Sha1(h) => h.clone().finalize().to_vec(),
        Hasher::Sha256(h) => h.clone().finalize().to_vec(),
    };
    digest == expected
}

/// Wraps a request body with the checks the protocol puts on it: at most `limit` bytes
/// (413 and nothing kept past that), the chunk's checksum if one was sent (460 and nothing
/// kept), and an idle timeout (bytes so far kept — unless a checksum was sent, since a
/// partial chunk cannot be verified).
pub(crate) fn guard_body(
    ingest: &Ingest,
    body: axum::body::Body,
    limit: u64,
    checksum: Option<Checksum>,
    ending: Ending,
) -> store::Body {
    struct S {
        inner: axum::body::BodyDataStream,
        received: u64,
        limit: u64,
        hasher: Option<(Hasher, Vec<u8>)>,
        idle: Duration,
        ending: Ending,
        done: bool,
        ingest: Ingest,
    }
    let hasher = checksum.map(|c| (Hasher::new(c.algorithm), c.digest));
    let s = S {
        inner: body.into_data_stream(),
        received: 0,
        limit,
        hasher,
        idle: ingest.limits().body_idle_timeout,
        ending,
        done: false,
        ingest: ingest.clone(),
    };
    let stream = futures_util::stream::unfold(s, |mut s| async move {
        if s.done {
            return None;
        }
        let interrupted = |s: &mut S, code: u8| {
            s.done = true;
            s.ending.0.store(code, Ordering::Release);
            if s.hasher.is_some() {
                // Half a chunk cannot be checked against its checksum: keep none of it.
                BodyError::Refused(if code == Ending::STALLED {
                    TusError::Timeout
                } else {
                    TusError::BadRequest("the request body ended early".into())
                })
            } else {
                BodyError::Interrupted
            }
        };
        let item = match tokio::time::timeout(s.idle, s.inner.next()).await {
            Err(_) => Err(interrupted(&mut s, Ending::STALLED)),
            Ok(Some(Err(_))) => Err(interrupted(&mut s, Ending::BROKEN)),
            Ok(Some(Ok(bytes))) => {
                s.received += bytes.len() as u64;
                if s.received > s.limit {
                    s.done = true;
                    Err(BodyError::Refused(TusError::TooLarge("the body is longer than the upload".into())))
                } else {
                    if let Some((h, _)) = &mut s.hasher {
                        h.update(&bytes);
                    }
                    Ok(bytes)
                }
            }
            Ok(None) => {
                s.done = true;
                match s.hasher.take() {
                    Some((h, expected)) if !matches_digest(&h, &expected) => {
                        s.ingest.inner.metrics.checksum_mismatches.fetch_add(1, Ordering::Relaxed);
                        Err(BodyError::Refused(TusError::ChecksumMismatch))
                    }
                    Some(_) => {
                        s.ingest.inner.metrics.checksums_verified.fetch_add(1, Ordering::Relaxed);
                        return None;
                    }
                    None => return None,
                }
            }
        };
        Some((item, s))
    });
    Box::pin(stream)
}
