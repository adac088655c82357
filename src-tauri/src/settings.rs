//! The settings screen's commands: where photos go (the token into the OS keyring, never a
//! file), streams, the bandwidth cap, the develop backend with what was found, the cache
//! and start at login. The engine's [`preferences`] reads and writes config.toml.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt;
use wedsync_engine::preferences::{Preferences, SettingProblem};
use wedsync_engine::{CacheUsage, Config};

use crate::host::Host;

/// Everything the settings screen shows. The token itself never leaves Rust.
#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct SettingsView {
    pub preferences: Preferences,
    /// A token is kept for the endpoint (in the keyring, or the file).
    pub token_kept: bool,
    /// Where tokens are kept.
    pub token_store: String,
    /// Why the keyring could not be read, if it could not.
    pub token_trouble: Option<String>,
    /// config.toml holds a token in plain text (saving moves it to the keyring).
    pub token_in_file: bool,
    /// What `wedsync doctor` finds: each backend looked for.
    pub backends: Vec<BackendFinding>,
    /// The backend developing now, and why it was chosen; null while the engine is down.
    pub backend_in_use: Option<String>,
    pub cache_folder: String,
    /// Null while the engine is down.
    pub cache: Option<CacheUsage>,
    pub start_at_login: bool,
    pub config_file: String,
}

#[derive(Serialize, ts_rs::TS)]
#[ts(export)]
pub struct BackendFinding {
    pub kind: String,
    pub what: String,
    pub usable: bool,
}

/// The screen's form: the settings, and a new token (null: keep the one kept; empty:
/// forget it).
#[derive(Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SettingsForm {
    pub preferences: Preferences,
    pub token: Option<String>,
}

fn problem(field: &str, message: impl ToString) -> Vec<SettingProblem> {
    vec![SettingProblem { field: field.into(), message: message.to_string() }]
}

#[tauri::command]
pub fn settings(app: AppHandle, host: State<'_, Host>) -> Result<SettingsView, String> {
    view(&app, &host)
}

fn view(app: &AppHandle, host: &Host) -> Result<SettingsView, String> {
    let home = host.home()?;
    let config = Config::load(&home.config()).map_err(|e| e.to_string())?;
    let preferences = Preferences::of(&config);
    let in_file = config.destination.as_ref().and_then(|d| d.token.clone());
    let (kept, trouble) = match (&in_file, preferences.endpoint.as_str()) {
        (Some(_), _) => (true, None),
        (None, "") => (false, None),
        (None, endpoint) => match host.secrets.token(endpoint) {
            Ok(token) => (token.is_some(), None),
            Err(e) => (false, Some(e.to_string())),
        },
    };
    let developer = host.developer().ok();
    let backends = developer.as_ref().map_or_else(Vec::new, |d| {
        d.probe()
            .findings
            .iter()
            .map(|f| BackendFinding { kind: f.kind.name().into(), what: f.what.clone(), usable: f.usable })
            .collect()
    });
    Ok(SettingsView {
        preferences,
        token_kept: kept,
        token_store: host.secrets.describe(),
        token_trouble: trouble,
        token_in_file: in_file.is_some(),
        backends,
        backend_in_use: developer.map(|d| format!("{}: {}", d.backend().name(), d.probe().reason)),
        cache_folder: home.cache().display().to_string(),
        cache: host.with(|engine| engine.cache_usage().map_err(|e| e.to_string())).ok(),
        start_at_login: app.autolaunch().is_enabled().unwrap_or(false),
        config_file: home.config().display().to_string(),
    })
}

/// Checks and saves the form: the token into the keyring (a plain-text one in the file
/// moves there), the rest into config.toml, then the engine takes them up. Async, so it
/// runs on the runtime an engine started here spawns its tasks on.
#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    host: State<'_, Host>,
    form: SettingsForm,
) -> Result<SettingsView, Vec<SettingProblem>> {
    save(&host, &form)?;
    view(&app, &host).map_err(|e| problem("file", e))
}

/// The saving half of [`save_settings`], without a window (tested below).
fn save(host: &Host, form: &SettingsForm) -> Result<(), Vec<SettingProblem>> {
    let problems = form.preferences.check();
    if !problems.is_empty() {
        return Err(problems);
    }
    let home = host.home().map_err(|e| problem("file", e))?;
    let path = home.config();
    let config = Config::load(&path).map_err(|e| problem("file", e))?;
    let in_file = config.destination.and_then(|d| d.token);
    let endpoint = form.preferences.endpoint.trim();
    let token = match form.token.as_deref() {
        Some(given) => Some(given.trim()),
        None => in_file.as_deref(),
    };
    if let Some(token) = token {
        let keep = (!token.is_empty()).then_some(token);
        host.secrets.set_token(endpoint, keep).map_err(|e| problem("token", e))?;
    }
    form.preferences.write(&path).map_err(|e| problem("file", e))?;
    host.reconfigure().map_err(|e| problem("endpoint", e))
}

/// Clears what can be made again (thumbnails, sent renditions, compiled kernels); what is
/// left.
#[tauri::command]
pub fn clear_cache(host: State<'_, Host>) -> Result<CacheUsage, String> {
    host.with(|engine| engine.clear_cache().map_err(|e| e.to_string()))
}

/// Starts the app when the user logs in, or not; whether it now does.
#[tauri::command]
pub fn start_at_login(app: AppHandle, enabled: bool) -> Result<bool, String> {
    let launcher = app.autolaunch();
    let changed = if enabled { launcher.enable() } else { launcher.disable() };
    changed.map_err(|e| format!("could not change start at login: {e}"))?;
    launcher.is_enabled().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wedsync_engine::secrets::{InMemory, Secrets};
    use wedsync_engine::Home;

    use super::*;

    fn form(endpoint: &str, token: Option<&str>) -> SettingsForm {
        SettingsForm {
            preferences: Preferences {
                endpoint: endpoint.into(),
                streams: 3,
                limit_mbit: 0.0,
                backend: "cpu".into(),
            },
            token: token.map(String::from),
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_first_save_keeps_the_token_out_of_the_file_and_starts_the_engine() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path().to_path_buf()).expect("home");
        let secrets = Arc::new(InMemory::default());
        let host = Host::start_at(Ok(home.clone()), secrets.clone());
        assert!(host.with(|_| Ok(())).is_err(), "no destination yet");

        let bad = save(&host, &form("ingest.example", Some("t"))).expect_err("no scheme");
        assert_eq!(bad[0].field, "endpoint");
        assert!(!home.config().exists(), "nothing written when the form is refused");

        let endpoint = "http://127.0.0.1:9/files";
        save(&host, &form(endpoint, Some(" wst_secret "))).expect("saved");
        assert_eq!(secrets.token(endpoint).expect("kept").as_deref(), Some("wst_secret"));
        let file = std::fs::read_to_string(home.config()).expect("config");
        assert!(file.contains(endpoint) && !file.contains("wst_secret"), "{file}");
        host.with(|engine| engine.snapshot().map(|_| ()).map_err(|e| e.to_string()))
            .expect("the engine started");

        // Saved again without a token: the kept one stays; an empty one forgets it.
        save(&host, &form(endpoint, None)).expect("saved");
        assert_eq!(secrets.token(endpoint).expect("kept").as_deref(), Some("wst_secret"));
        save(&host, &form(endpoint, Some(""))).expect("saved");
        assert_eq!(secrets.token(endpoint).expect("read"), None);
        host.shut_down().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_plain_text_token_moves_to_the_keyring() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path().to_path_buf()).expect("home");
        let endpoint = "http://127.0.0.1:9/files";
        std::fs::write(
            home.config(),
            format!("[destination]\nendpoint = \"{endpoint}\"\ntoken = \"plain\"\n"),
        )
        .expect("config");
        let secrets = Arc::new(InMemory::default());
        let host = Host::start_at(Ok(home.clone()), secrets.clone());
        save(&host, &form(endpoint, None)).expect("saved");
        assert_eq!(secrets.token(endpoint).expect("kept").as_deref(), Some("plain"));
        assert!(!std::fs::read_to_string(home.config()).expect("config").contains("plain"));
        host.shut_down().await;
    }
}
