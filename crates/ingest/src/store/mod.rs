//! What the protocol handlers need from storage, as traits. The handlers know nothing of
//! files or SQL: a store implements the core [`UploadStore`] and, where it can, the optional
//! [`Terminate`], [`Concat`] and [`DeferLength`]; the `Tus-Extension` header is derived from
//! which of those it offers ([`extensions`]). The local store is [`FileStore`] (SQLite state,
//! one file per upload); the cluster store is [`ClusterStore`] (PostgreSQL state, the bytes
//! in an S3-compatible bucket), for several instances.

mod cluster;
mod file;

use std::pin::Pin;

use async_trait::async_trait;
use futures_util::Stream;
use serde::Serialize;

pub use self::cluster::ClusterStore;
pub use self::file::FileStore;
use crate::error::{Result, TusError};
use crate::metrics::{Report, Totals};

/// A request body on its way into a store. The handler has already wrapped it with the
/// checks it owns (length, checksum, idle timeout); the store only has to honour the two
/// kinds of [`BodyError`].
pub type Body = Pin<Box<dyn Stream<Item = std::result::Result<bytes::Bytes, BodyError>> + Send>>;

/// Bytes read back from a store (the first `offset` bytes of an upload).
pub type Reader = Pin<Box<dyn tokio::io::AsyncRead + Send>>;

/// How a body can end other than normally.
#[derive(Debug)]
pub enum BodyError {
    /// The client went away or stalled: keep (and commit) every byte that arrived.
    Interrupted,
    /// The body is refused (checksum mismatch, too long): keep nothing of this request.
    Refused(TusError),
}

/// The life of an upload. Only `Receiving` takes bytes; an upload leaves `Verifying` once,
/// for `Complete` or `Quarantined`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadState {
    /// Created, bytes still arriving (or, for a final upload, partial uploads unfinished).
    Receiving,
    /// Every byte is in and one check of the whole file (the declared SHA-256) has claimed
    /// it: nothing starts another, and a crash leaves it to be checked again at start-up.
    Verifying,
    /// Every byte is in and the declared SHA-256, if any, matched: published to its owner.
    Complete,
    /// Every byte is in but the declared SHA-256 did not match: kept apart, never served.
    Quarantined,
    /// A final upload that can never be made: a part is gone or failed, or the parts
    /// together are over the size limit. The note says which; it holds no bytes.
    Failed,
    /// A partial upload whose bytes went into a verified final upload and were then
    /// removed (they would otherwise be stored twice). The note names the final.
    Consumed,
}

impl UploadState {
    pub const ALL: [UploadState; 6] = [
        UploadState::Receiving,
        UploadState::Verifying,
        UploadState::Complete,
        UploadState::Quarantined,
        UploadState::Failed,
        UploadState::Consumed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UploadState::Receiving => "receiving",
            UploadState::Verifying => "verifying",
            UploadState::Complete => "complete",
            UploadState::Quarantined => "quarantined",
            UploadState::Failed => "failed",
            UploadState::Consumed => "consumed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The concatenation role of an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConcatRole {
    None,
    Partial,
    /// The ids of its partial uploads, in order.
    Final(Vec<String>),
}

/// What a client asked to create. The handler has validated every field.
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// The token that owns it; nobody else sees it.
    pub owner: i64,
    /// The request's `Idempotency-Key` (1 to 255 visible ASCII characters), which names this
    /// upload among its owner's live ones: see [`UploadStore::create`].
    pub key: Option<String>,
    /// `None` while deferred, and for a final upload whose parts' lengths are not all known.
    pub length: Option<u64>,
    /// `Upload-Metadata` in canonical form.
    pub metadata: String,
    pub concat: ConcatRole,
}

/// An upload as the store last committed it.
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub id: String,
    pub owner: i64,
    /// The `Idempotency-Key` it was created with.
    pub key: Option<String>,
    pub length: Option<u64>,
    /// Bytes durably stored and acknowledged.
    pub offset: u64,
    pub metadata: String,
    pub concat: ConcatRole,
    pub state: UploadState,
    /// Why it is quarantined, for the admin.
    pub note: Option<String>,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds after which an unfinished upload is gone; `None` once finished.
    pub expires: Option<u64>,
}

impl Upload {
    pub fn is_final(&self) -> bool {
        matches!(self.concat, ConcatRole::Final(_))
    }
}

/// What [`UploadStore::create`] did.
#[derive(Debug, Clone)]
pub enum Created {
    New(Upload),
    /// Nothing: the owner already has a live upload with the request's key, and this is it.
    Existing(Upload),
}

/// Counts for the admin's statistics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub receiving: u64,
    pub verifying: u64,
    pub complete: u64,
    pub quarantined: u64,
    pub failed: u64,
    pub consumed: u64,
    /// Bytes held for all uploads (acknowledged offsets; consumed parts hold none).
    pub bytes_stored: u64,
}

impl Stats {
    /// Counts one state's uploads.
    pub fn count(&mut self, state: UploadState, n: u64) {
        let slot = match state {
            UploadState::Receiving => &mut self.receiving,
            UploadState::Verifying => &mut self.verifying,
            UploadState::Complete => &mut self.complete,
            UploadState::Quarantined => &mut self.quarantined,
            UploadState::Failed => &mut self.failed,
            UploadState::Consumed => &mut self.consumed,
        };
        *slot = n;
    }
}

/// The core of a store: create, look up, append, read back, expire.
///
/// Contract: ids are chosen by the store and are 32 lowercase hex digits. A store never
/// reports an offset that is not durable: `append` returns only after the bytes are synced,
/// and the offset is committed after them, so a crash at any point loses nothing that was
/// acknowledged. Bytes past the committed offset (from a crash mid-write) are ignored and
/// overwritten by the next append.
#[async_trait]
pub trait UploadStore: Send + Sync + 'static {
    /// Creates an upload with no bytes, expiring after the store's time to live.
    ///
    /// With `new.key`, the store guarantees that an owner has at most one live upload per
    /// key — live meaning receiving (and not expired), verifying, complete or consumed,
    /// since a quarantined or failed upload's key is free again for the resend. The guarantee must hold
    /// against concurrent calls (a unique constraint, not a look-up before the insert):
    /// when the key is taken, nothing is created and the holder comes back as
    /// [`Created::Existing`]; an expired upload gives its key up first. Whether the request
    /// matches the holder is the caller's question.
    async fn create(&self, new: NewUpload) -> Result<Created>;

    /// The owner's live upload created with `key` (as [`UploadStore::create`] defines live),
    /// or `None`. Another owner's uploads are never returned.
    async fn find_by_key(&self, owner: i64, key: &str) -> Result<Option<Upload>>;

    /// The upload, or [`crate::Error::NotFound`].
    async fn get(&self, id: &str) -> Result<Upload>;

    /// Writes `body` at `offset` and returns the new offset once it is durable.
    ///
    /// At most one append (or termination, or length declaration) per upload runs at a
    /// time: a second one gets [`crate::Error::Locked`]. An upload no longer receiving gets
    /// [`crate::Error::Finished`]. `offset` must equal the committed offset, else
    /// [`crate::Error::OffsetMismatch`]. When the body yields [`BodyError::Interrupted`] the
    /// bytes so far are committed; when it yields [`BodyError::Refused`] none of this call's
    /// bytes are, and the error comes back as [`crate::Error::Refused`]. When storage fails
    /// (a full disk), the bytes written before the failure are committed, the rest are
    /// given back, and the error is [`crate::Error::StorageFull`] or the storage's own.
    /// The caller has checked the upload's length; the store does not.
    async fn append(&self, id: &str, offset: u64, body: Body) -> Result<u64>;

    /// The upload's committed bytes, in whichever state it is.
    async fn read(&self, id: &str) -> Result<Reader>;

    /// The SHA-256 of an upload's bytes, if the store computed it as they arrived (so the
    /// check of a finished upload need not read them back); `None` if it did not.
    async fn sha256(&self, _id: &str) -> Result<Option<[u8; 32]>> {
        Ok(None)
    }

    /// Claims the check of an upload whose bytes are all in: moves it from receiving to
    /// verifying, and returns whether this call did (false if it is not receiving, or not
    /// all its bytes are in). Finishing an upload thus happens once.
    async fn claim_verify(&self, id: &str) -> Result<bool>;

    /// Whether other processes (instances) share this store's state: then an upload found
    /// verifying at start-up may be another's check in progress, and is reclaimed rather
    /// than checked again (see [`UploadStore::reclaim_verify`]).
    fn shared(&self) -> bool {
        false
    }

    /// Claims the check of an upload left verifying by a checker that is gone (on the
    /// cluster store, an instance that died mid-check), if it was; returns whether this
    /// call did. A store whose checks all run in this process has none while it runs (the
    /// local store's start-up finishes what a crash left).
    async fn reclaim_verify(&self, _id: &str) -> Result<bool> {
        Ok(false)
    }

    /// Records a verified upload's outcome: complete, or quarantined with a note. (A final
    /// that cannot be made fails through [`Concat::fail`].)
    async fn set_state(&self, id: &str, state: UploadState, note: Option<String>) -> Result<()>;

    /// The owner's uploads still receiving bytes, for the cap on unfinished uploads.
    async fn count_receiving(&self, owner: i64) -> Result<u64>;

    /// Whether the storage of the bytes answers, where it is not the state store itself
    /// (a bucket); `Some` says where the state and the bytes are.
    async fn check_connections(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// Publishes this instance's `report` where the others sharing the store see it, and
    /// returns every instance's summed; `None` for a store no other process shares (its
    /// totals are this process's report).
    async fn cluster_totals(&self, _report: &Report) -> Result<Option<Totals>> {
        Ok(None)
    }

    /// Free space where the bytes go, if the store can tell.
    fn free_space(&self) -> Option<u64> {
        None
    }

    /// Uploads in `state` (all when `None`), oldest first, at most `limit`.
    async fn list(&self, state: Option<UploadState>, limit: usize) -> Result<Vec<Upload>>;

    async fn stats(&self) -> Result<Stats>;

    /// Removes unfinished uploads whose expiry is before `now` (unix seconds) and returns
    /// their ids. An upload being written is skipped until its append ends.
    /// Uploads that are not receiving never expire.
    async fn remove_expired(&self, now: u64) -> Result<Vec<String>>;

    /// The termination extension, if this store offers it.
    fn terminate(&self) -> Option<&dyn Terminate> {
        None
    }
    /// The concatenation extension (with unfinished partial uploads), if offered.
    fn concat(&self) -> Option<&dyn Concat> {
        None
    }
    /// The creation-defer-length extension, if offered.
    fn defer_length(&self) -> Option<&dyn DeferLength> {
        None
    }
}

/// Deleting an upload and its bytes on the client's request.
#[async_trait]
pub trait Terminate: Send + Sync {
    /// Removes the upload; [`crate::Error::Locked`] while an append is running. Works on a
    /// full disk: the bytes go first, which frees the room the state change needs.
    async fn terminate(&self, id: &str) -> Result<()>;
}

/// Final uploads made of partial ones (`Upload-Concat`). The handler checks that the parts
/// exist, belong to the creator and are partial uploads; `create` with
/// [`ConcatRole::Final`] stores the list.
#[async_trait]
pub trait Concat: Send + Sync {
    /// If the final upload `id` is receiving and every part is complete, writes the final's
    /// bytes (the parts in order) and commits length = offset in state verifying: the
    /// caller that gets `Joined` verifies it. A part that is gone, quarantined, failed or
    /// consumed, or parts over `max_size` together, fail the final (state failed, with the
    /// reason) instead. Safe to call concurrently and repeatedly: one caller joins.
    async fn concatenate(&self, id: &str, max_size: u64) -> Result<Joining>;

    /// Records that the final upload `id` can never be made, and why, if it is still
    /// receiving; returns whether it was (one joined or failed meanwhile keeps its outcome).
    async fn fail(&self, id: &str, why: &str) -> Result<bool>;

    /// The unfinished (receiving) final uploads that include the partial upload `id`.
    async fn finals_of(&self, id: &str) -> Result<Vec<String>>;

    /// Whether an upload other than `except` that is not finished (receiving or verifying)
    /// lists the partial upload `id`.
    async fn wanted(&self, id: &str, except: &str) -> Result<bool>;

    /// Removes a partial upload's bytes once the final upload `into` holds them, verified:
    /// the part becomes consumed, with a note naming the final.
    async fn consume(&self, id: &str, into: &str) -> Result<()>;
}

/// What a final upload's parts say about joining it, judged the same way by every store
/// from each part's state and committed bytes, in order (`None`: the part is gone).
pub(crate) enum PartsSay {
    /// All complete: their bytes together.
    Ready(u64),
    /// One is still receiving or verifying.
    NotYet,
    /// It can never be made, and why.
    Never(String),
}

pub(crate) fn judge_parts<'a>(
    parts: impl IntoIterator<Item = (&'a str, Option<(UploadState, u64)>)>,
    max_size: u64,
) -> PartsSay {
    let mut total = 0u64;
    for (part, found) in parts {
        match found {
            None => return PartsSay::Never(format!("its part {part} no longer exists")),
            Some((UploadState::Complete, bytes)) => total += bytes,
            Some((UploadState::Receiving | UploadState::Verifying, _)) => return PartsSay::NotYet,
            Some((UploadState::Quarantined, _)) => {
                return PartsSay::Never(format!("its part {part} did not match its SHA-256"))
            }
            Some((state @ (UploadState::Consumed | UploadState::Failed), _)) => {
                return PartsSay::Never(format!("its part {part} is {}", state.as_str()))
            }
        }
    }
    match total > max_size {
        true => {
            PartsSay::Never(format!("its parts hold {total} bytes together, over the limit of {max_size}"))
        }
        false => PartsSay::Ready(total),
    }
}

/// Judges the parts of the final upload `id` ([`judge_parts`]) for `store`: `Ok(total)`
/// when they are ready to join, else the answer for `concatenate` (a final that can never
/// be made is failed here, with the reason).
pub(crate) async fn parts_ready<'a>(
    store: &dyn Concat,
    id: &str,
    parts: impl IntoIterator<Item = (&'a str, Option<(UploadState, u64)>)>,
    max_size: u64,
) -> Result<std::result::Result<u64, Joining>> {
    Ok(match judge_parts(parts, max_size) {
        PartsSay::Ready(total) => Ok(total),
        PartsSay::NotYet => Err(Joining::NotYet),
        PartsSay::Never(why) => match store.fail(id, &why).await? {
            true => Err(Joining::Failed(why)),
            false => Err(Joining::NotYet),
        },
    })
}

/// What [`Concat::concatenate`] did.
#[derive(Debug)]
pub enum Joining {
    /// This call joined it: the final upload, verifying; `copied` if its bytes were copied
    /// inside the object store rather than streamed through this server.
    Joined { upload: Upload, copied: bool },
    /// A part is still receiving (or verifying), or another call joined it first.
    NotYet,
    /// It can never be made; the reason is recorded as its note.
    Failed(String),
}

/// Setting the length of an upload created with `Upload-Defer-Length`.
#[async_trait]
pub trait DeferLength: Send + Sync {
    /// Sets the length once, under the upload's lock ([`crate::Error::Locked`] while an
    /// append runs, and nothing saved); a different length for an upload that has one, or
    /// one below the committed offset, is refused.
    async fn declare_length(&self, id: &str, length: u64) -> Result<()>;
}

/// The `Tus-Extension` list for `store`: the extensions the handlers implement on their own,
/// plus those the store offers.
pub fn extensions(store: &dyn UploadStore) -> Vec<&'static str> {
    // `idempotency-key` is this server's own, not tus's: a POST with an `Idempotency-Key`
    // that its owner already used answers with that upload instead of making a second one
    // (draft-ietf-httpapi-idempotency-key-header). Clients that do not know it ignore it.
    let mut list = vec!["creation", "creation-with-upload", "expiration", "checksum", "idempotency-key"];
    if store.defer_length().is_some() {
        list.push("creation-defer-length");
    }
    if store.terminate().is_some() {
        list.push("termination");
    }
    if store.concat().is_some() {
        list.extend(["concatenation", "concatenation-unfinished"]);
    }
    list
}
