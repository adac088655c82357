//! Concatenation in the cluster store: a final upload is joined by the instance that takes
//! its lease, which streams its parts' objects, in order, through the same write path as a
//! PATCH (tail segments, whole parts to the bucket, the running SHA-256). `object_store`
//! 0.13 has no UploadPartCopy, so the bytes pass through the server rather than being
//! copied inside the bucket.

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio_util::io::ReaderStream;

use super::lease::Ask;
use super::{ClusterStore, Row};
use crate::error::{Error, Result};
use crate::store::{parts_ready, BodyError, Concat, ConcatRole, Joining, Upload, UploadState};

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
            Ok(Joining::Joined(_)) => self.hold_for_verifying(lease),
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
        Ok(Joining::Joined(Upload { state: UploadState::Verifying, ..joined.upload }))
    }
}
