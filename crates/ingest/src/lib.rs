//! The reference ingestion server: a tus 1.0.0 endpoint (creation, creation-with-upload,
//! creation-defer-length, expiration, checksum, termination, concatenation, and its own
//! idempotency-key: a repeated POST answers with the upload it made) with bearer tokens,
//! per-token limits, durable streaming storage, SHA-256 verification of finished uploads,
//! admin endpoints and Prometheus metrics.
//! It is not a client and shares no code with the uploader's crates; it does not publish
//! galleries — it holds verified bytes for their owner.
//! Main types: [`Ingest`] (shared state), [`router`], [`UploadStore`] and its optional
//! traits (storage), [`Tokens`] (identity), [`Limits`], [`TusError`] (the protocol's errors).

mod auth;
pub mod bucket;
mod complete;
mod connections;
mod db;
mod error;
mod handlers;
pub mod headers;
mod limits;
mod metrics;
pub mod pg;
mod router;
mod server;
mod state;
pub mod store;
/// Throwaway servers for tests: PostgreSQL clusters and S3 servers (feature `test-cluster`).
#[cfg(all(feature = "test-cluster", unix))]
pub mod testing;

pub use crate::auth::{Principal, SqliteTokens, TokenAdmin, TokenInfo, Tokens};
pub use crate::complete::SHA256_KEY;
pub use crate::db::Db;
pub use crate::error::{Error, Result, TusError};
pub use crate::limits::{connection_cap, descriptor_limit, Limits};
pub use crate::router::router;
pub use crate::server::{open_cluster, open_db, open_local, serve};
pub use crate::state::Ingest;
pub use crate::store::{
    ClusterStore, Concat, ConcatRole, Created, DeferLength, FileStore, Joining, NewUpload, Terminate, Upload,
    UploadState, UploadStore,
};

/// Runs every header parser over `data` and checks that what parses round-trips. The fuzz
/// target (`fuzz/`) and a unit test call it; it panics only on a parser bug.
#[doc(hidden)]
pub fn fuzz_headers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = headers::parse_u64("Upload-Offset", text);
    let _ = headers::parse_checksum(text);
    let _ = headers::parse_idempotency_key(text);
    let _ = headers::id_from_url(text);
    if let Ok(pairs) = headers::parse_metadata(text) {
        let again = headers::parse_metadata(&headers::format_metadata(&pairs));
        assert_eq!(again.ok().as_ref(), Some(&pairs), "metadata does not round-trip: {text:?}");
    }
    if let Ok(headers::ConcatRequest::Final(ids)) = headers::parse_concat(text) {
        assert!(ids.iter().all(|id| headers::is_upload_id(id)));
    }
}
