//! The presets screen's commands: list, save, delete, import, export and use the studio's
//! presets (the engine's [`wedsync_engine::presets`] does the work), and a live preview:
//! the newest photo in the queue developed at the form's settings.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize;
use tauri::State;
use tauri_plugin_dialog::DialogExt;
use wedsync_develop::PresetSet;
use wedsync_engine::presets::{self, PresetEntry, PresetForm, PresetProblem};
use wedsync_engine::Intent;

use crate::host::Host;

/// Every preset, and the ones new files are developed to (in order).
#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct PresetList {
    pub presets: Vec<PresetEntry>,
    pub in_use: Vec<String>,
}

/// One photo developed at a preset's settings: what the preset makes of it.
#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Preview {
    /// The photo's file name.
    pub sample: String,
    pub width: u32,
    pub height: u32,
    #[ts(type = "number")]
    pub bytes: u64,
    /// The SSIMULACRA2 score reached (presets with a target score).
    pub score: Option<f64>,
    pub jpeg_quality: u8,
    /// The look it got and why (RAW files): matched to the camera's preview, or not.
    pub look: Option<String>,
    /// The JPEG, as a `data:` URL.
    pub image: String,
}

fn whole(message: impl ToString) -> PresetProblem {
    PresetProblem { field: None, message: message.to_string() }
}

fn folder(host: &Host) -> Result<&Path, PresetProblem> {
    host.presets_dir.as_deref().ok_or_else(|| whole("this system has no configuration folder for presets"))
}

#[tauri::command]
pub fn presets(host: State<'_, Host>) -> Result<PresetList, String> {
    let presets = presets::list(host.presets_dir.as_deref()).map_err(|e| e.to_string())?;
    let in_use = host.with(|engine| Ok(engine.presets_in_use()))?;
    Ok(PresetList { presets, in_use })
}

/// Saves the form as a studio preset (renamed from `was`); if new files use it, they use
/// the new settings from now on.
#[tauri::command]
pub fn save_preset(
    host: State<'_, Host>,
    form: PresetForm,
    was: Option<String>,
) -> Result<(), PresetProblem> {
    let dir = folder(&host)?;
    let saved = presets::save(dir, &form, was.as_deref())?;
    let in_use = host.with(|engine| Ok(engine.presets_in_use())).map_err(whole)?;
    if in_use.iter().any(|n| *n == saved.name || Some(n) == was.as_ref()) {
        let names: Vec<String> = in_use
            .into_iter()
            .map(|n| if Some(&n) == was.as_ref() { saved.name.clone() } else { n })
            .collect();
        use_named(&host, &names).map_err(whole)?;
    }
    Ok(())
}

#[tauri::command]
pub fn delete_preset(host: State<'_, Host>, name: String) -> Result<(), String> {
    let in_use = host.with(|engine| Ok(engine.presets_in_use()))?;
    let dir = host.presets_dir.as_deref().ok_or("this system has no configuration folder for presets")?;
    presets::delete(dir, &name).map_err(|e| e.to_string())?;
    // A built-in it replaced comes back; a preset gone altogether is no longer used.
    let known = PresetSet::load(Some(dir)).map_err(|e| e.to_string())?;
    let still: Vec<String> = in_use.into_iter().filter(|n| known.get(n).is_ok()).collect();
    use_named(&host, &still)
}

/// New files (dropped, picked) are developed to `names`, in order, from now on and after
/// the next start (`[watch] presets` in config.toml).
#[tauri::command]
pub fn use_presets(host: State<'_, Host>, names: Vec<String>) -> Result<(), String> {
    use_named(&host, &names)
}

fn use_named(host: &Host, names: &[String]) -> Result<(), String> {
    let all = PresetSet::load(host.presets_dir.as_deref()).map_err(|e| e.to_string())?;
    // Originals or not is the engine's rule: no preset at all is allowed here.
    let presets = wedsync_engine::station::named(&all, names, true)?;
    host.with(|engine| engine.apply(Intent::SetPresets(presets)).map_err(|e| e.to_string()))?;
    let config = host.home()?.config();
    wedsync_engine::preferences::write_presets(&config, names).map_err(|e| e.to_string())
}

/// A preset file picked in the system's dialog, checked and added; its name, or None when
/// the dialog was cancelled.
#[tauri::command]
pub async fn import_preset(
    app: tauri::AppHandle,
    host: State<'_, Host>,
) -> Result<Option<String>, PresetProblem> {
    let dir = folder(&host)?.to_path_buf();
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog().file().set_title("Import a preset").add_filter("Preset", &["toml"]).blocking_pick_file()
    })
    .await
    .map_err(whole)?;
    let Some(file) = picked.and_then(|f| f.into_path().ok()) else { return Ok(None) };
    Ok(Some(presets::import(&dir, &file)?.name))
}

/// `name`'s TOML written where the system's save dialog says; the path, or None when
/// cancelled.
#[tauri::command]
pub async fn export_preset(
    app: tauri::AppHandle,
    host: State<'_, Host>,
    name: String,
) -> Result<Option<PathBuf>, String> {
    let dir = host.presets_dir.clone();
    let suggested = format!("{name}.toml");
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog().file().set_title("Export a preset").set_file_name(suggested).blocking_save_file()
    })
    .await
    .map_err(|e| e.to_string())?;
    let Some(to) = picked.and_then(|f| f.into_path().ok()) else { return Ok(None) };
    presets::export(dir.as_deref(), &name, &to).map_err(|e| e.to_string())?;
    Ok(Some(to))
}

/// The newest photo in the queue developed at the form's settings (on the engine's
/// backend, off the window's thread).
#[tauri::command]
pub async fn preview_preset(host: State<'_, Host>, form: PresetForm) -> Result<Preview, PresetProblem> {
    let preset = form.check()?;
    let developer = host.developer().map_err(whole)?;
    let snapshot = host.with(|engine| engine.snapshot().map_err(|e| e.to_string())).map_err(whole)?;
    let sample = snapshot
        .rows
        .iter()
        .filter_map(|r| r.path.clone())
        .find(|p| p.exists())
        .ok_or_else(|| whole("add a photo to the queue first: the preview develops the newest one"))?;
    let path = sample.clone();
    let rendition = tauri::async_runtime::spawn_blocking(move || developer.develop_file(&path, &preset))
        .await
        .map_err(whole)?
        .map_err(whole)?;
    Ok(Preview {
        sample: sample.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        width: rendition.width as u32,
        height: rendition.height as u32,
        bytes: rendition.jpeg.len() as u64,
        score: rendition.score,
        jpeg_quality: rendition.jpeg_quality,
        look: rendition.look.clone(),
        image: format!(
            "data:image/jpeg;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&rendition.jpeg)
        ),
    })
}
