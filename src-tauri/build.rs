// The app's commands are listed here so each needs a permission, and the `main` window's
// capability (capabilities/main.json) grants exactly these.
fn main() {
    let commands = &[
        "snapshot",
        "subscribe",
        "add_paths",
        "pause",
        "resume",
        "pause_asset",
        "resume_asset",
        "cancel_asset",
        "retry_failed",
        "pick_paths",
        "presets",
        "save_preset",
        "delete_preset",
        "use_presets",
        "import_preset",
        "export_preset",
        "preview_preset",
        "settings",
        "save_settings",
        "clear_cache",
        "start_at_login",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("the app's Tauri configuration (tauri.conf.json, capabilities/) is valid");
}
