//! What happens when an upload has all its bytes: it is claimed for verifying (once, so no
//! request can start a second check), the SHA-256 its client declared in the metadata (key
//! `sha256`, hex) is checked against the bytes; a match publishes the upload to its owner,
//! a mismatch quarantines it. A finished partial upload may complete the final uploads it
//! belongs to, and a verified final gives its parts' bytes back.
//!
//! One upload's trouble stays its own: a final that cannot be made fails with a reason, and
//! nothing here lets one final's failure change another's outcome or the reply to the
//! request that finished a part.

use std::sync::atomic::Ordering;

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::error::Result;
use crate::headers::parse_metadata;
use crate::state::Ingest;
use crate::store::{ConcatRole, Joining, Upload, UploadState};

/// The metadata key under which clients declare the SHA-256 (hex) of the whole upload.
pub const SHA256_KEY: &str = "sha256";

/// Finishes `upload`, whose bytes are all in, if no one else has: claims it, verifies and
/// records it, then completes the finals waiting on it. Returns the state it is in. The
/// work runs on a task of its own: a client that goes away cannot leave a claimed upload
/// unverified.
pub(crate) async fn finish(ingest: &Ingest, upload: &Upload) -> Result<UploadState> {
    let (ingest, upload) = (ingest.clone(), upload.clone());
    tokio::spawn(async move {
        let store = &ingest.inner.store;
        if !store.claim_verify(&upload.id).await? {
            // Another request (or an earlier run) claimed it: report where it stands.
            return Ok(store.get(&upload.id).await?.state);
        }
        finish_claimed(&ingest, &upload).await
    })
    .await
    .map_err(|e| crate::Error::Task(format!("finishing an upload: {e}")))?
}

/// Verifies an upload this caller claimed (or joined), then does what its outcome asks of
/// the uploads around it.
pub(crate) async fn finish_claimed(ingest: &Ingest, upload: &Upload) -> Result<UploadState> {
    let state = verify(ingest, upload).await?;
    match (&upload.concat, state) {
        (ConcatRole::Partial, UploadState::Complete) => complete_finals_of(ingest, &upload.id).await,
        (ConcatRole::Partial, _) => fail_finals_of(ingest, &upload.id, "did not match its SHA-256").await,
        (ConcatRole::Final(parts), UploadState::Complete) => consume_parts(ingest, &upload.id, parts).await,
        _ => {}
    }
    Ok(state)
}

/// Joins every final waiting on the partial upload `part` that can now be joined. Each
/// final's trouble is logged and stays its own.
async fn complete_finals_of(ingest: &Ingest, part: &str) {
    for id in finals_of(ingest, part).await {
        // Boxed: joining verifies the final, whose type would otherwise contain this one's.
        if let Err(e) = Box::pin(join(ingest, &id)).await {
            tracing::error!(upload = %id, error = %e, "joining a final upload failed");
        }
    }
}

/// The unfinished finals that list the partial upload `part`; none (and a log line) if
/// the store cannot say.
async fn finals_of(ingest: &Ingest, part: &str) -> Vec<String> {
    let Some(concat) = ingest.inner.store.concat() else { return Vec::new() };
    concat.finals_of(part).await.unwrap_or_else(|e| {
        tracing::error!(upload = %part, error = %e, "finding the finals of a part failed");
        Vec::new()
    })
}

/// Counts and logs a final that can never be made.
fn failed(ingest: &Ingest, id: &str, why: &str) {
    ingest.inner.metrics.failed.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(upload = %id, reason = %why, "final upload failed");
}

/// [`finish`], answered within `wait`: past it, the finish goes on in the background and
/// the upload is said to be verifying. Under a load that queues the making of objects (the
/// cluster store, many uploads ending together), a client's last PATCH is acknowledged once
/// its bytes are durable rather than held until its turn comes; what it would have been
/// told, complete or quarantined, its next HEAD says.
pub(crate) async fn finish_within(
    ingest: &Ingest,
    upload: &Upload,
    wait: std::time::Duration,
) -> Result<UploadState> {
    let mut task = {
        let (ingest, upload) = (ingest.clone(), upload.clone());
        tokio::spawn(async move { finish(&ingest, &upload).await })
    };
    match tokio::time::timeout(wait, &mut task).await {
        Ok(joined) => {
            joined.map_err(|e| crate::Error::Task(format!("finishing upload {}: {e}", upload.id)))?
        }
        Err(_) => {
            tracing::debug!(upload = %upload.id, "finishing it takes a while; it goes on in the background");
            Ok(UploadState::Verifying)
        }
    }
}

/// Joins the final upload `id` if it can be joined now, and verifies it.
pub(crate) async fn join(ingest: &Ingest, id: &str) -> Result<()> {
    let Some(concat) = ingest.inner.store.concat() else { return Ok(()) };
    match concat.concatenate(id, ingest.limits().max_size).await? {
        Joining::Joined { upload, copied } => {
            let m = &ingest.inner.metrics;
            let joined = if copied { &m.concat_bytes_copied } else { &m.concat_bytes_streamed };
            joined.fetch_add(upload.offset, Ordering::Relaxed);
            finish_claimed(ingest, &upload).await?;
        }
        Joining::Failed(why) => failed(ingest, id, &why),
        Joining::NotYet => {}
    }
    Ok(())
}

/// A verified final holds its parts' bytes: each part no other unfinished final wants
/// gives its bytes back (stored once, not twice).
async fn consume_parts(ingest: &Ingest, final_id: &str, parts: &[String]) {
    let Some(concat) = ingest.inner.store.concat() else { return };
    for part in parts {
        let outcome = match concat.wanted(part, final_id).await {
            Ok(true) => continue,
            Ok(false) => concat.consume(part, final_id).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            // The part keeps its bytes; nothing is lost, only space.
            tracing::warn!(upload = %part, error = %e, "giving a joined part's bytes back failed");
        }
    }
}

/// Fails the unfinished finals that list the partial upload `part`, which is gone.
pub(crate) async fn fail_finals_of(ingest: &Ingest, part: &str, why: &str) {
    let Some(concat) = ingest.inner.store.concat() else { return };
    for id in finals_of(ingest, part).await {
        let reason = format!("its part {part} {why}");
        match concat.fail(&id, &reason).await {
            Ok(true) => failed(ingest, &id, &reason),
            // Joined or failed meanwhile: its outcome stands.
            Ok(false) => {}
            Err(e) => tracing::error!(upload = %id, error = %e, "recording a failed final failed"),
        }
    }
}

/// Finishes what an interruption left unfinished, and returns the upload as it then is:
/// joins a final upload whose parts are all complete, finishes an upload whose bytes are
/// all in but which no one finished (its last PATCH's instance was killed after
/// acknowledging the bytes: the client, seeing its offset, will not send again), and checks
/// one whose check was left unfinished (the store says when). The
/// work runs on a task of its own, so a client that goes away mid-way (killed, its
/// connection lost) cannot leave a final half-made and stuck; asking again (a repeated
/// POST, a HEAD) finishes it.
pub(crate) async fn settle(ingest: &Ingest, upload: Upload) -> Result<Upload> {
    if upload.state == UploadState::Verifying {
        let (ingest, upload) = (ingest.clone(), upload.clone());
        return tokio::spawn(async move {
            let store = &ingest.inner.store;
            if store.reclaim_verify(&upload.id).await? {
                let state = finish_claimed(&ingest, &upload).await?;
                return Ok(Upload { state, ..upload });
            }
            let now = store.get(&upload.id).await?;
            if now.state == UploadState::Verifying && store.shared() {
                // Another instance's check, running or (until its lease ends) abandoned:
                // ask again shortly rather than be told the upload is all in but not
                // yet whether it is complete.
                return Err(crate::Error::Locked(upload.id.clone()));
            }
            Ok(now)
        })
        .await
        .map_err(|e| crate::Error::Task(format!("checking an upload: {e}")))?;
    }
    if upload.state != UploadState::Receiving {
        return Ok(upload);
    }
    if !upload.is_final() {
        if upload.length != Some(upload.offset) {
            return Ok(upload);
        }
        let state = finish(ingest, &upload).await?;
        return Ok(Upload { state, ..upload });
    }
    if ingest.inner.store.concat().is_none() {
        return Ok(upload);
    }
    let (ingest, id) = (ingest.clone(), upload.id.clone());
    tokio::spawn(async move {
        join(&ingest, &id).await?;
        ingest.inner.store.get(&id).await
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
    ingest.inner.metrics.verifications.fetch_add(1, Ordering::Relaxed);
    let (state, note) = match declared {
        None => (UploadState::Complete, None),
        Some(expected) => {
            let actual = match store.sha256(&upload.id).await? {
                Some(digest) => hex::encode(digest),
                None => read_sha256(store.as_ref(), &upload.id).await?,
            };
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

/// The SHA-256 (hex) of an upload's bytes, read back from the store.
async fn read_sha256(store: &dyn crate::store::UploadStore, id: &str) -> Result<String> {
    let mut reader = store.read(id).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf).await.map_err(|source| crate::Error::File {
            id: id.to_string(),
            op: "read",
            source,
        })?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}
