//! POST /files: create an upload (creation, creation-with-upload, creation-defer-length,
//! and partial or final uploads of the concatenation extension). A POST under an
//! `Idempotency-Key` its owner already used answers with that upload: a client whose reply
//! was lost sends the POST again, and must not get a second copy.

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::patch::write_chunk;
use super::{authenticate, check_content_type, check_version, describe, header, owned, refuse_bytes, Peer};
use crate::error::TusError;
use crate::headers::{
    format_metadata, parse_concat, parse_idempotency_key, parse_metadata, parse_u64, ConcatRequest,
};
use crate::state::Ingest;
use crate::store::{ConcatRole, Created, NewUpload, Upload, UploadState};

pub(crate) async fn post(
    State(ingest): State<Ingest>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, TusError> {
    check_version(&headers)?;
    let principal = authenticate(&ingest, &headers, peer).await?;
    let store = &ingest.inner.store;
    let max = ingest.limits().max_size;
    let key = header(&headers, "Idempotency-Key")?.map(parse_idempotency_key).transpose()?;

    let concat = match header(&headers, "Upload-Concat")? {
        None => ConcatRole::None,
        Some(_) if store.concat().is_none() => {
            return Err(TusError::BadRequest("this server does not concatenate".into()))
        }
        Some(v) => match parse_concat(v)? {
            ConcatRequest::Partial => ConcatRole::Partial,
            ConcatRequest::Final(ids) => ConcatRole::Final(ids),
        },
    };
    let length = header(&headers, "Upload-Length")?.map(|v| parse_u64("Upload-Length", v)).transpose()?;
    let defer = match header(&headers, "Upload-Defer-Length")? {
        None => false,
        Some("1") if store.defer_length().is_some() => true,
        Some(_) => return Err(TusError::BadRequest("Upload-Defer-Length must be 1".into())),
    };
    let metadata = match header(&headers, "Upload-Metadata")? {
        Some(v) => format_metadata(&parse_metadata(v)?),
        None => String::new(),
    };
    let has_body = headers.contains_key("Transfer-Encoding")
        || header(&headers, "Content-Length")?.is_some_and(|v| v.trim() != "0");
    if let Some(key) = &key {
        // A repeat is answered before anything else is checked: its parts, say, may have
        // been joined into the very final it asks for since.
        if let Some(existing) = store.find_by_key(principal.id, key).await? {
            let new = NewUpload { owner: principal.id, key: Some(key.clone()), length, metadata, concat };
            return repeat(&ingest, &new, existing, Some(body), has_body).await;
        }
    }

    let length = match &concat {
        ConcatRole::Final(parts) => {
            if length.is_some() || defer {
                return Err(TusError::BadRequest("a final upload takes its length from its parts".into()));
            }
            if has_body {
                return Err(TusError::Forbidden("a final upload is made by concatenation, not by a body"));
            }
            if parts.len() > ingest.limits().max_parts {
                return Err(TusError::BadRequest(format!(
                    "Upload-Concat lists {} parts; the most is {}",
                    parts.len(),
                    ingest.limits().max_parts
                )));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(twice) = parts.iter().find(|id| !seen.insert(id.as_str())) {
                return Err(TusError::BadRequest(format!("Upload-Concat lists the upload {twice} twice")));
            }
            let mut total = Some(0u64);
            for id in parts {
                let part = owned(&ingest, &principal, id).await.map_err(|e| match e {
                    TusError::NotFound => {
                        TusError::BadRequest("Upload-Concat names an unknown upload".into())
                    }
                    other => other,
                })?;
                if part.concat != ConcatRole::Partial {
                    return Err(TusError::BadRequest(
                        "Upload-Concat names an upload that is not partial".into(),
                    ));
                }
                if matches!(
                    part.state,
                    UploadState::Consumed | UploadState::Failed | UploadState::Quarantined
                ) {
                    return Err(TusError::BadRequest(format!(
                        "Upload-Concat names the upload {id}, which is {}",
                        part.state.as_str()
                    )));
                }
                total = match (total, part.length) {
                    (Some(t), Some(l)) => Some(t.saturating_add(l)),
                    _ => None,
                };
            }
            if total.is_some_and(|t| t > max) {
                return Err(TusError::TooLarge(format!("the limit is {max} bytes")));
            }
            total
        }
        _ => match (length, defer) {
            (Some(_), true) => {
                return Err(TusError::BadRequest(
                    "Upload-Length and Upload-Defer-Length exclude each other".into(),
                ))
            }
            (None, false) => {
                return Err(TusError::BadRequest("Upload-Length or Upload-Defer-Length is required".into()))
            }
            (Some(l), false) if l > max => {
                return Err(TusError::TooLarge(format!("the limit is {max} bytes")))
            }
            (l, _) => l,
        },
    };
    let is_final = matches!(concat, ConcatRole::Final(_));
    let mut body = Some(body);
    if has_body {
        check_content_type(&headers)?;
        if let (Some(len), Some(l)) = (header(&headers, "Content-Length")?, length) {
            if parse_u64("Content-Length", len)? > l {
                return Err(TusError::TooLarge("the body is longer than the upload".into()));
            }
        }
        if length == Some(0) {
            // A chunked body says its length only as it ends: read it before creating.
            if let Some(body) = body.take() {
                refuse_bytes(&ingest, body).await?;
            }
        }
    }

    let new = NewUpload { owner: principal.id, key, length, metadata, concat };
    if store.free_space().is_some_and(|free| free < ingest.limits().min_free_space) {
        return Err(TusError::StorageFull);
    }
    let unfinished = store.count_receiving(principal.id).await?;
    if unfinished >= ingest.limits().unfinished_per_token {
        return Err(TusError::TooManyUnfinished(unfinished));
    }
    // Created and (for a final) joined on a task of its own: a client that goes away
    // mid-way cannot leave a final made but never joined.
    let created = {
        let (ingest, new) = (ingest.clone(), new.clone());
        tokio::spawn(async move {
            let upload = match ingest.inner.store.create(new).await? {
                Created::New(upload) => upload,
                existing @ Created::Existing(_) => return Ok(existing),
            };
            ingest.inner.metrics.created.fetch_add(1, Ordering::Relaxed);
            tracing::info!(upload = %upload.id, owner = upload.owner, length = ?upload.length, "upload created");
            let upload = crate::complete::settle(&ingest, upload).await?;
            Ok::<_, crate::Error>(Created::New(upload))
        })
        .await
        .map_err(|e| TusError::Internal(Box::new(crate::Error::Task(e.to_string()))))??
    };
    let mut upload = match created {
        Created::New(upload) => upload,
        // An identical POST got there first (the client's retry overtook its first try).
        Created::Existing(existing) => return repeat(&ingest, &new, existing, body, has_body).await,
    };

    // The upload exists whatever happens to its first chunk: a refused or broken body
    // leaves it at offset 0 (or where the bytes stopped), and the reply says why, with
    // where the upload is, so the client resumes there.
    let mut refused = None;
    if upload.length == Some(0) && !is_final {
        upload.state = crate::complete::finish(&ingest, &upload).await?;
    } else if let (true, Some(body)) = (has_body, body) {
        match write_chunk(&ingest, &principal, upload.clone(), &headers, body).await {
            Ok(u) => upload = u,
            Err(TusError::Internal(e)) => return Err(TusError::Internal(e)),
            Err(e) => {
                tracing::debug!(upload = %upload.id, error = %e, "first chunk not taken");
                upload = store.get(&upload.id).await?;
                refused = Some(e);
            }
        }
    }

    let mut response = match (refused, upload.state) {
        (Some(e), _) => e.into_response(),
        (None, UploadState::Quarantined) => TusError::Quarantined.into_response(),
        (None, _) => StatusCode::CREATED.into_response(),
    };
    describe(response.headers_mut(), &upload);
    if !has_body && !is_final {
        response.headers_mut().remove("Upload-Offset");
    }
    let location = HeaderValue::from_str(&format!("/files/{}", upload.id))
        .map_err(|_| TusError::BadRequest("unrepresentable id".into()))?;
    response.headers_mut().insert("Location", location);
    Ok(response)
}

/// Whether `new` asks for the upload `existing` already is: same concatenation role (and
/// parts, in order), same metadata, same length. A final's length follows from its parts;
/// a deferred length matches whatever length a PATCH has since declared.
fn same_upload(new: &NewUpload, existing: &Upload) -> bool {
    let length = match (&new.concat, new.length) {
        (ConcatRole::Final(_), _) | (_, None) => true,
        (_, l) => l == existing.length,
    };
    length && new.concat == existing.concat && new.metadata == existing.metadata
}

/// The reply to a repeated creation: the upload its key already names, with its offset so
/// the client resumes from there; nothing of this request's body is stored. A different
/// request under the same key is refused (422, as the Idempotency-Key draft says).
async fn repeat(
    ingest: &Ingest,
    new: &NewUpload,
    upload: Upload,
    body: Option<Body>,
    has_body: bool,
) -> Result<Response, TusError> {
    if !same_upload(new, &upload) {
        return Err(TusError::KeyReused);
    }
    if let (true, Some(body)) = (has_body, body) {
        discard(ingest, body).await;
    }
    // A final whose first request was cut before it was joined is joined now, and an
    // upload whose bytes are all in but that no one finished is finished.
    let upload = crate::complete::settle(ingest, upload).await?;
    tracing::info!(
        upload = %upload.id,
        owner = upload.owner,
        offset = upload.offset,
        "repeated creation answered with the existing upload"
    );
    let mut response = StatusCode::CREATED.into_response();
    // Upload-Offset included, body or not (only an unfinished final has none to give).
    describe(response.headers_mut(), &upload);
    let location = HeaderValue::from_str(&format!("/files/{}", upload.id))
        .map_err(|_| TusError::BadRequest("unrepresentable id".into()))?;
    response.headers_mut().insert("Location", location);
    Ok(response)
}

/// Reads a body whose bytes are not wanted and drops them, so that a client still sending
/// it reads the reply rather than a reset connection. Stops at the idle timeout or after
/// the largest upload's worth.
async fn discard(ingest: &Ingest, body: Body) {
    let (idle, mut left) = (ingest.limits().body_idle_timeout, ingest.limits().max_size);
    let mut stream = body.into_data_stream();
    while let Ok(Some(Ok(bytes))) = tokio::time::timeout(idle, stream.next()).await {
        left = left.saturating_sub(bytes.len() as u64);
        if left == 0 {
            break;
        }
    }
}
