use std::path::PathBuf;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("journal: {0}")]
    Journal(#[from] wedsync_journal::Error),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {reason}", path.display())]
    Config { path: PathBuf, reason: String },
    #[error("{0}")]
    Transfer(#[from] wedsync_transfer::Error),
    #[error("{}: an empty file (0 bytes), not a photo: nothing to develop or send", path.display())]
    Empty { path: PathBuf },
    #[error("{}: still being written (it changed while it was read): run again once it is complete", path.display())]
    StillWriting { path: PathBuf },
    #[error("backing up to {}: {source}", folder.display())]
    Backup { folder: PathBuf, source: std::io::Error },
    #[error("source {name:?}: {reason}")]
    Source { name: String, reason: String },
    #[error("the journal lock was poisoned by a panic")]
    Poisoned,
    #[error("{0}")]
    Secrets(String),
    #[error("{}: the disk is full", folder.display())]
    DiskFull { folder: PathBuf },
    #[error("{0}")]
    Task(String),
}

impl Error {
    /// A read failed because the file's card (or the file) went away: it waits for its
    /// card, it has not failed (see [`crate::volumes::is_gone`]).
    pub fn is_gone(&self) -> bool {
        matches!(self, Error::Io { source, .. } | Error::Backup { source, .. } if crate::volumes::is_gone(source))
    }
}
