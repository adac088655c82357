//! PATCH /files/{id}: append a chunk at the upload's offset.

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{
    authenticate, check_content_type, check_version, describe, guard_body, header, is_expired, owned,
    refuse_bytes, Ending, Peer,
};
use crate::auth::Principal;
use crate::error::TusError;
use crate::headers::{parse_checksum, parse_u64};
use crate::state::Ingest;
use crate::store::{Upload, UploadState};

pub(crate) async fn patch(
    State(ingest): State<Ingest>,
    Path(id): Path<String>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, TusError> {
    check_version(&headers)?;
    let principal = authenticate(&ingest, &headers, peer).await?;
    let mut upload = owned(&ingest, &principal, &id).await?;
    if upload.is_final() {
        return Err(TusError::Forbidden("a final upload is made by concatenation, not PATCH"));
    }
    if is_expired(&upload) {
        return Err(TusError::Gone);
    }
    check_content_type(&headers)?;
    let offset = parse_u64(
        "Upload-Offset",
        header(&headers, "Upload-Offset")?
            .ok_or_else(|| TusError::BadRequest("Upload-Offset is required".into()))?,
    )?;
    if let Some(v) = header(&headers, "Upload-Length")? {
        let length = parse_u64("Upload-Length", v)?;
        match upload.length {
            Some(l) if l == length => {}
            Some(_) => return Err(TusError::BadRequest("Upload-Length cannot change once set".into())),
            None => {
                if length > ingest.limits().max_size {
                    return Err(TusError::TooLarge(format!(
                        "the limit is {} bytes",
                        ingest.limits().max_size
                    )));
                }
                if length < upload.offset {
                    return Err(TusError::BadRequest("Upload-Length is below the upload's offset".into()));
                }
                let defer = ingest
                    .inner
                    .store
                    .defer_length()
                    .ok_or_else(|| TusError::BadRequest("this server does not defer lengths".into()))?;
                defer.declare_length(&id, length).await?;
                upload.length = Some(length);
            }
        }
    }
    if offset != upload.offset {
        return Err(TusError::OffsetMismatch { given: offset, actual: upload.offset });
    }
    let upload = write_chunk(&ingest, &principal, upload, &headers, body).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    describe(response.headers_mut(), &upload);
    if upload.state == UploadState::Quarantined {
        let mut err = TusError::Quarantined.into_response();
        err.headers_mut().insert("Upload-Offset", upload.offset.into());
        return Ok(err);
    }
    Ok(response)
}

/// Streams `body` into `upload` at its offset (PATCH, and POST with creation-with-upload),
/// then finishes the upload if that was its last byte. Returns the upload as it now is.
///
/// The work runs in its own task: when a client drops its connection, hyper drops the
/// handler's future, and the bytes that arrived must still be synced and committed.
pub(crate) async fn write_chunk(
    ingest: &Ingest,
    principal: &Principal,
    upload: Upload,
    headers: &HeaderMap,
    body: Body,
) -> Result<Upload, TusError> {
    let max = ingest.limits().max_size;
    let room = upload.length.unwrap_or(max).saturating_sub(upload.offset);
    if let Some(len) = header(headers, "Content-Length")? {
        if parse_u64("Content-Length", len)? > room {
            return Err(TusError::TooLarge("the body is longer than the upload".into()));
        }
    }
    if upload.state != UploadState::Receiving {
        // All bytes are in (and being or done verifying): only an empty body matches the
        // offset, and it starts nothing.
        refuse_bytes(ingest, body).await?;
        return Ok(upload);
    }
    if room == 0 && upload.length.is_some() {
        // All bytes are in but no one has finished it yet (a reply lost, a crash).
        refuse_bytes(ingest, body).await?;
        let state = crate::complete::finish(ingest, &upload).await?;
        return Ok(Upload { state, ..upload });
    }
    let checksum = header(headers, "Upload-Checksum")?.map(parse_checksum).transpose()?;
    let transfer = ingest.inner.guards.transfer(principal.id)?;
    let ending = Ending::default();
    let stream = guard_body(ingest, body, room, checksum, ending.clone());
    let ingest = ingest.clone();
    let task = tokio::spawn(async move {
        let _transfer = transfer;
        let mut upload = upload;
        let start = upload.offset;
        let new_offset = ingest.inner.store.append(&upload.id, start, stream).await?;
        ingest.inner.metrics.bytes_received.fetch_add(new_offset - start, Ordering::Relaxed);
        upload.offset = new_offset;
        if let Some(err) = ending.error() {
            tracing::debug!(upload = %upload.id, offset = new_offset, "body interrupted; bytes so far kept");
            return Err(err);
        }
        if upload.length == Some(new_offset) {
            let wait = ingest.limits().finish_wait;
            upload.state = crate::complete::finish_within(&ingest, &upload, wait).await?;
        }
        Ok(upload)
    });
    task.await.map_err(|e| TusError::Internal(Box::new(crate::Error::Task(e.to_string()))))?
}
