//! Errors: [`Error`] for what goes wrong inside the server (storage, state), and
//! [`TusError`], the one protocol error enum, which knows its status code.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::headers::TUS_VERSION;

/// A failure inside the server: the store, the state database, the file system.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("state database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The PostgreSQL state database (`--state`): `at` is `user@host:port/database`.
    #[error("PostgreSQL {at}: {why}")]
    Postgres { at: String, why: String },
    /// The object store (`--store`): `at` is `s3://bucket at endpoint`.
    #[error("object store {at}: {why}")]
    Store { at: String, why: String },
    #[error("upload {id}: {op}: {source}")]
    File { id: String, op: &'static str, source: std::io::Error },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("upload {0} not found")]
    NotFound(String),
    #[error("upload {0} is being written by another request")]
    Locked(String),
    #[error("upload {0} has all its bytes and takes no more")]
    Finished(String),
    /// The request conflicts with the upload's state (a length that cannot change, or is
    /// below the offset): the client's error, found under the upload's lock.
    #[error("upload {id}: {why}")]
    Conflict { id: String, why: String },
    #[error("upload {id}: offset {given} does not match {actual}")]
    OffsetMismatch { id: String, given: u64, actual: u64 },
    #[error("upload {id}: {why}")]
    Invalid { id: String, why: String },
    #[error("background task failed: {0}")]
    Task(String),
    /// The request body was refused while streaming (checksum, length); nothing of it is kept.
    #[error("body refused: {0}")]
    Refused(TusError),
}

/// `e` and the causes under it, each once: a client library's error often only says
/// "connection error" until its source says "connection refused".
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut why = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !why.contains(&more) {
            why = format!("{why}: {more}");
        }
        source = cause.source();
    }
    why
}

impl Error {
    /// Whether this failure is storage out of room: a full disk under the files or the
    /// state database. Clients get 507 for it, and the server goes on.
    pub fn is_storage_full(&self) -> bool {
        match self {
            Error::File { source, .. } | Error::Io { source, .. } => is_full(source),
            Error::Db(rusqlite::Error::SqliteFailure(e, _)) => e.code == rusqlite::ErrorCode::DiskFull,
            _ => false,
        }
    }
}

/// ENOSPC and EDQUOT (a quota) both mean no room.
pub(crate) fn is_full(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error a tus request can end with. Client errors are logged at debug level; only
/// [`TusError::Internal`] is a server fault, and its details never reach the client.
#[derive(Debug, thiserror::Error)]
pub enum TusError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("no such upload")]
    NotFound,
    #[error("this server does not offer that method")]
    MethodNotAllowed,
    #[error("Upload-Offset {given} does not match the upload's offset {actual}")]
    OffsetMismatch { given: u64, actual: u64 },
    #[error("the upload expired")]
    Gone,
    #[error("Tus-Resumable must be {TUS_VERSION}")]
    UnsupportedVersion,
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("Content-Type must be application/offset+octet-stream")]
    UnsupportedMediaType,
    #[error("{0}")]
    Conflict(String),
    #[error("the upload is being written by another request")]
    Locked,
    #[error("checksum mismatch: the chunk was discarded")]
    ChecksumMismatch,
    #[error("SHA-256 of the upload does not match its metadata; it is quarantined")]
    Quarantined,
    #[error("this Idempotency-Key was already used for a different upload")]
    KeyReused,
    #[error("too many requests for this token")]
    TooManyRequests { retry_after: u64 },
    #[error("the server is overloaded")]
    Overloaded { retry_after: u64 },
    #[error("request body stalled")]
    Timeout,
    #[error("the server's storage is full; try again later")]
    StorageFull,
    #[error("this upload can never be completed: {0}")]
    Failed(String),
    #[error("this partial upload holds no bytes any more: {0}")]
    Consumed(String),
    #[error("this token has {0} unfinished uploads, the most allowed: finish or delete some first")]
    TooManyUnfinished(u64),
    /// The state database or the bucket of the cluster store failed to answer: the server
    /// is up but cannot serve this request until they are back. 503, or 423 for a HEAD
    /// (see [`TusError::for_head`]).
    #[error("{}", unavailable_message(.err))]
    Unavailable { err: Box<Error>, head: bool },
    #[error("internal error")]
    Internal(#[source] Box<Error>),
}

/// Seconds a client is asked to wait before asking again while a backend is down.
const UNAVAILABLE_RETRY: u64 = 2;

fn unavailable_message(err: &Error) -> &'static str {
    match err {
        Error::Store { .. } => "the server's object storage is unavailable; try again shortly",
        _ => "the server's state database is unavailable; try again shortly",
    }
}

impl TusError {
    /// This error as a HEAD answers it. A client resuming asks with HEAD, and tus clients
    /// (tus-js-client) take any answer but 2xx and 423 to mean the upload is lost and start
    /// it over, sending every byte again; a database or bucket that is briefly down is
    /// answered 423, which they take as "ask again".
    pub fn for_head(self) -> TusError {
        match self {
            TusError::Unavailable { err, .. } => TusError::Unavailable { err, head: true },
            other => other,
        }
    }
}

impl TusError {
    pub fn status(&self) -> StatusCode {
        match self {
            TusError::BadRequest(_) => StatusCode::BAD_REQUEST,
            TusError::Unauthorized => StatusCode::UNAUTHORIZED,
            TusError::Forbidden(_) => StatusCode::FORBIDDEN,
            TusError::NotFound => StatusCode::NOT_FOUND,
            TusError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            TusError::OffsetMismatch { .. } | TusError::Conflict(_) => StatusCode::CONFLICT,
            TusError::Gone | TusError::Failed(_) | TusError::Consumed(_) => StatusCode::GONE,
            TusError::UnsupportedVersion => StatusCode::PRECONDITION_FAILED,
            TusError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            TusError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TusError::Locked => StatusCode::LOCKED,
            // 460 is the checksum extension's own code.
            TusError::ChecksumMismatch => StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
            // 422 for a reused key is the Idempotency-Key draft's choice.
            TusError::Quarantined | TusError::KeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            TusError::TooManyRequests { .. } | TusError::TooManyUnfinished(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            TusError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            TusError::Timeout => StatusCode::REQUEST_TIMEOUT,
            TusError::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            TusError::Unavailable { head: true, .. } => StatusCode::LOCKED,
            TusError::Unavailable { head: false, .. } => StatusCode::SERVICE_UNAVAILABLE,
            TusError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<Error> for TusError {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound(_) => TusError::NotFound,
            Error::Locked(_) => TusError::Locked,
            Error::OffsetMismatch { given, actual, .. } => TusError::OffsetMismatch { given, actual },
            Error::Finished(_) => TusError::Conflict("the upload has all its bytes".into()),
            Error::Conflict { why, .. } => TusError::Conflict(why),
            Error::Refused(e) => e,
            other if other.is_storage_full() => {
                tracing::warn!(error = %other, "storage full");
                TusError::StorageFull
            }
            other @ (Error::Postgres { .. } | Error::Store { .. }) => {
                TusError::Unavailable { err: Box::new(other), head: false }
            }
            other => TusError::Internal(Box::new(other)),
        }
    }
}

impl IntoResponse for TusError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            TusError::Internal(err) | TusError::Unavailable { err, .. } => {
                tracing::error!(error = %err, "request failed")
            }
            other => tracing::debug!(status = status.as_u16(), error = %other, "request refused"),
        }
        let body = match &self {
            TusError::Internal(_) => "internal error\n".to_string(),
            other => format!("{other}\n"),
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert("Tus-Resumable", HeaderValue::from_static(TUS_VERSION));
        headers.insert("Cache-Control", HeaderValue::from_static("no-store"));
        match self {
            TusError::UnsupportedVersion => {
                headers.insert("Tus-Version", HeaderValue::from_static(TUS_VERSION));
            }
            TusError::Unauthorized => {
                headers.insert("WWW-Authenticate", HeaderValue::from_static("Bearer"));
            }
            TusError::TooManyRequests { retry_after } | TusError::Overloaded { retry_after } => {
                headers.insert("Retry-After", HeaderValue::from(retry_after));
            }
            TusError::StorageFull => {
                headers.insert("Retry-After", HeaderValue::from(60));
            }
            TusError::Unavailable { .. } => {
                headers.insert("Retry-After", HeaderValue::from(UNAVAILABLE_RETRY));
            }
            TusError::TooManyUnfinished(_) => {
                headers.insert("Retry-After", HeaderValue::from(5));
            }
            _ => {}
        }
        response
    }
}
