//! DELETE /files/{id}: the termination extension.

use std::sync::atomic::Ordering;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{authenticate, check_version, owned, Peer};
use crate::error::TusError;
use crate::headers::TUS_VERSION;
use crate::state::Ingest;
use crate::store::ConcatRole;

pub(crate) async fn delete(
    State(ingest): State<Ingest>,
    Path(id): Path<String>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, TusError> {
    check_version(&headers)?;
    let principal = authenticate(&ingest, &headers, peer).await?;
    let terminate = ingest.inner.store.terminate().ok_or(TusError::MethodNotAllowed)?;
    let upload = owned(&ingest, &principal, &id).await?;
    terminate.terminate(&upload.id).await?;
    ingest.inner.metrics.terminated.fetch_add(1, Ordering::Relaxed);
    tracing::info!(upload = %upload.id, owner = %principal.name, "upload terminated");
    if upload.concat == ConcatRole::Partial {
        crate::complete::fail_finals_of(&ingest, &upload.id, "was deleted by its owner").await;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert("Tus-Resumable", HeaderValue::from_static(TUS_VERSION));
    Ok(response)
}
