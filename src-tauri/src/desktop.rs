//! The app beyond its window: a tray icon whose menu pauses, resumes, shows the window or
//! quits (Linux delivers no clicks on the icon itself, so everything is in the menu), and
//! the desktop's notifications of [`crate::notices`]. Where the desktop has no tray or no
//! notification service (a bare X server, CI), the app runs without them.

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::error::RecvError;
use wedsync_engine::Intent;

use crate::host::Host;
use crate::notices::Milestones;

pub fn tray(app: &AppHandle) -> tauri::Result<()> {
    let items =
        [("show", "Show WedSync"), ("pause", "Pause all"), ("resume", "Resume all"), ("quit", "Quit")]
            .map(|(id, label)| MenuItem::with_id(app, id, label, true, None::<&str>));
    let [show, pause, resume, quit] = items;
    let menu = Menu::with_items(app, &[&show?, &pause?, &resume?, &quit?])?;
    let mut tray = TrayIconBuilder::with_id("main").menu(&menu).tooltip("WedSync Uploader").on_menu_event(
        |app, event| {
            let host = app.state::<Host>();
            let apply = |intent| host.with(|engine| engine.apply(intent).map_err(|e| e.to_string()));
            let done = match event.id().as_ref() {
                "pause" => apply(Intent::Pause),
                "resume" => apply(Intent::Resume),
                "show" => app
                    .get_webview_window("main")
                    .map_or(Ok(()), |w| w.show().and_then(|()| w.set_focus()).map_err(|e| e.to_string())),
                "quit" => {
                    app.exit(0);
                    Ok(())
                }
                _ => Ok(()),
            };
            if let Err(e) = done {
                eprintln!("wedsync-app: tray: {e}");
            }
        },
    );
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app).map(|_| ())
}

/// Notifies the desktop of each milestone, for as long as the engine runs.
pub fn notify(app: &AppHandle) {
    let Ok(mut deltas) = app.state::<Host>().with(|engine| Ok(engine.subscribe())) else { return };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut milestones = Milestones::default();
        loop {
            match deltas.recv().await {
                Ok(delta) => {
                    for notice in milestones.observe(&delta) {
                        let shown =
                            app.notification().builder().title(notice.title()).body(notice.body()).show();
                        if let Err(e) = shown {
                            eprintln!("wedsync-app: notification not shown ({e}): {}", notice.body());
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            }
        }
    });
}
