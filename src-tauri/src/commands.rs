//! The window's commands: each one line over an engine intent or query. State reaches the
//! window through one channel per subscription, carrying the engine's coalesced deltas
//! (at most ten a second), never an event per change.

use std::path::PathBuf;

use tauri::ipc::Channel;
use tauri::State;
use tokio::sync::broadcast::error::RecvError;
use wedsync_engine::{Delta, Intent, Snapshot};

use crate::host::Host;

/// What a command failed with, as the window shows it.
type Answer<T> = Result<T, String>;

fn apply(host: &Host, intent: Intent) -> Answer<()> {
    host.with(|engine| engine.apply(intent).map_err(|e| e.to_string()))
}

#[tauri::command]
pub fn snapshot(host: State<'_, Host>) -> Answer<Snapshot> {
    host.with(|engine| engine.snapshot().map_err(|e| e.to_string()))
}

/// Deltas from now on through `channel`; `lagged` when some were dropped (the window
/// takes a snapshot and goes on). Ends when the window is gone.
#[tauri::command]
pub fn subscribe(host: State<'_, Host>, channel: Channel<Message>) -> Answer<()> {
    let mut deltas = host.with(|engine| Ok(engine.subscribe()))?;
    tauri::async_runtime::spawn(async move {
        loop {
            let message = match deltas.recv().await {
                Ok(delta) => Message::Delta(Box::new(delta)),
                Err(RecvError::Lagged(_)) => Message::Lagged,
                Err(RecvError::Closed) => return,
            };
            if channel.send(message).is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// What the channel carries: a delta, or word that some were dropped.
#[derive(serde::Serialize, Clone, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[ts(export)]
pub enum Message {
    Delta(Box<Delta>),
    Lagged,
}

/// Files and folders dropped on the window or picked: folders are searched for camera
/// files; paths that cannot be read are named in the answer.
#[tauri::command]
pub fn add_paths(host: State<'_, Host>, paths: Vec<PathBuf>) -> Answer<()> {
    let found = wedsync_engine::inputs::expand(&paths);
    apply(&host, Intent::AddPaths { paths: found.files, rules: None })?;
    match found.missing.as_slice() {
        [] => Ok(()),
        missing => Err(missing
            .iter()
            .map(|(path, why)| format!("{}: {why}", path.display()))
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// Files, or folders, picked in the system's dialog and taken in as if dropped; how many
/// were picked (0: cancelled).
#[tauri::command]
pub async fn pick_paths(app: tauri::AppHandle, host: State<'_, Host>, folders: bool) -> Answer<usize> {
    use tauri_plugin_dialog::DialogExt;
    let picked = tauri::async_runtime::spawn_blocking(move || {
        let dialog = app.dialog().file().set_title(if folders { "Add folders" } else { "Add photos" });
        if folders {
            dialog.blocking_pick_folders()
        } else {
            dialog.blocking_pick_files()
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    let paths: Vec<PathBuf> =
        picked.unwrap_or_default().into_iter().filter_map(|p| p.into_path().ok()).collect();
    let count = paths.len();
    if count > 0 {
        add_paths(host, paths)?;
    }
    Ok(count)
}

#[tauri::command]
pub fn pause(host: State<'_, Host>) -> Answer<()> {
    apply(&host, Intent::Pause)
}

#[tauri::command]
pub fn resume(host: State<'_, Host>) -> Answer<()> {
    apply(&host, Intent::Resume)
}

#[tauri::command]
pub fn pause_asset(host: State<'_, Host>, asset: i64) -> Answer<()> {
    apply(&host, Intent::PauseAsset(asset))
}

#[tauri::command]
pub fn resume_asset(host: State<'_, Host>, asset: i64) -> Answer<()> {
    apply(&host, Intent::ResumeAsset(asset))
}

#[tauri::command]
pub fn cancel_asset(host: State<'_, Host>, asset: i64) -> Answer<()> {
    apply(&host, Intent::CancelAsset(asset))
}

#[tauri::command]
pub fn retry_failed(host: State<'_, Host>) -> Answer<()> {
    apply(&host, Intent::RetryFailed)
}
