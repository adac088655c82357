//! Concatenation in the cluster store: a final upload is joined by the instance that takes
//! its lease. Where S3 allows (every part but the last at least 5 MiB), the parts' objects
//! are copied into the final's multipart upload inside the bucket (UploadPartCopy), and no
//! byte passes through the server; the final's SHA-256 is then unknown, and is computed by
//! reading the object back only if its metadata declares one to check. Otherwise the parts'
//! objects are streamed, in order, through the same write path as a PATCH (tail segments,
//! whole parts to the bucket, the running SHA-256).

use std::ops::Range;

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::ObjectStoreExt;
use tokio_util::io::ReaderStream;

use super::lease::Ask;
use super::{ClusterStore, Row};
use crate::error::{Error, Result};
use crate::store::{parts_ready, BodyError, Concat, ConcatRole, Joining, Upload, UploadState};

/// S3's smallest part (but the last) and largest part, and its most parts.
const S3_MIN_PART: u64 = 5 << 20;
const S3_MAX_PART: u64 = 5 << 30;
const S3_MOST_PARTS: usize = 10_000;
/// Copies a join runs at once.
const COPIES_AT_ONCE: usize = 4;

/// The final's object as copies of its parts' objects, if S3 allows it: each piece's
/// source key and byte range, in order. `None` when a part other than the last is under
/// S3's 5 MiB minimum (it must be streamed), a part's object is not made, or the pieces
/// would be more parts than S3 allows. Empty parts add nothing; a part over S3's largest
/// part is copied in equal pieces.
fn copy_plan(parts: &[Row]) -> Option<Vec<(String, Range<u64>)>> {
    let mut plan = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let size = part.upload.offset;
        if size == 0 {
            continue;
        }
        if size < S3_MIN_PART && i + 1 < parts.len() {
            return None;
        }
        let key = part.object_key.as_ref().filter(|_| part.finished)?;
        let piece = size.div_ceil(size.div_ceil(S3_MAX_PART));
        let mut start = 0;
        while start < size {
            let end = (start + piece).min(size);
            plan.push((key.clone(), start..end));
            start = end;
        }
    }
    (!plan.is_empty() && plan.len() <= S3_MOST_PARTS).then_some(plan)
}

/// Final uploads ($1 a part's id) that list that part.
const FINALS_WITH_PART: &str = "concat = 'final' AND parts @> ARRAY[$1::text]";

#[async_trait]
impl Concat for ClusterStore {
    async fn concatenate(&self, id: &str, max_size: u64) -> Result<Joining> {
        let final_row = self.row(id).await?;
        let ConcatRole::Final(part_ids) = &final_row.upload.concat else {
            return Err(Error::Invalid { id: id.to_string(), why: "not a final upload".into() });
        };
        if final_row.upload.state != UploadState::Receiving {
            return Ok(Joining::NotYet);
        }
        let mut parts = Vec::with_capacity(part_ids.len());
        for part in part_ids {
            parts.push(match self.row(part).await {
                Ok(p) => Some(p),
                Err(Error::NotFound(_)) => None,
                Err(e) => return Err(e),
            });
        }
        let said = part_ids
            .iter()
            .zip(&parts)
            .map(|(id, p)| (id.as_str(), p.as_ref().map(|p| (p.upload.state, p.upload.offset))));
        let total = match parts_ready(self, id, said, max_size).await? {
            Ok(total) => total,
            Err(answer) => return Ok(answer),
        };
        let parts: Vec<Row> = parts.into_iter().flatten().collect();
        // One caller joins: the one holding the lease. Another is joining it now.
        let (lease, row) = match self.acquire(id, Ask::Wait).await {
            Ok(taken) => taken,
            Err(Error::Locked(_)) => return Ok(Joining::NotYet),
            Err(e) => return Err(e),
        };
        let outcome = match row.upload.state {
            UploadState::Receiving => self.join(&lease, row, &parts, total).await,
            _ => Ok(Joining::NotYet),
        };
        match outcome {
            // The joiner verifies it: the lease stays with the claim.
            Ok(Joining::Joined { .. }) => self.hold_for_verifying(lease),
            _ => self.release(&lease).await,
        }
        outcome
    }

    async fn fail(&self, id: &str, why: &str) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE uploads SET state = 'failed', note = $2, expires = NULL WHERE id = $1 AND state = 'receiving'",
                &[&id, &why],
            )
            .await?;
        Ok(n == 1)
    }

    async fn finals_of(&self, id: &str) -> Result<Vec<String>> {
        let sql = format!("SELECT id FROM uploads WHERE state = 'receiving' AND {FINALS_WITH_PART}");
        let client = self.pg.client().await?;
        let rows = client.query(&sql, &[&id]).await.map_err(|e| self.pg.error(e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn wanted(&self, id: &str, except: &str) -> Result<bool> {
        let sql = format!(
            "SELECT 1 FROM uploads WHERE state IN ('receiving', 'verifying') AND id != $2 AND {FINALS_WITH_PART} LIMIT 1"
        );
        let client = self.pg.client().await?;
        let found = client.query_opt(&sql, &[&id, &except]).await.map_err(|e| self.pg.error(e))?;
        Ok(found.is_some())
    }

    async fn consume(&self, id: &str, into: &str) -> Result<()> {
        let note = format!("joined into the final upload {into}");
        let client = self.pg.client().await?;
        let consumed = client
            .query_opt(
                "UPDATE uploads SET state = 'consumed', note = $2 WHERE id = $1 AND state = 'complete'
                 RETURNING object_key",
                &[&id, &note],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        drop(client);
        if let Some(r) = consumed {
            self.remove_bytes(r.get::<_, Option<String>>(0).as_deref(), None).await?;
        }
        Ok(())
    }
}

impl ClusterStore {
    /// Writes the parts' bytes into the final upload under `lease` and makes its object:
    /// from the start each time, so a join that was interrupted is simply done again.
    async fn join(
        &self,
        lease: &super::lease::Lease,
        row: Row,
        parts: &[Row],
        total: u64,
    ) -> Result<Joining> {
        let tx = self.fenced(lease).await?;
        tx.execute("UPDATE uploads SET \"offset\" = 0 WHERE id = $1", &[&lease.id]).await?;
        tx.commit().await?;
        self.drop_past(lease, 0).await?;
        if let Some(plan) = copy_plan(parts) {
            return self.join_by_copy(lease, row, plan, total).await;
        }
        let mut readers = Vec::with_capacity(parts.len());
        for part in parts {
            readers.push(self.read_object(part).await?);
        }
        let body = futures_util::stream::iter(readers)
            .flat_map(|r| ReaderStream::with_capacity(r, 256 * 1024))
            .map(|r| r.map_err(|_| BodyError::Interrupted));
        let start = Row { upload: Upload { offset: 0, ..row.upload.clone() }, ..row };
        let end = self.write_body(lease, &start, Box::pin(body)).await?;
        if end != total {
            let why = format!("reading its parts from the bucket stopped at byte {end} of {total}");
            return Err(Error::Invalid { id: lease.id.clone(), why });
        }
        let joined =
            Row { upload: Upload { offset: total, length: Some(total), ..start.upload.clone() }, ..start };
        self.assemble(lease, &joined).await?;
        let total_sql = total as i64;
        let tx = self.fenced(lease).await?;
        let n = tx
            .execute(
                "UPDATE uploads SET length = $2, \"offset\" = $2, state = 'verifying'
                 WHERE id = $1 AND state = 'receiving'",
                &[&lease.id, &total_sql],
            )
            .await?;
        tx.commit().await?;
        if n == 0 {
            return Ok(Joining::NotYet);
        }
        Ok(Joining::Joined {
            upload: Upload { state: UploadState::Verifying, ..joined.upload },
            copied: false,
        })
    }

    /// Makes the final's object from copies of its parts' objects, inside the bucket.
    async fn join_by_copy(
        &self,
        lease: &super::lease::Lease,
        row: Row,
        plan: Vec<(String, Range<u64>)>,
        total: u64,
    ) -> Result<Joining> {
        let (key, multipart) = self.multipart(lease).await?;
        let path = Path::from(key.as_str());
        let copied = async {
            // (The futures are made before they are streamed: a stream mapping with a
            // closure that borrows is not Send as `async_trait` needs.)
            let copies: Vec<_> = plan
                .iter()
                .enumerate()
                .map(|(i, (from, range))| self.bucket.copy_part(&key, &multipart, i, from, range.clone()))
                .collect();
            let parts: Vec<_> =
                futures_util::stream::iter(copies).buffered(COPIES_AT_ONCE).try_collect().await?;
            self.bucket
                .store
                .complete_multipart(&path, &multipart, parts)
                .await
                .map_err(|e| self.bucket.error(e))
        }
        .await;
        if let Err(e) = copied {
            // Completed already, by a join that was interrupted before recording it?
            match self.bucket.store.head(&path).await {
                Ok(meta) if meta.size == total => {}
                _ => return Err(e),
            }
        }
        let total_sql = total as i64;
        let tx = self.fenced(lease).await?;
        let n = tx
            .execute(
                "UPDATE uploads SET finished = true, object_key = $2, multipart = NULL, sha256 = NULL,
                 length = $3, \"offset\" = $3, state = 'verifying' WHERE id = $1 AND state = 'receiving'",
                &[&lease.id, &key, &total_sql],
            )
            .await?;
        tx.commit().await?;
        if n == 0 {
            return Ok(Joining::NotYet);
        }
        let upload =
            Upload { offset: total, length: Some(total), state: UploadState::Verifying, ..row.upload };
        Ok(Joining::Joined { upload, copied: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(size: u64, key: Option<&str>) -> Row {
        Row {
            upload: Upload {
                id: "p".into(),
                owner: 1,
                key: None,
                length: Some(size),
                offset: size,
                metadata: String::new(),
                concat: ConcatRole::Partial,
                state: UploadState::Complete,
                note: None,
                created: 0,
                expires: None,
            },
            part_size: 8 << 20,
            object_key: key.map(str::to_string),
            multipart: None,
            finished: key.is_some(),
            sha256: None,
        }
    }

    #[test]
    fn parts_are_copied_only_where_s3_allows() {
        let mib = 1 << 20;
        let plan = copy_plan(&[part(6 * mib, Some("a")), part(0, None), part(mib, Some("c"))]);
        assert_eq!(
            plan,
            Some(vec![("a".into(), 0..6 * mib), ("c".into(), 0..mib)]),
            "an empty part adds nothing"
        );
        assert_eq!(copy_plan(&[part(mib, Some("a")), part(6 * mib, Some("b"))]), None, "a small first part");
        assert_eq!(copy_plan(&[part(6 * mib, None)]), None, "an object not made");
        assert_eq!(copy_plan(&[part(0, None)]), None, "nothing to copy");
        // Over S3's largest part: equal pieces, each within it and over its smallest.
        let big = 11 * S3_MAX_PART + 3;
        let plan = copy_plan(&[part(big, Some("a"))]).expect("copied");
        assert_eq!(plan.len(), 12);
        assert_eq!(plan.last().map(|(_, r)| r.end), Some(big));
        assert!(plan.iter().all(|(_, r)| r.end - r.start <= S3_MAX_PART && r.end - r.start >= S3_MIN_PART));
        assert!(plan.windows(2).all(|w| w[0].1.end == w[1].1.start), "contiguous");
    }
}
