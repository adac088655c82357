//! HEAD /files/{id}: where an upload stands.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{authenticate, check_version, describe, is_expired, owned};
use crate::error::TusError;
use crate::state::Ingest;

pub(crate) async fn head(
    State(ingest): State<Ingest>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, TusError> {
    check_version(&headers)?;
    let principal = authenticate(&ingest, &headers).await?;
    let upload = owned(&ingest, &principal, &id).await?;
    if is_expired(&upload) {
        return Err(TusError::Gone);
    }
    let mut response = StatusCode::OK.into_response();
    describe(response.headers_mut(), &upload);
    Ok(response)
}
