use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode, Url};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::metadata::encode_metadata;

const TUS_VERSION: &str = "1.0.0";
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// Where uploads go and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// The creation endpoint, e.g. `https://ingest.example/files`.
    pub endpoint: String,
    /// Sent as `Authorization: Bearer …`.
    pub token: Option<String>,
    /// Bytes per PATCH. Platforms impose limits (a 5 MiB minimum, multiples of 256 KiB).
    pub chunk_size: u64,
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

/// A client for one tus server.
pub struct TusClient {
    http: Client,
    destination: Destination,
    endpoint: Url,
    capabilities: Capabilities,
    chunk_checksums: bool,
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
        };
        let response = client.send(client.request(Method::OPTIONS, &url), "OPTIONS", &url).await?;
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
    /// (460) instead of stored.
    fn with_chunk(&self, request: RequestBuilder, chunk: Bytes) -> RequestBuilder {
        let request = request.header(CONTENT_TYPE, OFFSET_OCTET_STREAM);
        let request = if self.chunk_checksums && self.capabilities.checks_sha256() {
            let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&chunk));
            request.header("Upload-Checksum", format!("sha256 {digest}"))
        } else {
            request
        };
        request.body(chunk)
    }

    /// Creates an upload of `length` bytes. `first` (at most one chunk) goes in the same
    /// request when the server offers creation-with-upload; otherwise it is not sent and
    /// the returned offset is 0.
    pub async fn create(
        &self,
        length: u64,
        metadata: &[(&str, &str)],
        first: Option<Bytes>,
    ) -> Result<Created> {
        let url = self.endpoint.as_str();
        if let Some(max) = self.capabilities.max_size.filter(|max| length > *max) {
            return Err(Error::Status {
                method: "POST",
                url: url.to_string(),
                status: 413,
                body: format!("{length} bytes is more than the server's maximum of {max}"),
            });
        }
        let mut request = self
            .request(Method::POST, url)
            .header("Upload-Length", length)
            .header("Upload-Metadata", encode_metadata(metadata));
        let sent = match first.filter(|_| self.capabilities.has("creation-with-upload")) {
            Some(chunk) => {
                let n = chunk.len() as u64;
                request = self.with_chunk(request, chunk);
                n
            }
            None => 0,
        };
        let response = self.send(request, "POST", url).await?;
        if response.status() != StatusCode::CREATED {
            return Err(refusal("POST", url, response).await);
        }
        let location = header_str(response.headers(), LOCATION.as_str())
            .ok_or_else(|| protocol(url, "201 Created without a Location"))?;
        let upload_url = self
            .endpoint
            .join(location)
            .map_err(|e| protocol(url, format!("bad Location {location:?}: {e}")))?;
        let offset = if sent > 0 { offset_of(url, &response)? } else { 0 };
        Ok(Created { url: upload_url.to_string(), offset })
    }

    /// The server's offset for the upload at `url` (HEAD).
    pub async fn offset(&self, url: &str) -> Result<u64> {
        let response = self.send(self.request(Method::HEAD, url), "HEAD", url).await?;
        if !response.status().is_success() {
            return Err(refusal("HEAD", url, response).await);
        }
        offset_of(url, &response)
    }

    /// Sends `chunk` at `offset` (PATCH) and returns the server's new offset.
    pub async fn patch(&self, url: &str, offset: u64, chunk: Bytes) -> Result<u64> {
        let len = chunk.len() as u64;
        let request =
            self.with_chunk(self.request(Method::PATCH, url).header("Upload-Offset", offset), chunk);
        let response = self.send(request, "PATCH", url).await?;
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
        let response = self.send(self.request(Method::DELETE, url), "DELETE", url).await?;
        match response.status().as_u16() {
            204 | 200 | 404 | 410 => Ok(()),
            _ => Err(refusal("DELETE", url, response).await),
        }
    }
}
