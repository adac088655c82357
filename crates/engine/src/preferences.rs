//! The settings a photographer changes in the app — where photos go, how many streams, the
//! bandwidth cap, the develop backend, the presets new files get — read from `config.toml`
//! and written back in place: comments, order and every other key are kept, so a studio's
//! hand-written file survives the settings screen. The token is not here: it is kept in the
//! OS keyring ([`crate::secrets`]), and one found in the file is moved there on save.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml_edit::{value, Array, DocumentMut, Item};
use wedsync_develop::BackendChoice;

use crate::config::Config;
use crate::error::{Error, Result};

/// The settings screen's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Preferences {
    /// The platform's tus endpoint (`https://…/files`); empty: none set yet.
    pub endpoint: String,
    /// Uploads sent at once.
    pub streams: u32,
    /// Bandwidth cap in Mbit/s; 0: none.
    pub limit_mbit: f64,
    /// `auto`, `cuda`, `wgpu` or `cpu`.
    pub backend: String,
}

/// What is wrong with a setting: the field (as named in [`Preferences`]) and what to do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SettingProblem {
    pub field: String,
    pub message: String,
}

const MAX_STREAMS: u32 = 32;

impl Preferences {
    /// The settings `config` holds, defaults where it is silent.
    pub fn of(config: &Config) -> Preferences {
        Preferences {
            endpoint: config.destination.as_ref().map(|d| d.endpoint.clone()).unwrap_or_default(),
            streams: config.upload.streams.unwrap_or(crate::transport::DEFAULT_STREAMS) as u32,
            limit_mbit: config.upload.limit_mbit.unwrap_or(0.0),
            backend: config.develop.backend.clone().unwrap_or_else(|| "auto".into()),
        }
    }

    /// Every field that cannot be saved, with what to change.
    pub fn check(&self) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| {
            problems.push(SettingProblem { field: field.into(), message });
        };
        if let Err(why) = check_endpoint(&self.endpoint) {
            problem("endpoint", why);
        }
        if !(1..=MAX_STREAMS).contains(&self.streams) {
            problem("streams", format!("between 1 and {MAX_STREAMS} uploads at once"));
        }
        if !self.limit_mbit.is_finite() || self.limit_mbit < 0.0 {
            problem("limit_mbit", "a number of Mbit/s, or 0 for no cap".into());
        }
        if let Err(why) = self.backend.parse::<BackendChoice>() {
            problem("backend", why.to_string());
        }
        problems
    }

    /// Writes these settings into the file at `path` (created if missing), keeping everything
    /// else in it but a plain-text token: it is kept in the keyring once settings are saved.
    pub fn write(&self, path: &Path) -> Result<()> {
        edit(path, |doc| {
            doc["destination"]["endpoint"] = value(self.endpoint.trim());
            if let Some(destination) = doc["destination"].as_table_like_mut() {
                destination.remove("token");
            }
            doc["upload"]["streams"] = value(i64::from(self.streams));
            doc["upload"]["limit_mbit"] = value(self.limit_mbit);
            doc["develop"]["backend"] = value(self.backend.as_str());
        })
    }
}

/// Records the presets new files get (`[watch] presets`), so the next start uses them.
pub fn write_presets(path: &Path, names: &[String]) -> Result<()> {
    edit(path, |doc| {
        doc["watch"]["presets"] = value(names.iter().collect::<Array>());
    })
}

fn check_endpoint(endpoint: &str) -> std::result::Result<(), String> {
    let endpoint = endpoint.trim();
    if endpoint.is_empty() {
        return Err("the platform's upload address, e.g. https://ingest.example/files".into());
    }
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .ok_or("starts with https:// (or http:// for a server on this network)")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || rest.contains(char::is_whitespace) {
        return Err(format!("{endpoint:?} is not an address: https://host/path, without spaces"));
    }
    Ok(())
}

/// Applies `change` to the TOML document at `path` and writes it back atomically, after
/// checking the result still reads as a configuration.
fn edit(path: &Path, change: impl FnOnce(&mut DocumentMut)) -> Result<()> {
    let config_error = |reason: String| Error::Config { path: path.to_path_buf(), reason };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(Error::Io { path: path.to_path_buf(), source }),
    };
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| config_error(e.to_string()))?;
    change(&mut doc);
    // Tables made by indexing are implicit until they hold a key; make them show.
    for (_, item) in doc.iter_mut() {
        if let Item::Table(table) = item {
            table.set_implicit(false);
        }
    }
    let text = doc.to_string();
    toml::from_str::<Config>(&text)
        .map_err(|e| config_error(format!("the settings would not read back: {e}")))?;
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(|source| Error::Io { path: folder.to_path_buf(), source })?;
    }
    let partial = path.with_extension("toml.partial");
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Preferences {
        Preferences {
            endpoint: "https://ingest.example/files".into(),
            streams: 6,
            limit_mbit: 20.0,
            backend: "cpu".into(),
        }
    }

    #[test]
    fn a_hand_written_file_keeps_its_comments_and_other_keys_and_loses_its_plain_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        let before = "# the studio's setup\n[destination]\nendpoint = \"http://old/files\"\ntoken = \"wst_plain\"\nchunk_mib = 4 # for the proxy\n\n[watch]\ncard_roots = [\"/media\"]\n";
        std::fs::write(&path, before).expect("write");
        settings().write(&path).expect("write settings");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.contains("# the studio's setup") && text.contains("chunk_mib = 4 # for the proxy"),
            "{text}"
        );
        assert!(!text.contains("wst_plain"), "the token moved to the keyring: {text}");
        let config = Config::load(&path).expect("reads back");
        assert_eq!(Preferences::of(&config), settings());
        assert_eq!(config.watch.card_roots, [std::path::PathBuf::from("/media")]);

        write_presets(&path, &["web".into(), "print".into()]).expect("presets");
        let config = Config::load(&path).expect("reads back");
        assert_eq!(config.watch.presets, ["web", "print"]);
        assert_eq!(Preferences::of(&config), settings(), "the rest unchanged");
    }

    #[test]
    fn a_fresh_home_gets_a_file_and_the_defaults_read_as_such() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("home").join("config.toml");
        let defaults = Preferences::of(&Config::default());
        assert_eq!(
            (defaults.endpoint.as_str(), defaults.streams, defaults.backend.as_str()),
            ("", 4, "auto")
        );
        settings().write(&path).expect("write");
        assert_eq!(Preferences::of(&Config::load(&path).expect("load")), settings());
    }

    #[test]
    fn each_bad_field_is_named_with_what_to_change() {
        assert!(settings().check().is_empty());
        let bad = Preferences {
            endpoint: "ingest.example/files".into(),
            streams: 0,
            limit_mbit: -1.0,
            backend: "metal".into(),
        };
        let fields: Vec<String> = bad.check().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["endpoint", "streams", "limit_mbit", "backend"]);
        for endpoint in ["", "https://", "https://a b/files"] {
            let problems = Preferences { endpoint: endpoint.into(), ..settings() }.check();
            assert_eq!(problems.len(), 1, "{endpoint:?}: {problems:?}");
        }
        assert!(Preferences { endpoint: "http://127.0.0.1:8080/files".into(), ..settings() }
            .check()
            .is_empty());
    }

    #[test]
    fn a_file_that_does_not_read_is_named_and_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[destination\n").expect("write");
        let err = settings().write(&path).expect_err("broken TOML").to_string();
        assert!(err.contains("config.toml"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "[destination\n");
    }
}
