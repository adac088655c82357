//! The cluster store (`--state postgres://… --store s3://…`): upload state in PostgreSQL,
//! the single source of truth that every instance shares, and the bytes in an
//! S3-compatible bucket, one multipart upload per tus upload. Any instance can serve any
//! request; one writes an upload at a time, by lease (`lease.rs`). The write path —
//! durable tail segments in PostgreSQL, whole parts to the bucket, the object assembled
//! with its SHA-256 — is `bytes.rs`; concatenation is `concat.rs`.

mod bytes;
mod concat;
mod digest;
mod lease;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use self::lease::{Ask, Lease, Releases};
use super::{
    Body, Concat, ConcatRole, Created, DeferLength, NewUpload, Reader, Stats, Terminate, Upload, UploadState,
    UploadStore,
};
use crate::bucket::Bucket;
use crate::db::now;
use crate::error::{Error, Result};
use crate::metrics::{Report, Totals, REPORTS_LIVE};
use crate::pg::Pg;

/// The smallest part: over S3's 5 MiB minimum for every part but the last.
const MIN_PART: u64 = 8 << 20;
/// Parts an upload of the largest length is cut into at most: far from S3's 10,000.
const MOST_PARTS: u64 = 1_000;

/// Parts gathered in memory at once, per instance (see `ClusterStore::part_slots`).
const PARTS_IN_MEMORY: usize = 8;

/// The upload columns [`row`] reads, in its order.
const COLUMNS: &str =
    "id, owner, idempotency_key, length, \"offset\", metadata, concat, parts, state, note, \
     created, expires, part_size, object_key, multipart, finished, sha256";

/// An upload's row: what the handlers see, and where its bytes are.
#[derive(Debug, Clone)]
struct Row {
    upload: Upload,
    part_size: u64,
    object_key: Option<String>,
    multipart: Option<String>,
    finished: bool,
    sha256: Option<Vec<u8>>,
}

/// The row whose [`COLUMNS`] start at column `at` of `r`.
fn row(r: &tokio_postgres::Row, at: usize) -> Row {
    let concat: String = r.get(at + 6);
    let state: String = r.get(at + 8);
    Row {
        upload: Upload {
            id: r.get(at),
            owner: r.get(at + 1),
            key: r.get(at + 2),
            length: r.get::<_, Option<i64>>(at + 3).map(|v| v as u64),
            offset: r.get::<_, i64>(at + 4) as u64,
            metadata: r.get(at + 5),
            concat: match concat.as_str() {
                "partial" => ConcatRole::Partial,
                "final" => ConcatRole::Final(r.get(at + 7)),
                _ => ConcatRole::None,
            },
            state: UploadState::parse(&state).unwrap_or(UploadState::Receiving),
            note: r.get(at + 9),
            created: r.get::<_, i64>(at + 10) as u64,
            expires: r.get::<_, Option<i64>>(at + 11).map(|v| v as u64),
        },
        part_size: r.get::<_, i64>(at + 12) as u64,
        object_key: r.get(at + 13),
        multipart: r.get(at + 14),
        finished: r.get(at + 15),
        sha256: r.get(at + 16),
    }
}

/// The part size for an upload of `length` bytes (the largest allowed when not known yet):
/// whole MiB, at least [`MIN_PART`], so that it takes at most [`MOST_PARTS`] parts. A
/// multiple of 64, as the running SHA-256 needs.
fn part_size(length: u64) -> u64 {
    let mib = 1 << 20;
    (length.div_ceil(MOST_PARTS).div_ceil(mib) * mib).max(MIN_PART)
}

/// The owner's ($1) live upload with key $2 at time $3, as the local store defines live.
const LIVE_WITH_KEY: &str = "owner = $1 AND idempotency_key = $2 AND state NOT IN ('quarantined', 'failed')
     AND NOT (state = 'receiving' AND expires < $3)";

pub struct ClusterStore {
    pg: Pg,
    bucket: Bucket,
    /// Seconds an unfinished upload lives after its last write.
    ttl: u64,
    /// The largest upload, for the part size of one whose length is deferred.
    max_size: u64,
    /// This instance's name as a lease holder.
    instance: String,
    releases: Arc<Releases>,
    /// The leases of uploads this instance is verifying, held until their outcome is set.
    verifying: std::sync::Mutex<std::collections::HashMap<String, Lease>>,
    /// Parts and last parts being gathered in memory at once (each up to a part size, 8 MiB
    /// or more): what bounds an instance's memory when many uploads finish together.
    part_slots: tokio::sync::Semaphore,
}

impl ClusterStore {
    /// The store over a migrated database and a checked bucket. Starts listening for other
    /// instances' release requests (on the current Tokio runtime).
    pub fn new(pg: Pg, bucket: Bucket, expire_after: Duration, max_size: u64) -> Result<ClusterStore> {
        let mut raw = [0u8; 8];
        getrandom::fill(&mut raw).map_err(|e| Error::Task(format!("random instance name: {e}")))?;
        let releases = Arc::new(Releases::default());
        Releases::listen(pg.clone(), Arc::downgrade(&releases));
        Ok(ClusterStore {
            pg,
            bucket,
            ttl: expire_after.as_secs().max(1),
            max_size,
            instance: format!("{}-{}", std::process::id(), hex::encode(raw)),
            releases,
            verifying: Default::default(),
            part_slots: tokio::sync::Semaphore::new(PARTS_IN_MEMORY),
        })
    }

    /// Keeps the lease of an upload claimed for verifying until its outcome is recorded.
    fn hold_for_verifying(&self, lease: Lease) {
        if let Ok(mut held) = self.verifying.lock() {
            held.insert(lease.id.clone(), lease);
        }
    }

    async fn row(&self, id: &str) -> Result<Row> {
        let client = self.pg.client().await?;
        let r = client
            .query_opt(&format!("SELECT {COLUMNS} FROM uploads WHERE id = $1"), &[&id])
            .await
            .map_err(|e| self.pg.error(e))?;
        r.map(|r| row(&r, 0)).ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// Runs one statement and returns how many rows it changed.
    async fn execute(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<u64> {
        let client = self.pg.client().await?;
        client.execute(sql, params).await.map_err(|e| self.pg.error(e))
    }

    async fn uploads(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        let client = self.pg.client().await?;
        let rows = client.query(sql, params).await.map_err(|e| self.pg.error(e))?;
        Ok(rows.iter().map(|r| row(r, 0)).collect())
    }

    /// Removes an upload's bytes from the bucket: its object, or its open multipart upload.
    /// Gone already is fine.
    async fn remove_bytes(&self, object_key: Option<&str>, multipart: Option<&str>) -> Result<()> {
        use object_store::multipart::MultipartStore;
        use object_store::ObjectStoreExt;
        let Some(key) = object_key else { return Ok(()) };
        let path = object_store::path::Path::from(key);
        let outcome = match multipart {
            Some(m) => self.bucket.store.abort_multipart(&path, &m.to_string()).await,
            None => self.bucket.store.delete(&path).await,
        };
        match outcome {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.bucket.error(e)),
        }
    }
}

#[async_trait]
impl UploadStore for ClusterStore {
    async fn create(&self, new: NewUpload) -> Result<Created> {
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).map_err(|e| Error::Task(format!("random id: {e}")))?;
        let id = hex::encode(raw);
        let created = now();
        let (concat, parts) = match &new.concat {
            ConcatRole::None => ("none", Vec::new()),
            ConcatRole::Partial => ("partial", Vec::new()),
            ConcatRole::Final(ids) => ("final", ids.clone()),
        };
        let upload = Upload {
            id: id.clone(),
            owner: new.owner,
            key: new.key,
            length: new.length,
            offset: 0,
            metadata: new.metadata,
            concat: new.concat,
            state: UploadState::Receiving,
            note: None,
            created,
            expires: Some(created + self.ttl),
        };
        let (at, expires) = (created as i64, (created + self.ttl) as i64);
        let length = upload.length.map(|v| v as i64);
        let size = part_size(upload.length.unwrap_or(self.max_size)) as i64;
        let mut client = self.pg.client().await?;
        let tx = client.transaction().await.map_err(|e| self.pg.error(e))?;
        if let Some(key) = &upload.key {
            // An expired upload gives its key up; the sweeper removes the rest later.
            tx.execute(
                "UPDATE uploads SET idempotency_key = NULL WHERE owner = $1
                 AND idempotency_key = $2 AND state = 'receiving' AND expires < $3",
                &[&upload.owner, key, &at],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        }
        // The id is 128 random bits, so the one conflict to expect is on the key's index.
        let inserted = tx
            .execute(
                "INSERT INTO uploads
                 (id, owner, length, metadata, concat, parts, created, expires, idempotency_key, part_size)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                &[
                    &id,
                    &upload.owner,
                    &length,
                    &upload.metadata,
                    &concat,
                    &parts,
                    &at,
                    &expires,
                    &upload.key,
                    &size,
                ],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        let holder = match &upload.key {
            Some(key) if inserted == 0 => tx
                .query_opt(
                    &format!("SELECT {COLUMNS} FROM uploads WHERE {LIVE_WITH_KEY}"),
                    &[&upload.owner, key, &at],
                )
                .await
                .map_err(|e| self.pg.error(e))?
                .map(|r| row(&r, 0).upload),
            _ => None,
        };
        tx.commit().await.map_err(|e| self.pg.error(e))?;
        match (inserted, holder) {
            (1, _) => Ok(Created::New(upload)),
            (_, Some(existing)) => Ok(Created::Existing(existing)),
            (_, None) => Err(Error::Invalid { id, why: "its id is taken".into() }),
        }
    }

    async fn find_by_key(&self, owner: i64, key: &str) -> Result<Option<Upload>> {
        let sql = format!("SELECT {COLUMNS} FROM uploads WHERE {LIVE_WITH_KEY}");
        let found = self.uploads(&sql, &[&owner, &key, &(now() as i64)]).await?;
        Ok(found.into_iter().next().map(|r| r.upload))
    }

    async fn get(&self, id: &str) -> Result<Upload> {
        Ok(self.row(id).await?.upload)
    }

    async fn append(&self, id: &str, offset: u64, body: Body) -> Result<u64> {
        let (lease, row) = self.acquire(id, Ask::ToLetGo).await?;
        let outcome = self.append_leased(&lease, row, offset, body).await;
        self.release(&lease).await;
        outcome
    }

    async fn read(&self, id: &str) -> Result<Reader> {
        self.read_object(&self.row(id).await?).await
    }

    async fn sha256(&self, id: &str) -> Result<Option<[u8; 32]>> {
        Ok(self.row(id).await?.sha256.and_then(|d| d.try_into().ok()))
    }

    async fn claim_verify(&self, id: &str) -> Result<bool> {
        let r = self.row(id).await?;
        let all_in = r.upload.state == UploadState::Receiving && r.upload.length == Some(r.upload.offset);
        if !all_in {
            return Ok(false);
        }
        // The claim holds the lease until the outcome is recorded: an instance that dies
        // mid-check leaves an upload verifying with no live lease, which another reclaims.
        let (lease, r) = self.acquire(id, Ask::Wait).await?;
        let claimed = async {
            if !r.finished {
                // Every byte is acknowledged but the object was not made (a crash, the
                // bucket down): make it now.
                self.assemble(&lease, &r).await?;
            }
            let tx = self.fenced(&lease).await?;
            let n = tx
                .execute(
                    "UPDATE uploads SET state = 'verifying' WHERE id = $1 AND state = 'receiving'
                     AND length IS NOT NULL AND \"offset\" = length AND finished",
                    &[&id],
                )
                .await?;
            tx.commit().await?;
            Ok(n == 1)
        }
        .await;
        match claimed {
            Ok(true) => self.hold_for_verifying(lease),
            _ => self.release(&lease).await,
        }
        claimed
    }

    fn shared(&self) -> bool {
        true
    }

    async fn reclaim_verify(&self, id: &str) -> Result<bool> {
        let (lease, r) = match self.acquire(id, Ask::NoWait).await {
            Ok(taken) => taken,
            // Its check is running (or it is gone).
            Err(Error::Locked(_) | Error::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        if r.upload.state != UploadState::Verifying {
            self.release(&lease).await;
            return Ok(false);
        }
        tracing::info!(upload = %id, "checking an upload whose check an instance left unfinished");
        self.hold_for_verifying(lease);
        Ok(true)
    }

    async fn set_state(&self, id: &str, state: UploadState, note: Option<String>) -> Result<()> {
        // A quarantined upload's object stays where it is: it is never served.
        self.execute(
            "UPDATE uploads SET state = $2, note = $3, expires = NULL WHERE id = $1",
            &[&id, &state.as_str(), &note],
        )
        .await?;
        let claim = self.verifying.lock().ok().and_then(|mut held| held.remove(id));
        if let Some(lease) = claim {
            self.release(&lease).await;
        }
        Ok(())
    }

    async fn check_connections(&self) -> Result<Option<String>> {
        self.bucket.check().await?;
        Ok(Some(format!("state in PostgreSQL {}, bytes in {}", self.pg.at(), self.bucket.at)))
    }

    async fn count_receiving(&self, owner: i64) -> Result<u64> {
        let client = self.pg.client().await?;
        let r = client
            .query_one("SELECT COUNT(*) FROM uploads WHERE owner = $1 AND state = 'receiving'", &[&owner])
            .await
            .map_err(|e| self.pg.error(e))?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    async fn list(&self, state: Option<UploadState>, limit: usize) -> Result<Vec<Upload>> {
        let (state, limit) = (state.map(|s| s.as_str()), limit.min(i64::MAX as usize) as i64);
        let sql = format!(
            "SELECT {COLUMNS} FROM uploads WHERE $1::text IS NULL OR state = $1 ORDER BY created, id LIMIT $2"
        );
        Ok(self.uploads(&sql, &[&state, &limit]).await?.into_iter().map(|r| r.upload).collect())
    }

    async fn stats(&self) -> Result<Stats> {
        let client = self.pg.client().await?;
        let rows = client
            .query(
                "SELECT state, COUNT(*), COALESCE(SUM(\"offset\"), 0)::bigint FROM uploads GROUP BY state",
                &[],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        let mut stats = Stats::default();
        for r in rows {
            let Some(state) = UploadState::parse(r.get(0)) else { continue };
            if !matches!(state, UploadState::Consumed | UploadState::Failed) {
                stats.bytes_stored += r.get::<_, i64>(2) as u64;
            }
            stats.count(state, r.get::<_, i64>(1) as u64);
        }
        Ok(stats)
    }

    async fn cluster_totals(&self, report: &Report) -> Result<Option<Totals>> {
        let json = serde_json::to_string(report).map_err(|e| Error::Task(format!("report: {e}")))?;
        let client = self.pg.client().await?;
        client
            .execute(
                "INSERT INTO instance_reports (instance, report, seen) VALUES ($1, $2, now())
                 ON CONFLICT (instance) DO UPDATE SET report = excluded.report, seen = now()",
                &[&self.instance, &json],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        let rows = client
            .query(
                "SELECT instance, report, seen > now() - make_interval(secs => $1) FROM instance_reports",
                &[&(REPORTS_LIVE.as_secs_f64())],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        let mut totals = Totals::default();
        for r in rows {
            match serde_json::from_str::<Report>(r.get(1)) {
                Ok(report) => totals.add(&report, r.get(2)),
                Err(e) => {
                    tracing::warn!(instance = r.get::<_, &str>(0), error = %e, "unreadable report skipped")
                }
            }
        }
        Ok(Some(totals))
    }

    async fn remove_expired(&self, now: u64) -> Result<Vec<String>> {
        // Any instance may sweep, and several at once: each row is deleted by one of them
        // (the others skip the rows it has locked), and its bytes go after.
        let client = self.pg.client().await?;
        let gone = client
            .query(
                "DELETE FROM uploads WHERE id IN (
                     SELECT id FROM uploads WHERE state = 'receiving' AND expires < $1
                     AND (holder IS NULL OR lease_until < now()) FOR UPDATE SKIP LOCKED)
                 RETURNING id, object_key, multipart",
                &[&(now as i64)],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        drop(client);
        let mut removed = Vec::with_capacity(gone.len());
        for r in gone {
            let id: String = r.get(0);
            let (key, multipart): (Option<String>, Option<String>) = (r.get(1), r.get(2));
            // If this fails, the bucket's lifecycle rule for incomplete multipart uploads
            // removes the bytes later (README, "Running at scale").
            if let Err(e) = self.remove_bytes(key.as_deref(), multipart.as_deref()).await {
                tracing::warn!(upload = %id, error = %e, "removing an expired upload's bytes failed");
            }
            removed.push(id);
        }
        Ok(removed)
    }

    fn terminate(&self) -> Option<&dyn Terminate> {
        Some(self)
    }
    fn concat(&self) -> Option<&dyn Concat> {
        Some(self)
    }
    fn defer_length(&self) -> Option<&dyn DeferLength> {
        Some(self)
    }
}

#[async_trait]
impl Terminate for ClusterStore {
    async fn terminate(&self, id: &str) -> Result<()> {
        let (lease, r) = self.acquire(id, Ask::Wait).await?;
        let outcome = async {
            if r.upload.state == UploadState::Verifying {
                // Its check is reading the bytes; it ends soon, and then it can go.
                return Err(Error::Locked(id.to_string()));
            }
            // The bytes first; a crash between the two leaves a row without bytes, which
            // the next DELETE removes.
            self.remove_bytes(r.object_key.as_deref(), r.multipart.as_deref()).await?;
            let tx = self.fenced(&lease).await?;
            tx.execute("DELETE FROM uploads WHERE id = $1", &[&id]).await?;
            tx.commit().await
        }
        .await;
        if outcome.is_err() {
            self.release(&lease).await;
        }
        outcome.map(|_| ())
    }
}

#[async_trait]
impl DeferLength for ClusterStore {
    async fn declare_length(&self, id: &str, length: u64) -> Result<()> {
        let (lease, r) = self.acquire(id, Ask::Wait).await?;
        let outcome = match (r.upload.length, r.upload.offset) {
            (None, offset) if offset > length => Err(Error::Conflict {
                id: id.to_string(),
                why: format!("Upload-Length {length} is below the upload's offset {offset}"),
            }),
            (None, _) => {
                async {
                    let tx = self.fenced(&lease).await?;
                    tx.execute("UPDATE uploads SET length = $2 WHERE id = $1", &[&id, &(length as i64)])
                        .await?;
                    tx.commit().await
                }
                .await
            }
            (Some(l), _) if l == length => Ok(()),
            (Some(_), _) => {
                Err(Error::Conflict { id: id.to_string(), why: "Upload-Length cannot change".into() })
            }
        };
        self.release(&lease).await;
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_whole_mib_at_least_8_and_at_most_a_thousand() {
        assert_eq!(part_size(0), MIN_PART);
        assert_eq!(part_size(100 << 20), MIN_PART);
        let big = 50u64 << 30;
        let size = part_size(big);
        assert!(size.is_multiple_of(1 << 20) && big.div_ceil(size) <= MOST_PARTS, "{size}");
        assert!(part_size(u64::MAX / 2).is_multiple_of(64));
    }
}
