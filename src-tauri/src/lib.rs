//! The WedSync Uploader desktop app: a window over the engine. The engine holds all the
//! logic and the journal all the state; this crate only adapts the engine's intents and
//! queries to Tauri commands ([`commands`]) and starts it ([`host`]).

pub mod commands;
pub mod compositing;
pub mod desktop;
pub mod host;
pub mod notices;
pub mod presets;
pub mod settings;
pub mod thumbnails;

use tauri::Manager;

pub fn run() {
    let app = tauri::Builder::default()
        // Native file dialogs, opened by the Rust side only (the webview gets no permission).
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None))
        // Thumbnails by asset number, made off the window's thread.
        .register_asynchronous_uri_scheme_protocol("thumb", |ctx, request, responder| {
            let app = ctx.app_handle().clone();
            let path = request.uri().path().to_string();
            tauri::async_runtime::spawn_blocking(move || {
                responder.respond(thumbnails::answer(&app.state::<host::Host>(), &path));
            });
        })
        .setup(|app| {
            app.manage(tauri::async_runtime::block_on(async { host::Host::start() }));
            if let Err(e) = desktop::tray(app.handle()) {
                eprintln!("wedsync-app: no tray icon here: {e}");
            }
            desktop::notify(app.handle());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::snapshot,
            commands::subscribe,
            commands::add_paths,
            commands::pause,
            commands::resume,
            commands::pause_asset,
            commands::resume_asset,
            commands::cancel_asset,
            commands::retry_failed,
            commands::pick_paths,
            presets::presets,
            presets::save_preset,
            presets::delete_preset,
            presets::use_presets,
            presets::import_preset,
            presets::export_preset,
            presets::preview_preset,
            settings::settings,
            settings::save_settings,
            settings::clear_cache,
            settings::start_at_login,
        ])
        .build(tauri::generate_context!());
    match app {
        // Closing the app stops the engine as a station stops: uploads park, the journal
        // keeps the rest for the next start (or `wedsync watch`).
        Ok(app) => app.run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                tauri::async_runtime::block_on(app.state::<host::Host>().shut_down());
            }
        }),
        Err(e) => {
            eprintln!("wedsync-app: {e}");
            std::process::exit(1);
        }
    }
}
