use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use futures_util::future::try_join_all;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::client::TusClient;
use crate::error::{Error, Result};

/// One file to send, and where the caller last recorded it standing.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub path: PathBuf,
    pub length: u64,
    pub metadata: Vec<(String, String)>,
    /// The upload URL from an earlier attempt, if there was one (for a file sent in parts:
    /// the final upload's).
    pub url: Option<String>,
    /// The partial uploads an earlier attempt planned, if it sent the file in parts.
    pub parts: Vec<Part>,
    /// The SHA-256 (hex) the file's bytes must have. The bytes are hashed as they are read
    /// for sending, and the request that would complete the upload is not sent unless they
    /// match: a file that changed after it was recorded (a frame still being written, a
    /// damaged cache file) never becomes a complete upload. It also names the content, so
    /// that a creation repeated after a lost reply is recognised by servers that offer it.
    pub sha256: Option<String>,
}

/// A stretch of the file sent as its own partial upload (tus concatenation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub start: u64,
    pub length: u64,
    pub url: Option<String>,
}

/// Where the caller keeps what the server acknowledged (the journal). Each call happens
/// after the server confirmed the fact and before the next request, so after a crash at
/// most the chunk in flight (per part, for a file sent in parts) is sent again. An error
/// stops the upload.
pub trait Record {
    fn created(&mut self, url: &str) -> std::result::Result<(), String>;
    fn acknowledged(&mut self, offset: u64) -> std::result::Result<(), String>;
    /// The earlier upload URL (or a part's) is gone (expired, deleted): the file starts over.
    fn restarted(&mut self, reason: &str) -> std::result::Result<(), String>;
    /// The file goes as these parts, `(start, length)` each, sent at once and then joined.
    fn parts_planned(&mut self, parts: &[(u64, u64)]) -> std::result::Result<(), String>;
    fn part_created(&mut self, part: usize, url: &str) -> std::result::Result<(), String>;
    fn part_acknowledged(&mut self, part: usize, offset: u64) -> std::result::Result<(), String>;
    /// Whether this upload is to stop at the next chunk boundary (its photo was paused or
    /// cancelled): it ends with [`Error::Parked`], where the server has it.
    fn parked(&self) -> bool {
        false
    }
}

/// How a finished send went.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub url: String,
    /// Bytes sent more than once: chunks refused for a bad checksum, or sent past an offset
    /// the server had moved on from.
    pub resent: u64,
}

/// Chunks refused for a damaged body in a row before giving up on this attempt.
const CHECKSUM_RETRIES: u32 = 3;

/// Sends `job` to the end. A file of several chunks goes as parallel partial uploads that
/// the server then joins, when it offers concatenation, repeats of a creation are safe
/// there (else a lost reply to the final request would leave the choice between a photo
/// possibly missing and one possibly stored twice), and the destination allows parts;
/// otherwise as one upload: resumed from the server's offset when the job has a URL
/// (re-created if that URL is gone), else created, then PATCHed chunk by chunk. Network
/// errors and refusals end the attempt; the scheduler retries, and the next attempt resumes
/// where the server says.
pub async fn send<R: Record + Send>(client: &TusClient, job: &Job, record: &mut R) -> Result<Sent> {
    let joinable = client.capabilities().has("concatenation") && client.repeats_are_safe();
    if job.url.is_none() && joinable {
        let destination = client.destination();
        let parts = if job.parts.is_empty() {
            plan_parts(destination.chunk_size, destination.parts, job.length)
        } else {
            job.parts.clone()
        };
        if parts.len() > 1 {
            return send_parts(client, job, parts, record).await;
        }
    }
    let metadata = pairs(&job.metadata, |_| true);
    let whole = Stretch {
        path: &job.path,
        start: 0,
        length: job.length,
        partial: false,
        expected: job.sha256.as_deref(),
        identity: job.sha256.as_ref().map(|sha| format!("sha256:{sha}")),
    };
    let (url, resent, _) = send_stretch(client, &whole, &metadata, job.url.clone(), &mut |note| match note {
        Note::Created(url) => record.created(url),
        Note::Acknowledged(offset) => record.acknowledged(offset),
        Note::Restarted(reason) => record.restarted(reason),
        Note::Boundary => boundary(&*record),
    })
    .await?;
    Ok(Sent { url, resent })
}

/// Up to `parts` parts of whole chunks, as equal as chunks allow; none for an empty file.
fn plan_parts(chunk: u64, parts: usize, length: u64) -> Vec<Part> {
    let chunk = chunk.max(1);
    let chunks = length.div_ceil(chunk);
    let wanted = (parts as u64).clamp(1, chunks.max(1));
    let per_part = chunks.div_ceil(wanted) * chunk;
    if per_part == 0 {
        return Vec::new();
    }
    (0..length)
        .step_by(per_part as usize)
        .map(|start| Part { start, length: per_part.min(length - start), url: None })
        .collect()
}

/// The parts at once, each resumed or created on its own; then, once the file's bytes are
/// checked against what each part read, the final upload.
async fn send_parts<R: Record + Send>(
    client: &TusClient,
    job: &Job,
    parts: Vec<Part>,
    record: &mut R,
) -> Result<Sent> {
    if job.parts.is_empty() {
        let plan: Vec<(u64, u64)> = parts.iter().map(|p| (p.start, p.length)).collect();
        record.parts_planned(&plan).map_err(Error::Record)?;
    }
    // A partial upload carries no digest (the server would check the part against the
    // file's); its name and type only, which some servers require on every upload.
    let part_metadata = pairs(&job.metadata, |key| key == "filename" || key == "filetype");
    let shared = Mutex::new(record);
    let note = |index: usize| {
        let shared = &shared;
        move |note: Note| -> std::result::Result<(), String> {
            let mut record = shared.lock().map_err(|_| "the record lock was poisoned".to_string())?;
            match note {
                Note::Created(url) => record.part_created(index, url),
                Note::Acknowledged(offset) => record.part_acknowledged(index, offset),
                // A vanished part is simply made again: `part_created` replaces its URL.
                Note::Restarted(_) => Ok(()),
                Note::Boundary => boundary(&**record),
            }
        }
    };
    let sends = parts.iter().enumerate().map(|(index, part)| {
        let stretch = Stretch {
            path: &job.path,
            start: part.start,
            length: part.length,
            partial: true,
            expected: None,
            identity: job.sha256.as_ref().map(|sha| format!("sha256:{sha}:{}+{}", part.start, part.length)),
        };
        let mut note = note(index);
        let part_metadata = &part_metadata;
        async move { send_stretch(client, &stretch, part_metadata, part.url.clone(), &mut note).await }
    });
    let done = try_join_all(sends).await?;
    let record = shared.into_inner().map_err(|_| Error::Record("the record lock was poisoned".into()))?;
    if let Some(expected) = &job.sha256 {
        let read: Vec<Option<[u8; 32]>> = done.iter().map(|(_, _, digest)| *digest).collect();
        check_parts(&job.path, &parts, &read, expected).await?;
    }

    let urls: Vec<String> = done.iter().map(|(url, _, _)| url.clone()).collect();
    let identity = job.sha256.as_ref().map(|sha| format!("sha256:{sha}"));
    let url = client.concatenate(&urls, &pairs(&job.metadata, |_| true), identity.as_deref()).await?;
    record.created(&url).map_err(Error::Record)?;
    let offset = client.offset(&url).await?;
    record.acknowledged(offset).map_err(Error::Record)?;
    if offset != job.length {
        return Err(Error::Protocol {
            url,
            reason: format!("the joined upload has {offset} bytes, the file {}", job.length),
        });
    }
    Ok(Sent { url, resent: done.iter().map(|(_, resent, _)| resent).sum() })
}

/// Before the parts are joined: the file as it is now has the recorded SHA-256, and each
/// part's stretch of it is what that part read for sending.
async fn check_parts(path: &Path, parts: &[Part], read: &[Option<[u8; 32]>], expected: &str) -> Result<()> {
    let read_err = |source| Error::Read { path: path.to_path_buf(), source };
    let mut file = tokio::fs::File::open(path).await.map_err(read_err)?;
    let mut whole = Sha256::new();
    let mut same = true;
    for (part, sent) in parts.iter().zip(read) {
        let mut reading = Reading::default();
        let mut at = 0;
        while at < part.length {
            let piece = read_chunk(&mut file, part.start + at, (part.length - at).min(1 << 20)).await;
            let piece = piece.map_err(read_err)?;
            whole.update(&piece);
            reading.add(&piece);
            at += piece.len() as u64;
        }
        same &= *sent == Some(reading.digest_with(&[]));
    }
    let found = hex::encode(whole.finalize());
    if same && found == expected {
        return Ok(());
    }
    Err(Error::Changed { path: path.to_path_buf(), expected: expected.to_string(), found })
}

fn pairs(metadata: &[(String, String)], keep: impl Fn(&str) -> bool) -> Vec<(&str, &str)> {
    metadata.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Bytes `start..start + length` of a file, sent as one upload (whole or partial).
struct Stretch<'a> {
    path: &'a Path,
    start: u64,
    length: u64,
    partial: bool,
    /// The SHA-256 (hex) the whole stretch must have before the request that completes it.
    expected: Option<&'a str>,
    /// What the bytes are (see [`TusClient::create`]); when known, they are hashed as read.
    identity: Option<String>,
}

/// What the server confirmed about one upload, in its own offsets.
enum Note<'a> {
    Created(&'a str),
    Acknowledged(u64),
    Restarted(&'a str),
    /// About to send file bytes: an error means the caller parked this upload.
    Boundary,
}

fn boundary(record: &(impl Record + ?Sized)) -> std::result::Result<(), String> {
    if record.parked() {
        Err("parked".into())
    } else {
        Ok(())
    }
}

/// The SHA-256 of a stretch's first `at` bytes, as they were read for sending.
#[derive(Default)]
struct Reading {
    hasher: Sha256,
    at: u64,
}

impl Reading {
    /// Brings the hash to `offset`, reading from the file what lies between: bytes the
    /// server has from an earlier attempt, or that it skipped ahead to. If the server went
    /// back, the hash starts over.
    async fn catch_up(&mut self, file: &mut tokio::fs::File, start: u64, offset: u64) -> std::io::Result<()> {
        if offset < self.at {
            *self = Reading::default();
        }
        while self.at < offset {
            let len = (offset - self.at).min(1 << 20);
            let piece = read_chunk(file, start + self.at, len).await?;
            self.add(&piece);
        }
        Ok(())
    }

    fn add(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.at += bytes.len() as u64;
    }

    /// The digest so far, with `more` after it.
    fn digest_with(&self, more: &[u8]) -> [u8; 32] {
        let mut hasher = self.hasher.clone();
        hasher.update(more);
        hasher.finalize().into()
    }
}

/// Refuses to complete the stretch with `last` unless the bytes read, `last` included, have
/// the expected SHA-256.
fn check_before_completing(stretch: &Stretch<'_>, reading: &Reading, last: &[u8]) -> Result<()> {
    let Some(expected) = stretch.expected else { return Ok(()) };
    let found = hex::encode(reading.digest_with(last));
    if found == expected {
        return Ok(());
    }
    Err(Error::Changed { path: stretch.path.to_path_buf(), expected: expected.to_string(), found })
}

/// Sends one stretch to the end as one upload and returns its URL, the bytes resent, and,
/// for a part, the SHA-256 of the stretch as read for sending (when hashed).
async fn send_stretch(
    client: &TusClient,
    stretch: &Stretch<'_>,
    metadata: &[(&str, &str)],
    url: Option<String>,
    note: &mut (dyn FnMut(Note) -> std::result::Result<(), String> + Send),
) -> Result<(String, u64, Option<[u8; 32]>)> {
    let read_err = |source| Error::Read { path: stretch.path.to_path_buf(), source };
    let fail = Error::Record;
    let mut file = tokio::fs::File::open(stretch.path).await.map_err(read_err)?;
    let chunk_size = client.destination().chunk_size;
    let length = stretch.length;
    let mut reading = stretch.identity.as_ref().map(|_| Reading::default());

    let resumed = match url {
        Some(url) => match client.offset(&url).await {
            Ok(offset) => Some((url, offset)),
            Err(Error::Gone { status, .. }) => {
                note(Note::Restarted(&format!("{url} is gone ({status})"))).map_err(fail)?;
                None
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    let (url, mut offset) = match resumed {
        Some((url, offset)) => {
            // The server may be ahead of the record: a crash after its reply, before ours.
            note(Note::Acknowledged(offset)).map_err(fail)?;
            (url, offset)
        }
        None => {
            let first =
                read_chunk(&mut file, stretch.start, chunk_size.min(length)).await.map_err(read_err)?;
            if let (Some(reading), true) = (&reading, first.len() as u64 == length) {
                check_before_completing(stretch, reading, &first)?;
            }
            let identity = stretch.identity.as_deref();
            note(Note::Boundary).map_err(|_| Error::Parked)?;
            let created = if stretch.partial {
                client.create_partial(length, metadata, Some(first.clone()), identity).await?
            } else {
                client.create(length, metadata, Some(first.clone()), identity).await?
            };
            note(Note::Created(&created.url)).map_err(fail)?;
            if created.offset > 0 {
                note(Note::Acknowledged(created.offset)).map_err(fail)?;
            }
            if let Some(reading) = reading.as_mut().filter(|_| created.offset <= first.len() as u64) {
                reading.add(&first[..created.offset as usize]);
            }
            (created.url, created.offset)
        }
    };

    let mut resent = 0;
    let mut bad_checksums = 0;
    while offset < length {
        let len = chunk_size.min(length - offset);
        if let Some(reading) = reading.as_mut() {
            reading.catch_up(&mut file, stretch.start, offset).await.map_err(read_err)?;
        }
        let chunk = read_chunk(&mut file, stretch.start + offset, len).await.map_err(read_err)?;
        if let (Some(reading), true) = (&reading, offset + len == length) {
            check_before_completing(stretch, reading, &chunk)?;
        }
        note(Note::Boundary).map_err(|_| Error::Parked)?;
        match client.patch(&url, offset, chunk.clone()).await {
            Ok(server) => {
                if let Some(reading) = reading.as_mut().filter(|_| server == offset + len) {
                    reading.add(&chunk);
                }
                offset = server;
                bad_checksums = 0;
                note(Note::Acknowledged(offset)).map_err(fail)?;
            }
            // The server is elsewhere (another client, a lost reply): go on from there. A
            // 409 that leaves the offset where it was would loop; it ends the attempt.
            Err(Error::OffsetMismatch { server, url: u, sent }) if server == offset => {
                return Err(Error::OffsetMismatch { url: u, sent, server });
            }
            Err(Error::OffsetMismatch { server, .. }) => {
                resent += len;
                offset = server;
                note(Note::Acknowledged(offset)).map_err(fail)?;
            }
            Err(Error::ChecksumMismatch { .. }) if bad_checksums < CHECKSUM_RETRIES => {
                resent += len;
                bad_checksums += 1;
            }
            Err(e) => return Err(e),
        }
    }
    // Only a part's digest is used (checked against the file before the parts are joined);
    // a whole upload was checked before its completing request, so its file is not read
    // again here (it would be read whole when the server already had every byte).
    let digest = match reading.as_mut().filter(|_| stretch.partial) {
        Some(reading) => {
            reading.catch_up(&mut file, stretch.start, length).await.map_err(read_err)?;
            Some(reading.digest_with(&[]))
        }
        None => None,
    };
    Ok((url, resent, digest))
}

/// `len` bytes of the file at `offset`; a file that got shorter is an error.
async fn read_chunk(file: &mut tokio::fs::File, offset: u64, len: u64) -> std::io::Result<Bytes> {
    let mut buf = vec![0u8; len as usize];
    file.seek(SeekFrom::Start(offset)).await?;
    file.read_exact(&mut buf).await?;
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 14, defect 4): an empty original panicked here (`step_by(0)`).
    #[test]
    fn an_empty_file_plans_no_parts_and_others_plan_whole_chunks() {
        assert!(plan_parts(1000, 4, 0).is_empty());
        let parts = plan_parts(1000, 4, 5500);
        let spans: Vec<(u64, u64)> = parts.iter().map(|p| (p.start, p.length)).collect();
        assert_eq!(spans, vec![(0, 2000), (2000, 2000), (4000, 1500)]);
        assert_eq!(plan_parts(1000, 4, 10).len(), 1);
    }
}
