use std::path::{Path, PathBuf};

use serde::Deserialize;
use wedsync_develop::{BackendChoice, BackendOptions};

use crate::error::{Error, Result};

/// `config.toml` in the home folder. Every field is optional:
///
/// ```toml
/// [destination]
/// endpoint = "https://ingest.example/files"
/// token = "wst_…"
/// chunk_mib = 8          # bytes per PATCH, in MiB
/// parts = 4              # partial uploads of one large file at once (concatenation); 1 = off
///
/// [upload]
/// streams = 4
/// adaptive = false
/// limit_mbit = 0         # bandwidth cap in Mbit/s; 0 = none
///
/// [develop]
/// backend = "auto"       # auto | cuda | wgpu | cpu
/// software_gpu = false   # let auto use a software wgpu adapter (lavapipe)
///
/// [watch]                # wedsync watch: each list adds to the command line's
/// sources = ["/srv/tether"]   # --source
/// card_roots = ["/media"]     # --card-root
/// presets = ["web"]           # --preset
/// originals = true            # --originals
/// backups = ["/mnt/backup"]   # --backup
/// settle_seconds = 3          # how long a file must hold still
/// files = "all"               # --files: raw | raw+jpeg | all
/// videos = false              # --videos
/// min_rating = 0              # --min-rating
/// rename = "{date}_{time}_{seq}"   # --rename
/// clock_offset_seconds = 0
/// safe = "server"             # --safe: server | backups | both
///
/// [[sources]]            # a watched folder with rules of its own
/// name = "tether"
/// path = "/srv/tether"
/// presets = ["web", "print"]
/// originals = false
/// backups = []
/// poll = false           # a network share: poll instead of change events
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub destination: Option<DestinationConfig>,
    #[serde(default)]
    pub upload: UploadConfig,
    #[serde(default)]
    pub develop: DevelopConfig,
    #[serde(default)]
    pub watch: WatchConfig,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    #[serde(default)]
    pub sources: Vec<PathBuf>,
    #[serde(default)]
    pub card_roots: Vec<PathBuf>,
    #[serde(default)]
    pub presets: Vec<String>,
    pub originals: Option<bool>,
    #[serde(default)]
    pub backups: Vec<PathBuf>,
    pub settle_seconds: Option<f64>,
    /// Which photos: "raw", "raw+jpeg" or "all".
    pub files: Option<crate::kinds::Files>,
    pub videos: Option<bool>,
    pub min_rating: Option<i64>,
    pub rename: Option<String>,
    pub clock_offset_seconds: Option<i64>,
    /// What makes a card's file safe to format: "server", "backups" or "both".
    pub safe: Option<crate::volumes::Safety>,
}

/// A watched folder with rules of its own; unset rules are the `[watch]` ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    pub path: PathBuf,
    pub presets: Option<Vec<String>>,
    pub originals: Option<bool>,
    pub backups: Option<Vec<PathBuf>>,
    #[serde(default)]
    pub poll: bool,
    pub settle_seconds: Option<f64>,
    /// Which photos: "raw", "raw+jpeg" or "all".
    pub files: Option<crate::kinds::Files>,
    /// Also take videos.
    pub videos: Option<bool>,
    /// Files rated below this (XMP sidecar, else the file's own rating) are not taken.
    pub min_rating: Option<i64>,
    /// Uploaded names, e.g. "{date}_{time}_{camera}_{seq}" (see `rename`).
    pub rename: Option<String>,
    /// Seconds added to this body's capture times (its clock is off).
    pub clock_offset_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevelopConfig {
    pub backend: Option<String>,
    pub software_gpu: Option<bool>,
}

impl DevelopConfig {
    /// Where to develop: `choice` (a host's flag or setting), else `[develop] backend`,
    /// else auto; software adapters when either asks. Kernels are cached under `home`.
    pub fn options(
        &self,
        config: &Path,
        home: Option<&crate::Home>,
        choice: Option<BackendChoice>,
        software_gpu: bool,
    ) -> Result<BackendOptions> {
        let configured =
            self.backend.as_deref().map(str::parse::<BackendChoice>).transpose().map_err(|e| {
                Error::Config { path: config.to_path_buf(), reason: format!("[develop] backend: {e}") }
            })?;
        Ok(BackendOptions {
            choice: choice.or(configured).unwrap_or_default(),
            software_adapters: software_gpu || self.software_gpu.unwrap_or(false),
            kernel_cache: home.map(|h| h.cache().join("kernels")),
            survey: false,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    pub endpoint: String,
    pub token: Option<String>,
    pub chunk_mib: Option<f64>,
    pub parts: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadConfig {
    pub streams: Option<usize>,
    pub adaptive: Option<bool>,
    pub limit_mbit: Option<f64>,
}

impl Config {
    /// The configuration at `path`; a missing file is the empty configuration.
    pub fn load(path: &Path) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => return Err(Error::Io { path: path.to_path_buf(), source }),
        };
        toml::from_str(&text).map_err(|e| Error::Config { path: path.to_path_buf(), reason: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_empty_and_a_bad_one_names_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        assert!(Config::load(&path).expect("missing is fine").destination.is_none());
        std::fs::write(&path, "[destination]\nendpoint = \"http://x/files\"\nchunk_mib = 8\n")
            .expect("write");
        let config = Config::load(&path).expect("valid");
        assert_eq!(config.destination.expect("destination").chunk_mib, Some(8.0));
        std::fs::write(&path, "[destination]\nendpont = \"typo\"\n").expect("write");
        let err = Config::load(&path).expect_err("unknown key").to_string();
        assert!(err.contains("config.toml") && err.contains("endpont"), "{err}");
        std::fs::write(
            &path,
            "[watch]\nsources = [\"/t\"]\n\n[[sources]]\nname = \"tether\"\npath = \"/srv/t\"\npoll = true\n",
        )
        .expect("write");
        let config = Config::load(&path).expect("valid");
        assert_eq!(config.watch.sources, [PathBuf::from("/t")]);
        assert_eq!((config.sources[0].name.as_str(), config.sources[0].poll), ("tether", true));
    }
}
