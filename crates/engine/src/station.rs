//! A station's sources: the tethering and hot folders and the card roots that
//! `config.toml` (`[watch]`, `[[sources]]`) and a host's own settings name, each with its
//! rules. `wedsync watch` adds its flags on top; the app starts the configuration's as they
//! are. One place, so a station and the app take the same files the same way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use wedsync_develop::{Preset, PresetSet};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::kinds::Files;
use crate::rename::Template;
use crate::service::sources::{Source, SourceKind};
use crate::service::work::Rules;
use crate::settle::Settle;
use crate::volumes::Safety;
use crate::Home;

/// Seconds a file must hold still before it is taken, unless configured.
const DEFAULT_SETTLE_SECONDS: f64 = 3.0;
/// Seconds after which a file still being written is reported, unless given.
pub const DEFAULT_UNSETTLED_AFTER_SECONDS: f64 = 600.0;

/// What a host sets over `[watch]`. Lists add to the configuration's; a value set here
/// wins over the configuration's; unset, the configuration's, else the default.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub sources: Vec<PathBuf>,
    pub card_roots: Vec<PathBuf>,
    /// Presets in order, replacing `[watch] presets`; `none` for originals only.
    pub presets: Vec<String>,
    pub originals: bool,
    pub backups: Vec<PathBuf>,
    pub settle_seconds: Option<f64>,
    pub safe: Option<Safety>,
    pub files: Option<Files>,
    pub videos: bool,
    pub min_rating: Option<i64>,
    pub rename: Option<String>,
    pub unsettled_after_seconds: Option<f64>,
}

/// The default rules (for a dropped gallery too) and every source to watch.
pub struct Station {
    pub rules: Rules,
    pub sources: Vec<Source>,
}

impl Station {
    /// Reads the sources from `config` (loaded from `home`'s `config.toml`) with `given`
    /// on top. A bad rename template or an unknown preset is an error naming where it was
    /// written, before anything is watched.
    pub fn assemble(
        home: &Home,
        config: &Config,
        given: &Overrides,
        presets_dir: Option<&Path>,
    ) -> Result<Station> {
        let w = &config.watch;
        let config_path = home.config();
        let names = match (given.presets.is_empty(), w.presets.is_empty()) {
            (false, _) => given.presets.clone(),
            (true, false) => w.presets.clone(),
            (true, true) => vec!["web".to_string()],
        };
        let originals = given.originals || w.originals.unwrap_or(false);
        let all = PresetSet::load(presets_dir).map_err(|e| crate::presets::folder_error(presets_dir, &e))?;
        let rules = Rules {
            presets: named(&all, &names, originals).map_err(|reason| Error::Config {
                path: config_path.clone(),
                reason: format!("[watch] presets: {reason}"),
            })?,
            originals,
            backups: given.backups.iter().chain(&w.backups).cloned().collect(),
            files: given.files.or(w.files).unwrap_or_default(),
            videos: given.videos || w.videos.unwrap_or(false),
            min_rating: given.min_rating.or(w.min_rating).unwrap_or(0),
            rename: template(given.rename.as_ref().or(w.rename.as_ref()), &config_path, "[watch] rename")?,
            clock_offset: w.clock_offset_seconds.unwrap_or(0),
            safe: given.safe.or(w.safe).unwrap_or_default(),
        };
        let settle = Settle {
            quiet: seconds(given.settle_seconds.or(w.settle_seconds).unwrap_or(DEFAULT_SETTLE_SECONDS)),
            give_up: seconds(given.unsettled_after_seconds.unwrap_or(DEFAULT_UNSETTLED_AFTER_SECONDS)),
        };
        let mut sources = Vec::new();
        for (i, path) in given.sources.iter().chain(&w.sources).enumerate() {
            let kind = SourceKind::Folder { path: path.clone(), poll: false, settle };
            sources.push(Source {
                name: format!("folder-{}", i + 1),
                kind,
                rules: rules.clone(),
                enabled: true,
            });
        }
        for s in &config.sources {
            let whose = format!("[[sources]] {:?}", s.name);
            let originals = s.originals.unwrap_or(originals);
            let rules = Rules {
                presets: match &s.presets {
                    Some(names) => named(&all, names, originals).map_err(|reason| Error::Config {
                        path: config_path.clone(),
                        reason: format!("{whose} presets: {reason}"),
                    })?,
                    None => rules.presets.clone(),
                },
                originals,
                backups: s.backups.clone().unwrap_or_else(|| rules.backups.clone()),
                files: s.files.unwrap_or(rules.files),
                videos: s.videos.unwrap_or(rules.videos),
                min_rating: s.min_rating.unwrap_or(rules.min_rating),
                rename: match &s.rename {
                    Some(_) => template(s.rename.as_ref(), &config_path, &format!("{whose} rename"))?,
                    None => rules.rename.clone(),
                },
                clock_offset: s.clock_offset_seconds.unwrap_or(rules.clock_offset),
                safe: rules.safe,
            };
            let settle = Settle { quiet: s.settle_seconds.map_or(settle.quiet, seconds), ..settle };
            let kind = SourceKind::Folder { path: s.path.clone(), poll: s.poll, settle };
            sources.push(Source { name: s.name.clone(), kind, rules, enabled: true });
        }
        let mut roots: Vec<PathBuf> = given.card_roots.iter().chain(&w.card_roots).cloned().collect();
        if roots.is_empty() {
            roots = crate::volumes::default_card_roots();
        }
        sources.push(Source {
            name: "cards".into(),
            kind: SourceKind::Cards { roots },
            rules: rules.clone(),
            enabled: true,
        });
        Ok(Station { rules, sources })
    }
}

/// The presets `names` asks for, in order, from `all`; `none` alone means originals only.
pub fn named(all: &PresetSet, names: &[String], originals: bool) -> std::result::Result<Vec<Preset>, String> {
    let presets = if names.iter().any(|p| p == "none") {
        Vec::new()
    } else {
        names
            .iter()
            .map(|name| all.get(name).cloned())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?
    };
    if presets.is_empty() && !originals {
        return Err("nothing to send: preset none without originals".into());
    }
    Ok(presets)
}

fn template(text: Option<&String>, config: &Path, whose: &str) -> Result<Option<Template>> {
    text.map(|t| {
        Template::parse(t).map_err(|e| Error::Config {
            path: config.to_path_buf(),
            reason: format!("{whose}: rename template {t:?}: {e}"),
        })
    })
    .transpose()
}

fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        toml::from_str(text).expect("config")
    }

    #[test]
    fn the_configuration_names_every_source_with_its_rules() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path().to_path_buf()).expect("home");
        let config = config(
            "[watch]\nsources = [\"/srv/tether\"]\ncard_roots = [\"/media\"]\nmin_rating = 2\n\
             [[sources]]\nname = \"second\"\npath = \"/srv/two\"\npresets = [\"web\", \"full\"]\nmin_rating = 4\n",
        );
        let station = Station::assemble(&home, &config, &Overrides::default(), None).expect("station");
        let names: Vec<&str> = station.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["folder-1", "second", "cards"]);
        assert_eq!(station.sources[0].rules.min_rating, 2);
        assert_eq!(station.sources[1].rules.min_rating, 4);
        let presets: Vec<&str> = station.sources[1].rules.presets.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(presets, ["web", "full"]);
        match &station.sources[2].kind {
            SourceKind::Cards { roots } => assert_eq!(roots, &[PathBuf::from("/media")]),
            other => panic!("cards expected, got {other:?}"),
        }
    }

    #[test]
    fn a_host_adds_folders_and_replaces_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path().to_path_buf()).expect("home");
        let config = config("[watch]\nsources = [\"/srv/tether\"]\nmin_rating = 2\n");
        let given = Overrides { sources: vec!["/a".into()], min_rating: Some(5), ..Overrides::default() };
        let station = Station::assemble(&home, &config, &given, None).expect("station");
        assert_eq!(station.sources.len(), 3, "two folders and the cards");
        assert!(station.sources.iter().all(|s| s.rules.min_rating == 5));
    }

    #[test]
    fn a_bad_template_or_preset_names_where_it_was_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path().to_path_buf()).expect("home");
        let bad = config("[[sources]]\nname = \"t\"\npath = \"/t\"\nrename = \"{nope}\"\n");
        let e =
            Station::assemble(&home, &bad, &Overrides::default(), None).err().expect("refused").to_string();
        assert!(e.contains("config.toml") && e.contains("[[sources]] \"t\" rename"), "{e}");
        let unknown = config("[watch]\npresets = [\"nope\"]\n");
        let e = Station::assemble(&home, &unknown, &Overrides::default(), None)
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("[watch] presets") && e.contains("nope"), "{e}");
    }
}
