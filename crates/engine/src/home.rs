use std::path::PathBuf;

use crate::error::{Error, Result};

/// Where the journal, the rendition cache and the configuration live: `$WEDSYNC_HOME`, else
/// the platform's application-data folder (`~/.local/share/wedsync`, `%APPDATA%\wedsync`,
/// `~/Library/Application Support/wedsync`).
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    pub fn from_env() -> Result<Home> {
        let root = match std::env::var_os("WEDSYNC_HOME") {
            Some(home) => PathBuf::from(home),
            None => dirs::data_dir().map(|d| d.join("wedsync")).ok_or_else(|| Error::Config {
                path: PathBuf::from("WEDSYNC_HOME"),
                reason: "no application-data folder on this system; set WEDSYNC_HOME".into(),
            })?,
        };
        Home::at(root)
    }

    /// Where the studio's presets live: `$WEDSYNC_HOME/presets`, else the platform's
    /// configuration folder (`~/.config/wedsync/presets`, …), where admins keep them.
    pub fn presets_dir() -> Option<PathBuf> {
        match std::env::var_os("WEDSYNC_HOME") {
            Some(home) => Some(PathBuf::from(home).join("presets")),
            None => dirs::config_dir().map(|d| d.join("wedsync").join("presets")),
        }
    }

    /// `root`, created if missing.
    pub fn at(root: PathBuf) -> Result<Home> {
        std::fs::create_dir_all(root.join("cache"))
            .map_err(|source| Error::Io { path: root.clone(), source })?;
        Ok(Home { root })
    }

    pub fn journal(&self) -> PathBuf {
        self.root.join("journal.sqlite")
    }

    /// Developed renditions, named by the SHA-256 of their bytes.
    pub fn cache(&self) -> PathBuf {
        self.root.join("cache")
    }

    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// The embedded reference server's data, when no destination is configured.
    pub fn local_server(&self) -> PathBuf {
        self.root.join("local-server")
    }
}
