use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode, Url};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::metadata::encode_metadata;
use crate::pacing::Bandwidth;
use crate::pacing::Gate;

const TUS_VERSION: &str = "1.0.0";
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// Our server's extension: a repeated POST with the same `Idempotency-Key` gets the upload
/// the first one made (the header is the IETF httpapi draft's).
const IDEMPOTENCY_EXTENSION: &str = "idempotency-key";

/// Where uploads go and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// The creation endpoint, e.g. `https://ingest.example/files`.
    pub endpoint: String,
    /// Sent as `Authorization: Bearer …`.
    pub token: Option<String>,
    /// Bytes per PATCH. Platforms impose limits (a 5 MiB minimum, multiples of 256 KiB).
    pub chunk_size: u64,
    /// At most this many partial uploads of one file sent at once, then concatenated, when
    /// the server offers concatenation; each part is at least one chunk. 1: never.
    pub parts: usize,
}

/// What the server said it does, from its OPTIONS reply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capabilities {
    pub extensions: Vec<String>,
    pub checksum_algorithms: Vec<String>,
    pub max_size: Option<u64>,
}

impl Capabilities {
    pub fn has(&self, extension: &str) -> bool {
        self.extensions.iter().any(|e| e == extension)
    }

    /// Whether chunks can carry a SHA-256 the server checks.
    pub fn checks_sha256(&self) -> bool {
        self.has("checksum") && self.checksum_algorithms.iter().any(|a| a == "sha256")
    }

    fn from_headers(headers: &HeaderMap) -> Capabilities {
        let list = |name: &str| -> Vec<String> {
            header_str(headers, name)
                .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default()
        };
        Capabilities {
            extensions: list("tus-extension"),
            checksum_algorithms: list("tus-checksum-algorithm"),
            max_size: header_str(headers, "tus-max-size").and_then(|v| v.trim().parse().ok()),
        }
    }
}

/// A new upload's URL and how many bytes the server already has (those sent with it).
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub url: String,
    pub offset: u64,
}

/// How bodies are sent: the stall timeout, the shared bandwidth cap, and a counter of body
/// bytes handed to the network (what the adaptive stream count measures).
#[derive(Debug, Clone)]
pub struct Pace {
    /// A request that takes no body bytes and gets no reply for this long is cut.
    pub stall: Duration,
    /// Shared by every request of every stream, so the cap holds for the whole upload.
    pub bandwidth: Option<Arc<Mutex<Bandwidth>>>,
    pub sent: Arc<AtomicU64>,
    /// Paused or closed: no request carrying file bytes starts (see [`Gate`]).
    pub gate: Gate,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            stall: Duration::from_secs(30),
            bandwidth: None,
            sent: Arc::new(AtomicU64::new(0)),
            gate: Gate::default(),
        }
    }
}

/// Bodies go out in pieces this size: the unit of pacing and of progress.
const PIECE: usize = 64 * 1024;

/// When the current request last moved (a body piece taken), in ms since `start`.
struct Progress {
    start: Instant,
    last_ms: AtomicU64,
}

impl Progress {
    fn new() -> Arc<Progress> {
        Arc::new(Progress { start: Instant::now(), last_ms: AtomicU64::new(0) })
    }

    /// Marks progress as of `ahead` from now: a piece that waits for our own bandwidth cap
    /// is not stalled while it waits, so its wait counts as progress.
    fn touch(&self, ahead: Duration) {
        self.last_ms.store((self.start.elapsed() + ahead).as_millis() as u64, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        self.start.elapsed().saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A client for one tus server.
pub struct TusClient {
    http: Client,
    destination: Destination,
    endpoint: Url,
    capabilities: Capabilities,
    chunk_checksums: bool,
    pace: Pace,
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn protocol(url: &str, reason: impl Into<String>) -> Error {
    Error::Protocol { url: url.to_string(), reason: reason.into() }
}

/// `Upload-Offset` of a reply; the protocol requires it on HEAD and PATCH replies.
fn offset_of(url: &str, response: &Response) -> Result<u64> {
    header_str(response.headers(), "upload-offset")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| protocol(url, "the reply has no valid Upload-Offset"))
}

/// The error for an unexpected reply, with the start of its body for the log.
async fn refusal(method: &'static str, url: &str, response: Response) -> Error {
    let status = response.status().as_u16();
    if status == 404 || status == 410 {
        return Error::Gone { url: url.to_string(), status };
    }
    if status == 422 {
        return Error::Quarantined { url: url.to_string() };
    }
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(200).collect();
    Error::Status { method, url: url.to_string(), status, body: body.trim().to_string() }
}

impl TusClient {
    /// Asks the server what it supports (OPTIONS); fails unless it speaks tus 1.0.0.
    pub async fn connect(destination: Destination) -> Result<TusClient> {
        let url = destination.endpoint.clone();
        let endpoint = Url::parse(&url).map_err(|e| protocol(&url, format!("not a URL: {e}")))?;
        if destination.chunk_size == 0 {
            return Err(protocol(&url, "the chunk size must be at least one byte"));
        }
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .build()
            .map_err(|source| Error::Network { method: "OPTIONS", url: url.clone(), source })?;
        let mut client = TusClient {
            http,
            destination,
            endpoint,
            capabilities: Capabilities::default(),
            chunk_checksums: true,
            pace: Pace::default(),
        };
        let options = client.request(Method::OPTIONS, &url).timeout(client.pace.stall);
        let response = client.send(options, "OPTIONS", &url).await?;
        if !response.status().is_success() {
            return Err(refusal("OPTIONS", &url, response).await);
        }
        let versions = header_str(response.headers(), "tus-version").unwrap_or("");
        if !versions.split(',').any(|v| v.trim() == TUS_VERSION) {
            return Err(protocol(
                &url,
                format!("the server does not speak tus {TUS_VERSION} (Tus-Version: {versions:?})"),
            ));
        }
        client.capabilities = Capabilities::from_headers(response.headers());
        Ok(client)
    }

    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Whether chunks carry their SHA-256 where the server checks them (the default). Only
    /// `wedsync loadtest` turns this off, so that servers with and without the checksum
    /// extension get the same requests.
    pub fn set_chunk_checksums(&mut self, on: bool) {
        self.chunk_checksums = on;
    }

    pub fn set_pace(&mut self, pace: Pace) {
        self.pace = pace;
    }

    pub fn pace(&self) -> &Pace {
        &self.pace
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        let request = self.http.request(method, url).header("Tus-Resumable", TUS_VERSION);
        match &self.destination.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(&self, request: RequestBuilder, method: &'static str, url: &str) -> Result<Response> {
        request.send().await.map_err(|source| Error::Network { method, url: url.to_string(), source })
    }

    /// Adds the chunk's SHA-256 when the server checks them, so a damaged chunk is refused
    /// (460) instead of stored. The body goes out in pieces, each waiting for the bandwidth
    /// cap and marking progress for the stall watchdog.
    fn with_chunk(&self, request: RequestBuilder, chunk: Bytes, progress: &Arc<Progress>) -> RequestBuilder {
        let request = request.header(CONTENT_TYPE, OFFSET_OCTET_STREAM).header(CONTENT_LENGTH, chunk.len());
        let request = if self.chunk_checksums && self.capabilities.checks_sha256() {
            let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&chunk));
            request.header("Upload-Checksum", format!("sha256 {digest}"))
        } else {
            request
        };
        let pieces: Vec<Bytes> =
            (0..chunk.len()).step_by(PIECE).map(|at| chunk.slice(at..chunk.len().min(at + PIECE))).collect();
        let (pace, progress) = (self.pace.clone(), progress.clone());
        let body = futures_util::stream::iter(pieces).then(move |piece| {
            let (pace, progress) = (pace.clone(), progress.clone());
            async move {
                let wait = match &pace.bandwidth {
                    Some(bucket) => bucket.lock().map(|mut b| b.take(piece.len() as u64, Instant::now())),
                    None => Ok(Duration::ZERO),
                }
                .unwrap_or(Duration::ZERO);
                if !wait.is_zero() {
                    progress.touch(wait);
                    tokio::time::sleep(wait).await;
                }
                progress.touch(Duration::ZERO);
                pace.sent.fetch_add(piece.len() as u64, Ordering::Relaxed);
                Ok::<Bytes, std::io::Error>(piece)
            }
        });
        request.body(reqwest::Body::wrap_stream(body))
    }

    /// Sends a request with a body, cutting it when it stalls.
    async fn send_body(
        &self,
        request: RequestBuilder,
        method: &'static str,
        url: &str,
        progress: &Progress,
    ) -> Result<Response> {
        let stall = self.pace.stall;
        let watchdog = async {
            loop {
                let idle = progress.idle();
                if idle >= stall {
                    return;
                }
                tokio::time::sleep(stall - idle).await;
            }
        };
        tokio::select! {
            response = self.send(request, method, url) => response,
            () = watchdog => Err(Error::Stalled { method, url: url.to_string(), after: stall }),
        }
    }

    /// Creates an upload of `length` bytes. `first` (at most one chunk) goes in the same
    /// request when the server offers creation-with-upload; otherwise it is not sent and
    /// the returned offset is 0. `identity` names the content (see [`Self::post`]).
    pub async fn create(
        &self,
        length: u64,
        metadata: &[(&str, &str)],
        first: Option<Bytes>,
        identity: Option<&str>,
    ) -> Result<Created> {
        self.post(Some(length), metadata, first, None, identity).await
    }

    /// Creates a partial upload (concatenation): `length` bytes that become part of a final
    /// upload made by [`TusClient::concatenate`].
    pub async fn create_partial(
        &self,
        length: u64,
        metadata: &[(&str, &str)],
        first: Option<Bytes>,
        identity: Option<&str>,
    ) -> Result<Created> {
        self.post(Some(length), metadata, first, Some("partial".to_string()), identity).await
    }

    /// Makes the final upload of a concatenation from finished partial uploads, in order,
    /// and returns its URL. It has no body: the server joins the parts.
    pub async fn concatenate(
        &self,
        parts: &[String],
        metadata: &[(&str, &str)],
        identity: Option<&str>,
    ) -> Result<String> {
        if !self.capabilities.has("concatenation") {
            return Err(protocol(self.endpoint.as_str(), "the server does not offer concatenation"));
        }
        let concat = format!("final;{}", parts.join(" "));
        Ok(self.post(None, metadata, None, Some(concat), identity).await?.url)
    }

    /// Whether a POST repeated after its reply was lost is answered with the upload the
    /// first one made, so creations can be retried without making a second copy: the
    /// server offers the `idempotency-key` extension (ours does; tus itself has no such
    /// guarantee).
    pub fn repeats_are_safe(&self) -> bool {
        self.capabilities.has(IDEMPOTENCY_EXTENSION)
    }

    /// POST to the creation endpoint: a whole, partial (`concat` = "partial") or final
    /// (`concat` = "final;…", no length) upload.
    ///
    /// A lost reply must never leave a second complete copy on the server. Where repeats
    /// are safe, the request carries an `Idempotency-Key` derived from `identity` (what the
    /// caller knows the bytes to be: a SHA-256 and, for a part, its range) and from the
    /// request itself, so the same request sent again gets the same key and the upload the
    /// first one made. Elsewhere the POST never carries the last byte: a lost reply then
    /// leaves at most an unfinished orphan, and the last bytes go by PATCH, whose outcome a
    /// HEAD can always tell.
    async fn post(
        &self,
        length: Option<u64>,
        metadata: &[(&str, &str)],
        first: Option<Bytes>,
        concat: Option<String>,
        identity: Option<&str>,
    ) -> Result<Created> {
        let url = self.endpoint.as_str();
        if let (Some(max), Some(length)) = (self.capabilities.max_size, length) {
            if length > max {
                return Err(Error::Status {
                    method: "POST",
                    url: url.to_string(),
                    status: 413,
                    body: format!("{length} bytes is more than the server's maximum of {max}"),
                });
            }
        }
        let metadata = encode_metadata(metadata);
        let mut request = self.request(Method::POST, url).header("Upload-Metadata", &metadata);
        if let Some(length) = length {
            request = request.header("Upload-Length", length);
        }
        if let (Some(identity), true) = (identity, self.repeats_are_safe()) {
            let fingerprint = format!("{identity}\n{length:?}\n{concat:?}\n{metadata}");
            request = request.header("Idempotency-Key", hex::encode(Sha256::digest(fingerprint)));
        }
        if let Some(concat) = concat {
            request = request.header("Upload-Concat", concat);
        }
        let first = first.filter(|_| self.capabilities.has("creation-with-upload"));
        if first.is_some() && !self.pace.gate.pass().await {
            return Err(Error::Parked);
        }
        let first = match (first, length) {
            (Some(chunk), Some(length)) if !self.repeats_are_safe() && chunk.len() as u64 >= length => {
                Some(chunk.slice(..length.saturating_sub(1) as usize)).filter(|c| !c.is_empty())
            }
            (first, _) => first,
        };
        let progress = Progress::new();
        let sent = match first {
            Some(chunk) => {
                let n = chunk.len() as u64;
                request = self.with_chunk(request, chunk, &progress);
                n
            }
            None => 0,
        };
        let response = self.send_body(request, "POST", url, &progress).await?;
        if response.status() != StatusCode::CREATED {
            return Err(refusal("POST", url, response).await);
        }
        let location = header_str(response.headers(), LOCATION.as_str())
            .ok_or_else(|| protocol(url, "201 Created without a Location"))?;
        let upload_url = self
            .endpoint
            .join(location)
            .map_err(|e| protocol(url, format!("bad Location {location:?}: {e}")))?;
        // A repeated creation answered with an earlier upload says where that one stands.
        let offset = match header_str(response.headers(), "upload-offset") {
            Some(_) => offset_of(url, &response)?,
            None if sent > 0 => offset_of(url, &response)?,
            None => 0,
        };
        Ok(Created { url: upload_url.to_string(), offset })
    }

    /// The server's offset for the upload at `url` (HEAD).
    pub async fn offset(&self, url: &str) -> Result<u64> {
        let request = self.request(Method::HEAD, url).timeout(self.pace.stall);
        let response = self.send(request, "HEAD", url).await?;
        if !response.status().is_success() {
            return Err(refusal("HEAD", url, response).await);
        }
        offset_of(url, &response)
    }

    /// Sends `chunk` at `offset` (PATCH) and returns the server's new offset.
    pub async fn patch(&self, url: &str, offset: u64, chunk: Bytes) -> Result<u64> {
        // Paused: wait here, between chunks, so nothing is cut mid-body.
        if !self.pace.gate.pass().await {
            return Err(Error::Parked);
        }
        let len = chunk.len() as u64;
        let progress = Progress::new();
        let request = self.with_chunk(
            self.request(Method::PATCH, url).header("Upload-Offset", offset),
            chunk,
            &progress,
        );
        let response = self.send_body(request, "PATCH", url, &progress).await?;
        match response.status().as_u16() {
            204 | 200 => {
                let server = offset_of(url, &response)?;
                if server != offset + len {
                    return Err(protocol(
                        url,
                        format!("sent {len} bytes at {offset}, the server is at {server}"),
                    ));
                }
                Ok(server)
            }
            409 => {
                let server = self.offset(url).await?;
                Err(Error::OffsetMismatch { url: url.to_string(), sent: offset, server })
            }
            460 => Err(Error::ChecksumMismatch { url: url.to_string(), offset }),
            _ => Err(refusal("PATCH", url, response).await),
        }
    }

    /// Deletes the upload (termination); one already gone counts as deleted.
    pub async fn terminate(&self, url: &str) -> Result<()> {
        let request = self.request(Method::DELETE, url).timeout(self.pace.stall);
        let response = self.send(request, "DELETE", url).await?;
        match response.status().as_u16() {
            204 | 200 | 404 | 410 => Ok(()),
            _ => Err(refusal("DELETE", url, response).await),
        }
    }
}
