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
    /// The server kept every byte but found them not to be the declared content (422,
    /// quarantined): send good bytes to a new upload.
    #[error("{url}: the server quarantined the upload: its bytes did not match the declared SHA-256")]
    Quarantined { url: String },
    /// The file's bytes are not the ones recorded (it changed after it was hashed, or a
    /// cached rendition was damaged): nothing of it was completed on the server.
    #[error("{}: its bytes changed since they were recorded (SHA-256 {found}, recorded {expected})", path.display())]
    Changed { path: std::path::PathBuf, expected: String, found: String },
    /// The caller could not record progress (the journal); nothing more is sent.
    #[error("recording progress: {0}")]
    Record(String),
    /// The uploads were stopped (the host is shutting down): the file stays where the
    /// server has it, for the next run. Not a failure of the file.
    #[error("stopped at a chunk boundary: the uploads were stopped")]
    Parked,
    /// A bug: sending this file panicked. The upload fails; the others go on.
    #[error("sending panicked: {0}")]
    Panicked(String),
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
            Error::Gone { .. }
            | Error::Quarantined { .. }
            | Error::Changed { .. }
            | Error::Protocol { .. }
            | Error::Read { .. }
            | Error::Parked
            | Error::Record(_)
            | Error::Panicked(_) => false,
        }
    }
}
