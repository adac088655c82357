pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong with one request, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No response (connection refused or reset, timeout): retry later, re-HEAD first.
    #[error("{method} {url}: {source}")]
    Network { method: &'static str, url: String, source: reqwest::Error },
    /// The request made no progress for the stall timeout (no body bytes taken, or no reply):
    /// it was cut; resume from the server's offset.
    #[error("{method} {url}: no progress for {after:?}, cut")]
    Stalled { method: &'static str, url: String, after: std::time::Duration },
    /// The upload is gone (404, 410): create it again.
    #[error("{url}: the upload is gone ({status})")]
    Gone { url: String, status: u16 },
    /// The server is at another offset than the request assumed (409): HEAD and resume.
    #[error("{url}: the server is at offset {server}, not {sent}")]
    OffsetMismatch { url: String, sent: u64, server: u64 },
    /// The chunk arrived damaged (460) and was discarded: send it again.
    #[error("{url}: the server's checksum of the chunk at {offset} did not match")]
    ChecksumMismatch { url: String, offset: u64 },
    /// Any other refusal, with the status and the start of the body.
    #[error("{method} {url}: {status} {body}")]
    Status { method: &'static str, url: String, status: u16, body: String },
    /// The server answered, but not as the protocol says.
    #[error("{url}: {reason}")]
    Protocol { url: String, reason: String },
    /// The file being sent could not be read (gone, shorter than it was).
    #[error("reading {}: {source}", path.display())]
    Read { path: std::path::PathBuf, source: std::io::Error },
    /// The caller could not record progress (the journal); nothing more is sent.
    #[error("recording progress: {0}")]
    Record(String),
}

impl Error {
    /// Worth trying again as it is (after a pause): network trouble, 5xx, 423, 429.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Network { .. }
            | Error::Stalled { .. }
            | Error::ChecksumMismatch { .. }
            | Error::OffsetMismatch { .. } => true,
            Error::Status { status, .. } => *status >= 500 || *status == 423 || *status == 429,
            Error::Gone { .. } | Error::Protocol { .. } | Error::Read { .. } | Error::Record(_) => false,
        }
    }
}
