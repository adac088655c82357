//! GET /files/{id}: the owner downloads a completed upload (as tusd allows). Unfinished
//! uploads are a conflict; quarantined ones are never served.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{authenticate, owned, Peer};
use crate::error::TusError;
use crate::state::Ingest;
use crate::store::UploadState;

pub(crate) async fn get(
    State(ingest): State<Ingest>,
    Path(id): Path<String>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, TusError> {
    let principal = authenticate(&ingest, &headers, peer).await?;
    let upload = owned(&ingest, &principal, &id).await?;
    match upload.state {
        UploadState::Receiving | UploadState::Verifying => {
            return Err(TusError::Conflict("the upload is not complete".into()))
        }
        UploadState::Quarantined => return Err(TusError::Quarantined),
        UploadState::Failed => return Err(TusError::Failed(upload.note.unwrap_or_default())),
        UploadState::Consumed => return Err(TusError::Consumed(upload.note.unwrap_or_default())),
        UploadState::Complete => {}
    }
    let reader = ingest.inner.store.read(&upload.id).await?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(reader, 64 * 1024));
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert("Content-Type", HeaderValue::from_static("application/octet-stream"));
    h.insert("Content-Length", HeaderValue::from(upload.offset));
    h.insert("Cache-Control", HeaderValue::from_static("no-store"));
    Ok(response)
}
