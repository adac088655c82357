//! Quality presets: what a rendition is (size, quality, subsampling, metadata, effort).
//! Six are built in; studio admins add TOML files, which may also replace a built-in.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::look::LookChoice;
use crate::metadata::MetadataPolicy;

#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub name: String,
    pub size: Size,
    pub quality: Quality,
    pub subsampling: Subsampling,
    pub metadata: MetadataPolicy,
    pub effort: Effort,
    /// The camera's look (default) or neutral.
    pub look: LookChoice,
    /// Exposure compensation in stops, applied before the look's curve.
    pub exposure_ev: f32,
}

/// The exposure compensation a preset may ask for, in stops.
pub const EXPOSURE_RANGE: std::ops::RangeInclusive<f32> = -5.0..=5.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Full,
    /// Longer side in pixels; smaller images are not enlarged.
    LongEdge(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quality {
    /// The smallest file whose SSIMULACRA2 score is at least this (90 ≈ visually lossless,
    /// 80 very high, 70 high).
    Target(f64),
    /// A fixed libjpeg quality, 1..=100.
    Fixed(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Subsampling {
    #[serde(rename = "4:4:4")]
    S444,
    #[serde(rename = "4:2:2")]
    S422,
    #[serde(rename = "4:2:0")]
    S420,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effort {
    /// libjpeg-turbo's settings: several times faster to encode.
    Fast,
    /// mozjpeg's trellis quantisation and progressive scans: 10–20 % smaller files.
    Small,
}

/// The TOML form. Exactly one of `target_score` and `jpeg_quality`; no `long_edge` means
/// full size.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    long_edge: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jpeg_quality: Option<u8>,
    #[serde(default = "default_subsampling")]
    subsampling: Subsampling,
    #[serde(default)]
    metadata: MetadataPolicy,
    #[serde(default = "default_effort")]
    effort: Effort,
    #[serde(default, skip_serializing_if = "is_camera")]
    look: LookChoice,
    #[serde(default, skip_serializing_if = "is_zero")]
    exposure_ev: f32,
}

fn is_camera(look: &LookChoice) -> bool {
    *look == LookChoice::Camera
}

fn is_zero(ev: &f32) -> bool {
    *ev == 0.0
}

fn default_subsampling() -> Subsampling {
    Subsampling::S420
}

fn default_effort() -> Effort {
    Effort::Small
}

const BUILT_IN: &str = r#"
[[preset]]
name = "full"
jpeg_quality = 92
subsampling = "4:4:4"
effort = "fast"

[[preset]]
name = "gallery"
long_edge = 3000
target_score = 80

# The preview that goes up first, from every frame: the fast encoder costs a tenth of the
# CPU of trellis for files ~12 % larger at the same score (measured on the CR2).
[[preset]]
name = "web"
long_edge = 2048
target_score = 75
effort = "fast"

[[preset]]
name = "social"
long_edge = 1080
target_score = 70
metadata = "drop-gps"

[[preset]]
name = "thumb"
long_edge = 400
target_score = 65
metadata = "drop-all"
"#;

impl Preset {
    /// Parses one preset file's text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Preset> {
        let file: PresetFile = toml::from_str(text).map_err(|e| Error::Preset {
            name: origin.to_string(),
            reason: e.message().to_string() + &field_hint(&e),
        })?;
        file.validate()
    }

    /// The preset as a studio's TOML file says it; [`Preset::from_toml`] reads it back
    /// to the same preset.
    pub fn to_toml(&self) -> String {
        let (target_score, jpeg_quality) = match self.quality {
            Quality::Target(t) => (Some(t), None),
            Quality::Fixed(q) => (None, Some(q)),
        };
        let file = PresetFile {
            name: self.name.clone(),
            long_edge: self.long_edge(),
            target_score,
            jpeg_quality,
            subsampling: self.subsampling,
            metadata: self.metadata,
            effort: self.effort,
            look: self.look,
            exposure_ev: self.exposure_ev,
        };
        // Plain strings, numbers and enums of unit variants: serialising cannot fail.
        toml::to_string(&file).unwrap_or_default()
    }

    pub fn long_edge(&self) -> Option<usize> {
        match self.size {
            Size::Full => None,
            Size::LongEdge(edge) => Some(edge),
        }
    }
}

fn field_hint(e: &toml::de::Error) -> String {
    e.span().map(|s| format!(" (at byte {})", s.start)).unwrap_or_default()
}

impl PresetFile {
    fn validate(self) -> Result<Preset> {
        let fail = |reason: String| Error::Preset { name: self.name.clone(), reason };
        let valid_name = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid_name {
            return Err(fail("name: use 1–64 characters from a–z, 0–9, '-' and '_'".into()));
        }
        let size = match self.long_edge {
            None => Size::Full,
            Some(edge) if (16..=65_000).contains(&edge) => Size::LongEdge(edge),
            Some(edge) => return Err(fail(format!("long_edge: {edge} is outside 16..=65000"))),
        };
        let quality = match (self.target_score, self.jpeg_quality) {
            (Some(t), None) if (30.0..=100.0).contains(&t) => Quality::Target(t),
            (Some(t), None) => return Err(fail(format!("target_score: {t} is outside 30..=100"))),
            (None, Some(q)) if (1..=100).contains(&q) => Quality::Fixed(q),
            (None, Some(q)) => return Err(fail(format!("jpeg_quality: {q} is outside 1..=100"))),
            (Some(_), Some(_)) => return Err(fail("give target_score or jpeg_quality, not both".into())),
            (None, None) => return Err(fail("give target_score or jpeg_quality".into())),
        };
        if !EXPOSURE_RANGE.contains(&self.exposure_ev) {
            return Err(fail(format!("exposure_ev: {} is outside -5..=5 (stops)", self.exposure_ev)));
        }
        Ok(Preset {
            name: self.name,
            size,
            quality,
            subsampling: self.subsampling,
            metadata: self.metadata,
            effort: self.effort,
            look: self.look,
            exposure_ev: self.exposure_ev,
        })
    }
}

/// The presets a studio has: the built-ins, then every `*.toml` of its preset folder.
#[derive(Debug, Clone)]
pub struct PresetSet {
    presets: BTreeMap<String, Preset>,
}

impl PresetSet {
    pub fn built_in() -> PresetSet {
        #[derive(Deserialize)]
        struct List {
            preset: Vec<PresetFile>,
        }
        // The built-in text is ours and a unit test parses it; nothing here depends on input.
        let list: List = toml::from_str(BUILT_IN).unwrap_or(List { preset: Vec::new() });
        let presets = list.preset.into_iter().filter_map(|p| p.validate().ok());
        PresetSet { presets: presets.map(|p| (p.name.clone(), p)).collect() }
    }

    /// Built-ins plus the folder's presets (a missing folder adds none). A file that does
    /// not parse fails the whole load, naming the file: a studio should hear about a broken
    /// preset, not find it silently missing.
    pub fn load(dir: Option<&Path>) -> Result<PresetSet> {
        let mut set = PresetSet::built_in();
        let Some(dir) = dir else { return Ok(set) };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(set),
            Err(source) => return Err(Error::Io { path: dir.to_path_buf(), source }),
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text =
                std::fs::read_to_string(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
            let preset = Preset::from_toml(&text, &path.display().to_string()).map_err(|e| match e {
                Error::Preset { name, reason } if name != path.display().to_string() => {
                    Error::Preset { name: format!("{} ({})", name, path.display()), reason }
                }
                other => other,
            })?;
            set.presets.insert(preset.name.clone(), preset);
        }
        Ok(set)
    }

    pub fn get(&self, name: &str) -> Result<&Preset> {
        self.presets.get(name).ok_or_else(|| Error::Preset {
            name: name.to_string(),
            reason: format!("no such preset (known: {})", self.names().join(", ")),
        })
    }

    pub fn names(&self) -> Vec<&str> {
        self.presets.keys().map(String::as_str).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Preset> {
        self.presets.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_are_all_there() {
        let set = PresetSet::built_in();
        assert_eq!(set.names(), vec!["full", "gallery", "social", "thumb", "web"]);
        let web = set.get("web").expect("web");
        assert_eq!(web.size, Size::LongEdge(2048));
        assert_eq!(web.quality, Quality::Target(75.0));
        assert_eq!(web.effort, Effort::Fast);
        assert_eq!(set.get("full").expect("full").quality, Quality::Fixed(92));
    }

    #[test]
    fn a_preset_written_as_toml_reads_back_the_same() {
        for preset in PresetSet::built_in().iter() {
            let text = preset.to_toml();
            assert_eq!(&Preset::from_toml(&text, "round trip").expect("valid"), preset, "{text}");
        }
    }

    #[test]
    fn invalid_presets_name_the_field() {
        let cases = [
            ("name = \"x\"\nlong_edge = 5\njpeg_quality = 90", "long_edge"),
            ("name = \"x\"\ntarget_score = 150", "target_score"),
            ("name = \"x\"", "target_score or jpeg_quality"),
            ("name = \"x\"\njpeg_quality = 90\ntarget_score = 80", "not both"),
            ("name = \"Bad Name\"\njpeg_quality = 90", "name"),
            ("name = \"x\"\njpeg_quality = 90\nsubsampling = \"4:1:1\"", "4:1:1"),
            ("name = \"x\"\njpeg_quality = 90\ncolour = 1", "colour"),
        ];
        for (text, needle) in cases {
            let err = Preset::from_toml(text, "test.toml").expect_err(text).to_string();
            assert!(err.contains(needle), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn a_folder_adds_and_overrides() {
        let dir = std::env::temp_dir().join(format!("wedsync-presets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("print.toml"), "name = \"print\"\nlong_edge = 4000\ntarget_score = 88\n")
            .expect("write");
        std::fs::write(dir.join("web.toml"), "name = \"web\"\nlong_edge = 1600\ntarget_score = 72\n")
            .expect("write");
        let set = PresetSet::load(Some(&dir)).expect("load");
        assert_eq!(set.get("print").expect("print").size, Size::LongEdge(4000));
        assert_eq!(set.get("web").expect("web").size, Size::LongEdge(1600));
        std::fs::write(dir.join("zbroken.toml"), "name = \"broken\"\n").expect("write");
        let err = PresetSet::load(Some(&dir)).expect_err("broken preset").to_string();
        assert!(err.contains("zbroken.toml"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
