//! The studio's presets as an admin manages them: one TOML file each in the presets
//! folder ([`crate::Home::presets_dir`]), listed with the built-ins, created, changed,
//! deleted, imported and exported. Every write is checked first by the develop crate's own
//! validation (the one `wedsync presets check` and every develop run use), and a problem is
//! said against the field it is about.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wedsync_develop::{Preset, PresetSet};

use crate::error::{Error, Result};

/// A preset as the editor shows it: a preset file's fields (it reads and writes as one),
/// every value a plain one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PresetForm {
    pub name: String,
    /// Longer side in pixels; null: full size.
    pub long_edge: Option<u32>,
    /// The smallest file with at least this SSIMULACRA2 score (30–100)…
    pub target_score: Option<f64>,
    /// …or a fixed JPEG quality (1–100): exactly one of the two.
    pub jpeg_quality: Option<u8>,
    /// `4:4:4`, `4:2:2` or `4:2:0`.
    pub subsampling: String,
    /// `keep-all`, `drop-gps` or `drop-all`.
    pub metadata: String,
    /// `fast` or `small`.
    pub effort: String,
    /// `camera` (matched to the camera's own JPEG of each frame) or `neutral`.
    #[serde(default = "camera")]
    pub look: String,
    /// Exposure compensation in stops (−5 to 5), before the look.
    #[serde(default)]
    pub exposure_ev: f64,
}

fn camera() -> String {
    "camera".into()
}

/// One preset in the list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PresetEntry {
    pub form: PresetForm,
    /// Shipped with the app (a studio file of the same name replaces it).
    pub built_in: bool,
    /// The studio's file, if it has one.
    pub file: Option<PathBuf>,
    /// The file's text, as an export writes it.
    pub toml: String,
}

/// What is wrong with a preset: the field it is about (null: the preset as a whole, or
/// the file) and what to change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PresetProblem {
    pub field: Option<String>,
    pub message: String,
}

const FIELDS: [&str; 9] = [
    "name",
    "long_edge",
    "target_score",
    "jpeg_quality",
    "subsampling",
    "metadata",
    "effort",
    "look",
    "exposure_ev",
];

impl PresetForm {
    /// The form of `preset`'s file (its TOML, as the develop crate writes it), and that text.
    fn of(preset: &Preset) -> (PresetForm, String) {
        let text = preset.to_toml();
        // The text is the develop crate's own rendering of a valid preset: it always reads.
        let form = toml::from_str(&text).unwrap_or_else(|_| PresetForm {
            name: preset.name.clone(),
            long_edge: None,
            target_score: None,
            jpeg_quality: None,
            subsampling: String::new(),
            metadata: String::new(),
            effort: String::new(),
            look: camera(),
            exposure_ev: 0.0,
        });
        (form, text)
    }

    /// The preset these fields make, by the develop crate's validation, or what is wrong.
    pub fn check(&self) -> std::result::Result<Preset, PresetProblem> {
        // TOML has no null: an unset field is left out, as a preset file leaves it out.
        let text = toml::to_string(self).unwrap_or_default();
        Preset::from_toml(&text, &self.name).map_err(|e| problem(&e))
    }
}

/// The develop crate's message, against its field where it names one ("long_edge: …").
fn problem(e: &wedsync_develop::Error) -> PresetProblem {
    let message = match e {
        wedsync_develop::Error::Preset { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    let field = FIELDS.iter().find(|f| message.starts_with(&format!("{f}:"))).map(|f| f.to_string());
    let field = field.or_else(|| {
        // serde's own words for a value a select cannot give (an edited file): its field.
        FIELDS.iter().find(|f| message.contains(&format!("`{f}`"))).map(|f| f.to_string())
    });
    PresetProblem { field, message }
}

/// Every preset (the built-ins and the studio's), by name.
pub fn list(dir: Option<&Path>) -> Result<Vec<PresetEntry>> {
    let set = PresetSet::load(dir).map_err(|e| folder_error(dir, &e))?;
    let built_in = PresetSet::built_in();
    Ok(set
        .iter()
        .map(|preset| {
            let file = dir.map(|d| file_of(d, &preset.name)).filter(|f| f.exists());
            let (form, toml) = PresetForm::of(preset);
            PresetEntry { form, built_in: built_in.get(&preset.name).is_ok(), file, toml }
        })
        .collect())
}

/// Writes the preset the form makes as `<name>.toml` (atomically: a crash leaves the old
/// file or the new one). Renamed from `was`, the old file goes.
pub fn save(dir: &Path, form: &PresetForm, was: Option<&str>) -> std::result::Result<Preset, PresetProblem> {
    let preset = form.check()?;
    write(dir, &preset).map_err(|e| PresetProblem { field: None, message: e.to_string() })?;
    if let Some(old) = was.filter(|old| *old != preset.name) {
        delete(dir, old).map_err(|e| PresetProblem { field: None, message: e.to_string() })?;
    }
    Ok(preset)
}

/// Takes a preset file from elsewhere (checked first) into the studio's folder.
pub fn import(dir: &Path, file: &Path) -> std::result::Result<Preset, PresetProblem> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| PresetProblem { field: None, message: format!("{}: {e}", file.display()) })?;
    let preset = Preset::from_toml(&text, &file.display().to_string()).map_err(|e| {
        let p = problem(&e);
        PresetProblem { message: format!("{}: {}", file.display(), p.message), ..p }
    })?;
    write(dir, &preset).map_err(|e| PresetProblem { field: None, message: e.to_string() })?;
    Ok(preset)
}

/// Writes `name`'s TOML to `to`.
pub fn export(dir: Option<&Path>, name: &str, to: &Path) -> Result<()> {
    let set = PresetSet::load(dir).map_err(|e| folder_error(dir, &e))?;
    let preset = set.get(name).map_err(|e| folder_error(dir, &e))?;
    std::fs::write(to, preset.to_toml()).map_err(|source| Error::Io { path: to.to_path_buf(), source })
}

/// Removes the studio's file for `name` (a built-in it replaced comes back). A built-in
/// without a file cannot be deleted.
pub fn delete(dir: &Path, name: &str) -> Result<()> {
    let file = file_of(dir, name);
    match std::fs::remove_file(&file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Config {
            path: file,
            reason: format!("preset {name:?} is not one of the studio's files (built-ins cannot be deleted)"),
        }),
        Err(source) => Err(Error::Io { path: file, source }),
    }
}

fn write(dir: &Path, preset: &Preset) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    let file = file_of(dir, &preset.name);
    let partial = file.with_extension("toml.partial");
    std::fs::write(&partial, preset.to_toml())
        .map_err(|source| Error::Io { path: partial.clone(), source })?;
    std::fs::rename(&partial, &file).map_err(|source| Error::Io { path: file, source })
}

/// Names are checked to `[a-z0-9_-]{1,64}` before any file is named after them.
fn file_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.toml"))
}

/// A preset folder that cannot be read (or names an unknown preset), as a config error.
pub(crate) fn folder_error(dir: Option<&Path>, e: &wedsync_develop::Error) -> Error {
    Error::Config { path: dir.map(Path::to_path_buf).unwrap_or_default(), reason: format!("presets: {e}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> PresetForm {
        PresetForm {
            name: "proofs".into(),
            long_edge: Some(1600),
            target_score: Some(72.0),
            jpeg_quality: None,
            subsampling: "4:2:0".into(),
            metadata: "drop-gps".into(),
            effort: "fast".into(),
            look: "neutral".into(),
            exposure_ev: 0.5,
        }
    }

    #[test]
    fn a_preset_is_created_listed_renamed_exported_and_deleted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let presets = dir.path().join("presets");
        let made = save(&presets, &form(), None).expect("valid");
        assert_eq!(made.long_edge(), Some(1600));
        let listed = list(Some(&presets)).expect("list");
        let entry = listed.iter().find(|e| e.form.name == "proofs").expect("listed");
        assert_eq!(entry.form, form());
        assert!(!entry.built_in && entry.file.is_some());
        assert!(listed.iter().any(|e| e.form.name == "web" && e.built_in && e.file.is_none()));

        let renamed = PresetForm { name: "proofs-2".into(), ..form() };
        save(&presets, &renamed, Some("proofs")).expect("renamed");
        assert!(!presets.join("proofs.toml").exists() && presets.join("proofs-2.toml").exists());

        let out = dir.path().join("out.toml");
        export(Some(&presets), "proofs-2", &out).expect("export");
        let other = dir.path().join("other");
        assert_eq!(import(&other, &out).expect("import").name, "proofs-2");

        delete(&presets, "proofs-2").expect("delete");
        let e = delete(&presets, "web").expect_err("a built-in");
        assert!(e.to_string().contains("built-ins cannot be deleted"), "{e}");
    }

    #[test]
    fn a_problem_is_said_against_its_field_and_nothing_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            (PresetForm { long_edge: Some(5), ..form() }, Some("long_edge")),
            (PresetForm { name: "Bad Name".into(), ..form() }, Some("name")),
            (PresetForm { target_score: Some(150.0), ..form() }, Some("target_score")),
            (PresetForm { jpeg_quality: Some(90), ..form() }, None),
            (PresetForm { subsampling: "4:1:1".into(), ..form() }, None),
        ];
        for (bad, field) in cases {
            let p = save(dir.path(), &bad, None).expect_err("invalid");
            assert_eq!(p.field.as_deref(), field, "{p:?}");
            assert!(!p.message.is_empty());
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "nothing written");
        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, "name = \"x\"\nlong_edge = \"big\"\n").expect("write");
        let p = import(&dir.path().join("in"), &broken).expect_err("broken");
        assert!(p.message.contains("broken.toml"), "{p:?}");
    }
}
