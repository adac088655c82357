//! The write path of the cluster store, under a lease. A body is cut into segments (at most
//! [`SEGMENT`], never across a part boundary), each committed to `upload_tail` in
//! PostgreSQL as it arrives: durable before anything acknowledges it. Once the tail holds a
//! whole part, the part goes to the bucket's multipart upload as soon as one of the
//! instance's part slots is free (a body never waits for one: its later segments try
//! again, and making the object waits), and its ETag and running SHA-256 to
//! `upload_parts`. The offset is committed at the end of the body, after its
//! bytes; a refused body's segments and parts are dropped; taking the lease drops whatever
//! a crash left past the acknowledged offset. When the last byte is in, the object is
//! made (the tail as the last part, or one PUT for an upload smaller than a part) and its
//! SHA-256 recorded, from the running state and the tail alone.
//!
//! A bucket that fails while parts are being written costs nothing acknowledged: the bytes
//! stay in the tail until a later request (or the claim of the finished upload) writes
//! the parts.

use bytes::BytesMut;
use futures_util::StreamExt;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use tokio::io::AsyncReadExt;

use super::digest::Running;
use super::lease::Lease;
use super::{ClusterStore, Row};
use crate::db::now;
use crate::error::{Error, Result};
use crate::store::{Body, BodyError, Reader, UploadState};

/// The most bytes of a body held before they are committed to the tail: each segment is
/// one PostgreSQL commit.
const SEGMENT: usize = 1 << 20;
/// A writer asked to let go does so once its body has sent nothing for this long: a client
/// still streaming keeps its upload (the asker waits, then gets 423, as on the local
/// store), one whose network went quiet gives it up to the client's new request.
const QUIET: std::time::Duration = std::time::Duration::from_secs(1);
/// How long a request to let go stands: about as long as the asker waits.
const ASKED_FOR: std::time::Duration = std::time::Duration::from_secs(3);

/// How a body went into the tail.
struct Received {
    /// End of the last segment committed.
    end: u64,
    /// How the body ended, if not normally.
    ended: Option<BodyError>,
    /// A failure of the state database or the lease, after which nothing more was written.
    failed: Option<Error>,
    /// Another request asked for the upload: the body was ended there.
    released: bool,
    /// The body's last bytes, less than a segment, not written yet: the caller commits them
    /// with the offset.
    rest: bytes::Bytes,
}

impl ClusterStore {
    /// [`crate::store::UploadStore::append`] with the lease held.
    pub(super) async fn append_leased(
        &self,
        lease: &Lease,
        row: Row,
        offset: u64,
        body: Body,
    ) -> Result<u64> {
        let upload = &row.upload;
        if upload.is_final() {
            return Err(Error::Invalid { id: lease.id.clone(), why: "a final upload takes no bytes".into() });
        }
        if upload.state != UploadState::Receiving {
            return Err(Error::Finished(lease.id.clone()));
        }
        if upload.offset != offset {
            return Err(Error::OffsetMismatch { id: lease.id.clone(), given: offset, actual: upload.offset });
        }
        // When the last byte is in, the object is made by the finish that follows (the
        // claim of the finished upload), not here under the body's lease.
        self.write_body(lease, &row, body).await
    }

    /// Writes `body` at the row's offset and commits the new offset (see the module's
    /// rules); returns it. Bytes a crash left past the offset were dropped when the lease
    /// was taken.
    pub(super) async fn write_body(&self, lease: &Lease, row: &Row, body: Body) -> Result<u64> {
        let offset = row.upload.offset;
        let registered = self.releases.register(&lease.id);
        let received = self.receive(lease, row, body, &registered.signal).await;
        drop(registered);
        if let Some(BodyError::Refused(e)) = received.ended {
            self.drop_past(lease, offset).await?;
            return Err(Error::Refused(e));
        }
        let rest_start = received.end as i64;
        let end = received.end + received.rest.len() as u64;
        if end > offset {
            // The last segment and the offset that acknowledges it, in one transaction.
            let expires = (now() + self.ttl) as i64;
            let end = end as i64;
            let tx = self.fenced(lease).await?;
            if !received.rest.is_empty() {
                tx.execute(
                    "INSERT INTO upload_tail (upload, start, bytes) VALUES ($1, $2, $3)",
                    &[&lease.id, &rest_start, &&received.rest[..]],
                )
                .await?;
            }
            tx.execute(
                "UPDATE uploads SET \"offset\" = $2, expires = $3 WHERE id = $1",
                &[&lease.id, &end, &expires],
            )
            .await?;
            // Segments a part now holds.
            tx.execute(
                "DELETE FROM upload_tail WHERE upload = $1 AND start <
                     (SELECT COALESCE(MAX(start + size), 0) FROM upload_parts WHERE upload = $1)",
                &[&lease.id],
            )
            .await?;
            tx.commit().await?;
        }
        match received.failed {
            Some(e) => Err(e),
            // What arrived is kept; this request's client is told it lost the upload.
            None if received.released => Err(Error::Locked(lease.id.clone())),
            None => Ok(end),
        }
    }

    /// Reads `body` into tail segments from the row's offset, writing parts as they fill,
    /// and stopping (as an interrupted body) when asked to let go while
    /// the body is quiet.
    async fn receive(
        &self,
        lease: &Lease,
        row: &Row,
        mut body: Body,
        release: &tokio::sync::Notify,
    ) -> Received {
        use tokio::time::{sleep_until, Instant};
        let size = row.part_size;
        let mut out = Received {
            end: row.upload.offset,
            ended: None,
            failed: None,
            released: false,
            rest: bytes::Bytes::new(),
        };
        let mut buf = BytesMut::new();
        let (mut parts_waiting, mut parts_failed) = (false, false);
        let (mut last_bytes, mut asked) = (Instant::now(), None::<Instant>);
        loop {
            // When to let go: once the body has been quiet for QUIET, if asked lately.
            let let_go = asked.filter(|at| at.elapsed() < ASKED_FOR).map(|_| last_bytes + QUIET);
            let next = tokio::select! {
                biased;
                _ = release.notified() => {
                    asked = Some(Instant::now());
                    continue;
                }
                _ = sleep_until(let_go.unwrap_or_else(Instant::now)), if let_go.is_some() => {
                    out.released = true;
                    Some(Err(BodyError::Interrupted))
                }
                chunk = body.next() => chunk,
            };
            let last = match next {
                Some(Ok(bytes)) => {
                    buf.extend_from_slice(&bytes);
                    last_bytes = Instant::now();
                    false
                }
                Some(Err(e)) => {
                    out.ended = Some(e);
                    true
                }
                None => true,
            };
            if matches!(out.ended, Some(BodyError::Refused(_))) {
                return out;
            }
            loop {
                let to_boundary = size - out.end % size;
                let cut = to_boundary.min(SEGMENT as u64) as usize;
                if buf.len() < cut {
                    break;
                }
                let segment = buf.split_to(cut);
                let start = out.end as i64;
                let written = async {
                    let tx = self.fenced(lease).await?;
                    tx.execute(
                        "INSERT INTO upload_tail (upload, start, bytes) VALUES ($1, $2, $3)",
                        &[&lease.id, &start, &&segment[..]],
                    )
                    .await?;
                    tx.commit().await
                }
                .await;
                if let Err(e) = written {
                    out.failed = Some(e);
                    return out;
                }
                out.end += segment.len() as u64;
                parts_waiting |= out.end.is_multiple_of(size);
                if parts_waiting && !parts_failed {
                    // Only if a slot is free now: when many uploads cross a part boundary
                    // together, waiting here would stall their bodies for as long as the
                    // queue. The bytes are safe in the tail; a later segment, or making
                    // the object, writes the part.
                    match self.write_parts(lease, row, out.end, false).await {
                        Ok(written) => parts_waiting = !written,
                        Err(e) => {
                            tracing::warn!(upload = %lease.id, error = %e, "writing a part to the bucket failed");
                            parts_failed = true;
                        }
                    }
                }
            }
            if last {
                out.rest = buf.freeze();
                return out;
            }
        }
    }

    /// Drops the tail segments and parts that hold bytes past `offset`.
    pub(super) async fn drop_past(&self, lease: &Lease, offset: u64) -> Result<()> {
        let offset = offset as i64;
        let tx = self.fenced(lease).await?;
        tx.execute("DELETE FROM upload_tail WHERE upload = $1 AND start >= $2", &[&lease.id, &offset])
            .await?;
        tx.execute("DELETE FROM upload_parts WHERE upload = $1 AND start + size > $2", &[&lease.id, &offset])
            .await?;
        tx.commit().await
    }

    /// Where the parts written so far end.
    async fn parts_end(&self, id: &str) -> Result<u64> {
        let client = self.pg.client().await?;
        let r = client
            .query_one(
                "SELECT COALESCE(MAX(start + size), 0)::bigint FROM upload_parts WHERE upload = $1",
                &[&id],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    /// The running SHA-256 after the parts that end at `end`.
    async fn digest_at(&self, id: &str, end: u64) -> Result<Running> {
        if end == 0 {
            return Ok(Running::default());
        }
        let client = self.pg.client().await?;
        let r = client
            .query_opt(
                "SELECT hash_state FROM upload_parts WHERE upload = $1 AND start + size = $2",
                &[&id, &(end as i64)],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        r.and_then(|r| Running::from_bytes(r.get(0))).ok_or_else(|| Error::Invalid {
            id: id.to_string(),
            why: format!("no digest state for its parts up to {end}"),
        })
    }

    /// The tail's bytes from `from` up to `to` (exclusive), which must be there, whole.
    async fn tail(&self, id: &str, from: u64, to: u64) -> Result<Vec<u8>> {
        let client = self.pg.client().await?;
        let rows = client
            .query(
                "SELECT start, bytes FROM upload_tail WHERE upload = $1 AND start >= $2 AND start < $3 ORDER BY start",
                &[&id, &(from as i64), &(to as i64)],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        let mut out = Vec::with_capacity((to - from) as usize);
        for r in rows {
            if r.get::<_, i64>(0) as u64 != from + out.len() as u64 {
                break;
            }
            out.extend_from_slice(r.get::<_, &[u8]>(1));
        }
        if from + out.len() as u64 != to {
            let why = format!("its tail holds bytes {from} to {} of {from} to {to}", from + out.len() as u64);
            return Err(Error::Invalid { id: id.to_string(), why });
        }
        Ok(out)
    }

    /// Writes every whole part the tail holds below `end` to the bucket; returns whether
    /// it did. Each part takes one of the instance's slots: with `wait` false, it stops
    /// (returning false) when none is free rather than waiting for one.
    async fn write_parts(&self, lease: &Lease, row: &Row, end: u64, wait: bool) -> Result<bool> {
        let size = row.part_size;
        loop {
            // Not even a query while every slot is taken (a waiting body asks per segment).
            if !wait && self.part_slots.available_permits() == 0 {
                return Ok(false);
            }
            let start = self.parts_end(&lease.id).await?;
            if end < start + size {
                return Ok(true);
            }
            let _slot = match wait {
                true => self.part_slots.acquire().await.map_err(|e| Error::Task(e.to_string()))?,
                false => match self.part_slots.try_acquire() {
                    Ok(slot) => slot,
                    Err(_) => return Ok(false),
                },
            };
            let bytes = self.tail(&lease.id, start, start + size).await?;
            let mut digest = self.digest_at(&lease.id, start).await?;
            digest.update(&bytes);
            let (key, multipart) = self.multipart(lease).await?;
            let part = self
                .bucket
                .store
                .put_part(&Path::from(key), &multipart, (start / size) as usize, PutPayload::from(bytes))
                .await
                .map_err(|e| self.bucket.error(e))?;
            let (start, size, state) = (start as i64, size as i64, digest.to_bytes());
            let tx = self.fenced(lease).await?;
            tx.execute(
                "INSERT INTO upload_parts (upload, start, size, etag, hash_state) VALUES ($1, $2, $3, $4, $5)",
                &[&lease.id, &start, &size, &part.content_id, &state],
            )
            .await?;
            tx.commit().await?;
        }
    }

    /// The upload's open multipart upload (object key, upload id), started if it has none.
    pub(super) async fn multipart(&self, lease: &Lease) -> Result<(String, String)> {
        let client = self.pg.client().await?;
        let r = client
            .query_one("SELECT object_key, multipart FROM uploads WHERE id = $1", &[&lease.id])
            .await
            .map_err(|e| self.pg.error(e))?;
        drop(client);
        if let (Some(key), Some(multipart)) = (r.get::<_, Option<String>>(0), r.get::<_, Option<String>>(1)) {
            return Ok((key, multipart));
        }
        let key = object_key(lease);
        let path = Path::from(key.as_str());
        let multipart = self.bucket.store.create_multipart(&path).await.map_err(|e| self.bucket.error(e))?;
        let recorded = async {
            let tx = self.fenced(lease).await?;
            tx.execute(
                "UPDATE uploads SET object_key = $2, multipart = $3 WHERE id = $1",
                &[&lease.id, &key, &multipart],
            )
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = recorded {
            let _ = self.bucket.store.abort_multipart(&path, &multipart).await;
            return Err(e);
        }
        Ok((key, multipart))
    }

    /// Makes the object of an upload whose bytes are all acknowledged, and records its
    /// SHA-256.
    pub(super) async fn assemble(&self, lease: &Lease, row: &Row) -> Result<()> {
        let (id, size, length) = (&lease.id, row.part_size, row.upload.offset);
        self.write_parts(lease, row, length, true).await?;
        let client = self.pg.client().await?;
        let parts = client
            .query("SELECT start, etag FROM upload_parts WHERE upload = $1 ORDER BY start", &[id])
            .await
            .map_err(|e| self.pg.error(e))?;
        let current = client
            .query_one("SELECT object_key, multipart FROM uploads WHERE id = $1", &[id])
            .await
            .map_err(|e| self.pg.error(e))?;
        drop(client);
        let mut etags = Vec::with_capacity(parts.len() + 1);
        for (i, r) in parts.iter().enumerate() {
            if r.get::<_, i64>(0) as u64 != i as u64 * size {
                return Err(Error::Invalid { id: id.clone(), why: format!("its part {i} is missing") });
            }
            etags.push(object_store::multipart::PartId { content_id: r.get(1) });
        }
        let whole = etags.len() as u64 * size;
        // Many uploads finish together under load: their last parts wait their turn here
        // rather than all being held in memory at once.
        let _slot = self.part_slots.acquire().await.map_err(|e| Error::Task(e.to_string()))?;
        let tail = self.tail(id, whole, length).await?;
        let sha256 = self.digest_at(id, whole).await?.finish(&tail).to_vec();
        let (key, multipart): (Option<String>, Option<String>) = (current.get(0), current.get(1));
        let key = match (key, multipart) {
            (Some(key), Some(multipart)) => {
                let path = Path::from(key.as_str());
                if !tail.is_empty() {
                    let part = self
                        .bucket
                        .store
                        .put_part(&path, &multipart, etags.len(), PutPayload::from(tail))
                        .await;
                    etags.push(part.map_err(|e| self.bucket.error(e))?);
                }
                if let Err(e) = self.bucket.store.complete_multipart(&path, &multipart, etags).await {
                    // Completed already, by a run that crashed before recording it?
                    match self.bucket.store.head(&path).await {
                        Ok(meta) if meta.size == length => {}
                        _ => return Err(self.bucket.error(e)),
                    }
                }
                key
            }
            (_, None) if whole == 0 => {
                // Smaller than a part: one PUT.
                let key = object_key(lease);
                let put = self.bucket.store.put(&Path::from(key.as_str()), PutPayload::from(tail)).await;
                put.map_err(|e| self.bucket.error(e))?;
                key
            }
            _ => {
                return Err(Error::Invalid {
                    id: id.clone(),
                    why: "it has parts but no multipart upload".into(),
                })
            }
        };
        let recorded = async {
            let tx = self.fenced(lease).await?;
            tx.execute(
                "UPDATE uploads SET finished = true, object_key = $2, multipart = NULL, sha256 = $3 WHERE id = $1",
                &[id, &key, &sha256],
            )
            .await?;
            tx.execute("DELETE FROM upload_tail WHERE upload = $1", &[id]).await?;
            tx.execute("DELETE FROM upload_parts WHERE upload = $1", &[id]).await?;
            tx.commit().await
        }
        .await;
        if recorded.is_err() && whole == 0 {
            // This writer lost its lease: its object (under its own fence's key) is no one's.
            let _ = self.bucket.store.delete(&Path::from(key.as_str())).await;
        }
        recorded
    }

    /// The committed bytes of an upload whose object is made.
    pub(super) async fn read_object(&self, row: &Row) -> Result<Reader> {
        let id = &row.upload.id;
        let key = match (&row.object_key, row.finished) {
            (Some(key), true) => key,
            _ => {
                return Err(Error::Invalid {
                    id: id.clone(),
                    why: "its bytes are not in one object yet".into(),
                })
            }
        };
        let got = self.bucket.store.get(&Path::from(key.as_str())).await.map_err(|e| self.bucket.error(e))?;
        let stream = got.into_stream().map(|r| r.map_err(std::io::Error::other));
        Ok(Box::pin(tokio_util::io::StreamReader::new(stream).take(row.upload.offset)))
    }
}

/// The key of the object a lease's holder makes: the upload's, and its fencing token, so
/// that a writer that lost its lease can never overwrite the object of the one that has it.
fn object_key(lease: &Lease) -> String {
    format!("uploads/{}/{}", lease.id, lease.fence)
}
