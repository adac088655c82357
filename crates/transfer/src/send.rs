use std::io::SeekFrom;
use std::path::PathBuf;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::client::TusClient;
use crate::error::{Error, Result};

/// One file to send, and where the caller last recorded it standing.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub path: PathBuf,
    pub length: u64,
    pub metadata: Vec<(String, String)>,
    /// The upload URL from an earlier attempt, if there was one.
    pub url: Option<String>,
}

/// Where the caller keeps what the server acknowledged (the journal). Each call happens
/// after the server confirmed the fact and before the next request, so after a crash at
/// most the chunk in flight is sent again. An error stops the upload.
pub trait Record {
    fn created(&mut self, url: &str) -> std::result::Result<(), String>;
    fn acknowledged(&mut self, offset: u64) -> std::result::Result<(), String>;
    /// The earlier upload URL is gone (expired, deleted); a new one is being made.
    fn restarted(&mut self, reason: &str) -> std::result::Result<(), String>;
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

/// Sends `job` to the end: resumes from the server's offset when the job has a URL
/// (re-creating the upload if that URL is gone), otherwise creates one, then PATCHes
/// chunk by chunk. Network errors and refusals end the attempt; the scheduler retries,
/// and the next attempt resumes where the server says.
pub async fn send(client: &TusClient, job: &Job, record: &mut impl Record) -> Result<Sent> {
    let read_err = |source| Error::Read { path: job.path.clone(), source };
    let fail = Error::Record;
    let mut file = tokio::fs::File::open(&job.path).await.map_err(read_err)?;
    let chunk_size = client.destination().chunk_size;

    let resumed = match &job.url {
        Some(url) => match client.offset(url).await {
            Ok(offset) => Some((url.clone(), offset)),
            Err(Error::Gone { status, .. }) => {
                record.restarted(&format!("{url} is gone ({status})")).map_err(fail)?;
                None
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    let (url, mut offset) = match resumed {
        Some((url, offset)) => {
            // The server may be ahead of the record: a crash after its reply, before ours.
            record.acknowledged(offset).map_err(fail)?;
            (url, offset)
        }
        None => {
            let first = read_chunk(&mut file, 0, chunk_size.min(job.length)).await.map_err(read_err)?;
            let pairs: Vec<(&str, &str)> =
                job.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let created = client.create(job.length, &pairs, Some(first)).await?;
            record.created(&created.url).map_err(fail)?;
            if created.offset > 0 {
                record.acknowledged(created.offset).map_err(fail)?;
            }
            (created.url, created.offset)
        }
    };

    let mut resent = 0;
    let mut bad_checksums = 0;
    while offset < job.length {
        let len = chunk_size.min(job.length - offset);
        let chunk = read_chunk(&mut file, offset, len).await.map_err(read_err)?;
        match client.patch(&url, offset, chunk).await {
            Ok(server) => {
                offset = server;
                bad_checksums = 0;
                record.acknowledged(offset).map_err(fail)?;
            }
            // The server is elsewhere (another client, a lost reply): go on from there. A
            // 409 that leaves the offset where it was would loop; it ends the attempt.
            Err(Error::OffsetMismatch { server, url: u, sent }) if server == offset => {
                return Err(Error::OffsetMismatch { url: u, sent, server });
            }
            Err(Error::OffsetMismatch { server, .. }) => {
                resent += len;
                offset = server;
                record.acknowledged(offset).map_err(fail)?;
            }
            Err(Error::ChecksumMismatch { .. }) if bad_checksums < CHECKSUM_RETRIES => {
                resent += len;
                bad_checksums += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Sent { url, resent })
}

/// `len` bytes of the file at `offset`; a file that got shorter is an error.
async fn read_chunk(file: &mut tokio::fs::File, offset: u64, len: u64) -> std::io::Result<Bytes> {
    let mut buf = vec![0u8; len as usize];
    file.seek(SeekFrom::Start(offset)).await?;
    file.read_exact(&mut buf).await?;
    Ok(Bytes::from(buf))
}
