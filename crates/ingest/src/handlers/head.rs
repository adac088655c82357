//! HEAD /files/{id}: where an upload stands.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{authenticate, check_version, describe, is_expired, owned, Peer};
use crate::error::TusError;
use crate::state::Ingest;
use crate::store::UploadState;

pub(crate) async fn head(
    State(ingest): State<Ingest>,
    Path(id): Path<String>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, TusError> {
    describe_upload(ingest, id, peer, headers).await.map_err(TusError::for_head)
}

async fn describe_upload(
    ingest: Ingest,
    id: String,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, TusError> {
    check_version(&headers)?;
    let principal = authenticate(&ingest, &headers, peer).await?;
    let upload = owned(&ingest, &principal, &id).await?;
    if is_expired(&upload) {
        return Err(TusError::Gone);
    }
    // A final left unjoined, or an upload left unfinished, by an interruption is finished
    // before it is described.
    let upload = crate::complete::settle(&ingest, upload).await?;
    let mut response = match upload.state {
        // Its bytes are all in but are not what the client declared: never a finished
        // upload to a client resuming it (it would count it sent), but a refusal that says why.
        UploadState::Quarantined => TusError::Quarantined.into_response(),
        // A final that can never be made: gone, with the reason, so the client sends again.
        UploadState::Failed => TusError::Failed(upload.note.clone().unwrap_or_default()).into_response(),
        // A consumed part answers as a finished one (offset = length, so a client resuming
        // it moves on to its final) and says where its bytes went.
        _ => StatusCode::OK.into_response(),
    };
    describe(response.headers_mut(), &upload);
    Ok(response)
}
