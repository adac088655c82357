//! What happens when an upload has all its bytes: the SHA-256 its client declared in the
//! metadata (key `sha256`, hex) is checked against the bytes; a match publishes the upload
//! to its owner, a mismatch quarantines it. A finished partial upload may complete the
//! final uploads it belongs to.

use std::sync::atomic::Ordering;

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::error::Result;
use crate::headers::parse_metadata;
use crate::state::Ingest;
use crate::store::{ConcatRole, Upload, UploadState};

/// The metadata key under which clients declare the SHA-256 (hex) of the whole upload.
pub const SHA256_KEY: &str = "sha256";

/// Verifies and records `upload` (all bytes in), then completes the finals waiting on it.
/// Returns the state it ended in.
pub(crate) async fn finish(ingest: &Ingest, upload: &Upload) -> Result<UploadState> {
    let state = verify(ingest, upload).await?;
    if state == UploadState::Complete && upload.concat == ConcatRole::Partial {
        if let Some(concat) = ingest.inner.store.concat() {
            for final_id in concat.finals_of(&upload.id).await? {
                if let Some(done) = concat.concatenate(&final_id).await? {
                    verify(ingest, &done).await?;
                }
            }
        }
    }
    Ok(state)
}

/// Joins the final upload `upload` if all its parts are complete and it is not joined yet,
/// and returns it as it then is. The joining runs on a task of its own, so a client that
/// goes away mid-way (killed, its connection lost) cannot leave a final half-made and
/// stuck; asking again (a repeated POST, a HEAD) finishes one that an earlier interruption
/// left unjoined.
pub(crate) async fn assemble(ingest: &Ingest, upload: Upload) -> Result<Upload> {
    if !upload.is_final() || upload.state != UploadState::Receiving || ingest.inner.store.concat().is_none() {
        return Ok(upload);
    }
    let (ingest, id) = (ingest.clone(), upload.id.clone());
    tokio::spawn(async move {
        let joined = match ingest.inner.store.concat() {
            Some(concat) => concat.concatenate(&id).await?,
            None => None,
        };
        match joined {
            Some(done) => Ok(Upload { state: finish(&ingest, &done).await?, ..done }),
            None => ingest.inner.store.get(&id).await,
        }
    })
    .await
    .map_err(|e| crate::Error::Task(format!("joining upload {}: {e}", upload.id)))?
}

async fn verify(ingest: &Ingest, upload: &Upload) -> Result<UploadState> {
    let store = &ingest.inner.store;
    let declared = parse_metadata(&upload.metadata)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|p| p.key == SHA256_KEY))
        .map(|p| {
            p.value.map(|v| String::from_utf8_lossy(&v).trim().to_ascii_lowercase()).unwrap_or_default()
        });
    let (state, note) = match declared {
        None => (UploadState::Complete, None),
        Some(expected) => {
            let mut reader = store.read(&upload.id).await?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = reader.read(&mut buf).await.map_err(|source| crate::Error::File {
                    id: upload.id.clone(),
                    op: "read",
                    source,
                })?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            let actual = hex::encode(hasher.finalize());
            if actual == expected {
                (UploadState::Complete, None)
            } else {
                (UploadState::Quarantined, Some(format!("declared sha256 {expected}, received {actual}")))
            }
        }
    };
    store.set_state(&upload.id, state, note.clone()).await?;
    let m = &ingest.inner.metrics;
    match state {
        UploadState::Quarantined => {
            m.quarantined.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(upload = %upload.id, owner = upload.owner, note = note.as_deref().unwrap_or(""), "upload quarantined");
        }
        _ => {
            m.completed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(upload = %upload.id, owner = upload.owner, bytes = upload.offset, "upload complete");
        }
    }
    Ok(state)
}
