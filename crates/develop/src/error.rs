use std::path::PathBuf;

/// Everything that can go wrong developing one file. Each variant names the file (or the
/// preset) so that a batch can report it and carry on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: unsupported file type (not a camera RAW or JPEG)")]
    Unsupported { path: PathBuf },
    #[error("{path}: cannot decode: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Develop { path: PathBuf, reason: String },
    #[error("{path}: JPEG encoding failed: {reason}")]
    Encode { path: PathBuf, reason: String },
    #[error("develop backend: {reason}")]
    Backend { reason: String },
    #[error("preset {name}: {reason}")]
    Preset { name: String, reason: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// Runs `f`, turning a panic inside a third-party decoder or encoder into a message, so
/// that one malformed file is one failed asset rather than a crashed batch.
pub(crate) fn catch_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the decoder panicked".to_string())
    })
}
