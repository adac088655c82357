use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use futures_util::future::try_join_all;
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
/// the server then joins, when it offers concatenation and the destination allows parts;
/// otherwise as one upload: resumed from the server's offset when the job has a URL
/// (re-created if that URL is gone), else created, then PATCHed chunk by chunk. Network
/// errors and refusals end the attempt; the scheduler retries, and the next attempt resumes
/// where the server says.
pub async fn send<R: Record + Send>(client: &TusClient, job: &Job, record: &mut R) -> Result<Sent> {
    if job.url.is_none() && client.capabilities().has("concatenation") {
        let parts = if job.parts.is_empty() { plan_parts(client, job.length) } else { job.parts.clone() };
        if parts.len() > 1 {
            return send_parts(client, job, parts, record).await;
        }
    }
    let metadata = pairs(&job.metadata, |_| true);
    let whole = Stretch { path: &job.path, start: 0, length: job.length, partial: false };
    let (url, resent) = send_stretch(client, &whole, &metadata, job.url.clone(), &mut |note| match note {
        Note::Created(url) => record.created(url),
        Note::Acknowledged(offset) => record.acknowledged(offset),
        Note::Restarted(reason) => record.restarted(reason),
    })
    .await?;
    Ok(Sent { url, resent })
}

/// Up to `destination.parts` parts of whole chunks, as equal as chunks allow.
fn plan_parts(client: &TusClient, length: u64) -> Vec<Part> {
    let chunk = client.destination().chunk_size;
    let chunks = length.div_ceil(chunk);
    let wanted = (client.destination().parts as u64).clamp(1, chunks.max(1));
    let per_part = chunks.div_ceil(wanted) * chunk;
    (0..length)
        .step_by(per_part as usize)
        .map(|start| Part { start, length: per_part.min(length - start), url: None })
        .collect()
}

/// The parts at once, each resumed or created on its own; then the final upload.
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
            }
        }
    };
    let sends = parts.iter().enumerate().map(|(index, part)| {
        let stretch = Stretch { path: &job.path, start: part.start, length: part.length, partial: true };
        let mut note = note(index);
        let part_metadata = &part_metadata;
        async move { send_stretch(client, &stretch, part_metadata, part.url.clone(), &mut note).await }
    });
    let done = try_join_all(sends).await?;
    let record = shared.into_inner().map_err(|_| Error::Record("the record lock was poisoned".into()))?;

    let urls: Vec<String> = done.iter().map(|(url, _)| url.clone()).collect();
    let url = client.concatenate(&urls, &pairs(&job.metadata, |_| true)).await?;
    record.created(&url).map_err(Error::Record)?;
    let offset = client.offset(&url).await?;
    record.acknowledged(offset).map_err(Error::Record)?;
    if offset != job.length {
        return Err(Error::Protocol {
            url,
            reason: format!("the joined upload has {offset} bytes, the file {}", job.length),
        });
    }
    Ok(Sent { url, resent: done.iter().map(|(_, resent)| resent).sum() })
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
}

/// What the server confirmed about one upload, in its own offsets.
enum Note<'a> {
    Created(&'a str),
    Acknowledged(u64),
    Restarted(&'a str),
}

/// Sends one stretch to the end as one upload and returns its URL and the bytes resent.
async fn send_stretch(
    client: &TusClient,
    stretch: &Stretch<'_>,
    metadata: &[(&str, &str)],
    url: Option<String>,
    note: &mut (dyn FnMut(Note) -> std::result::Result<(), String> + Send),
) -> Result<(String, u64)> {
    let read_err = |source| Error::Read { path: stretch.path.to_path_buf(), source };
    let fail = Error::Record;
    let mut file = tokio::fs::File::open(stretch.path).await.map_err(read_err)?;
    let chunk_size = client.destination().chunk_size;
    let length = stretch.length;

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
            let created = if stretch.partial {
                client.create_partial(length, metadata, Some(first)).await?
            } else {
                client.create(length, metadata, Some(first)).await?
            };
            note(Note::Created(&created.url)).map_err(fail)?;
            if created.offset > 0 {
                note(Note::Acknowledged(created.offset)).map_err(fail)?;
            }
            (created.url, created.offset)
        }
    };

    let mut resent = 0;
    let mut bad_checksums = 0;
    while offset < length {
        let len = chunk_size.min(length - offset);
        let chunk = read_chunk(&mut file, stretch.start + offset, len).await.map_err(read_err)?;
        match client.patch(&url, offset, chunk).await {
            Ok(server) => {
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
    Ok((url, resent))
}

/// `len` bytes of the file at `offset`; a file that got shorter is an error.
async fn read_chunk(file: &mut tokio::fs::File, offset: u64, len: u64) -> std::io::Result<Bytes> {
    let mut buf = vec![0u8; len as usize];
    file.seek(SeekFrom::Start(offset)).await?;
    file.read_exact(&mut buf).await?;
    Ok(Bytes::from(buf))
}
