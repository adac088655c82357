use std::path::PathBuf;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("journal {}: {source}", path.display())]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("journal {}: schema version {found} is newer than this program's ({supported})", path.display())]
    TooNew { path: PathBuf, found: i64, supported: i64 },
    #[error("journal migration {version}: {source}")]
    Migrate { version: i64, source: rusqlite::Error },
    #[error("{what} {id} is not in the journal")]
    NotFound { what: &'static str, id: i64 },
    #[error("upload {id}: cannot {action} an upload that is {state}")]
    Transition { id: i64, action: &'static str, state: String },
    #[error("journal: {0}")]
    Sql(#[from] rusqlite::Error),
}
