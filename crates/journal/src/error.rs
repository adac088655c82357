use std::path::PathBuf;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("journal {}: {source}", path.display())]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("journal {}: schema version {found} is newer than this program's ({supported})", path.display())]
    TooNew { path: PathBuf, found: i64, supported: i64 },
    #[error(
        "journal {}: schema version {found} is older than this program's ({supported}); the next \
         `wedsync upload` brings it up to date", path.display()
    )]
    NotMigrated { path: PathBuf, found: i64, supported: i64 },
    #[error("no journal at {} yet: nothing has been uploaded from this home", path.display())]
    Missing { path: PathBuf },
    #[error("journal {} is in use by {owner}: wait for it to finish, or stop it, and try again", path.display())]
    InUse { path: PathBuf, owner: String },
    #[error("journal lock {}: {source}", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("journal migration {version}: {source}")]
    Migrate { version: i64, source: rusqlite::Error },
    #[error("{what} {id} is not in the journal")]
    NotFound { what: &'static str, id: i64 },
    #[error("upload {id}: cannot {action} an upload that is {state}")]
    Transition { id: i64, action: &'static str, state: String },
    #[error("journal: {0}")]
    Sql(#[from] rusqlite::Error),
}

impl Error {
    /// The journal itself could not be read or written (a full disk, a file gone, an I/O
    /// error), as opposed to a refused change: nothing more can be recorded, so the caller
    /// stops rather than retry.
    pub fn is_storage(&self) -> bool {
        matches!(self, Error::Open { .. } | Error::Lock { .. } | Error::Migrate { .. } | Error::Sql(_))
    }
}
