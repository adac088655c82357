//! The engine as the app runs it: the journal in `WEDSYNC_HOME` (the same one the CLI
//! uses), sending as `config.toml` says, developing on the best backend found. One engine
//! owns a journal at a time, so while the app runs `wedsync upload` says the app holds it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use wedsync_develop::Developer;
use wedsync_engine::station::{self, Station};
use wedsync_engine::transport::{Overrides, Transport};
use wedsync_engine::{Config, Engine, Home, Intent, Settings};

/// The engine the window drives, or why it could not start (said in the window, where
/// the photographer can act on it, rather than a process that exits); the developer it
/// uses (for preset previews) and where the studio's presets live.
pub struct Host {
    engine: Mutex<Result<Engine, String>>,
    developer: Result<Arc<Developer>, String>,
    pub presets_dir: Option<PathBuf>,
    cache: Option<PathBuf>,
}

impl Host {
    /// Starts the engine on the journal in `WEDSYNC_HOME` (else the platform's data
    /// folder). Call inside the async runtime its tasks will run on.
    pub fn start() -> Host {
        Host::start_at(Home::from_env())
    }

    pub fn start_at(home: wedsync_engine::Result<Home>) -> Host {
        let cache = home.as_ref().ok().map(Home::cache);
        let started = home.map_err(anyhow::Error::from).and_then(start).map_err(|e| format!("{e:#}"));
        let (engine, developer) = match started {
            Ok((engine, developer)) => (Ok(engine), Ok(developer)),
            Err(e) => (Err(e.clone()), Err(e)),
        };
        Host { engine: Mutex::new(engine), developer, presets_dir: Home::presets_dir(), cache }
    }

    /// Where the queue's thumbnails are kept.
    pub fn thumbnail_cache(&self) -> Option<PathBuf> {
        self.cache.as_ref().map(|c| c.join("thumbs"))
    }

    /// The backend the engine develops on.
    pub fn developer(&self) -> Result<Arc<Developer>, String> {
        self.developer.clone()
    }

    /// `act` on the running engine; the reason it is not running, else.
    pub fn with<T>(&self, act: impl FnOnce(&Engine) -> Result<T, String>) -> Result<T, String> {
        let engine = self
            .engine
            .lock()
            .map_err(|_| "the app's engine lock was poisoned: restart the app".to_string())?;
        act(engine.as_ref().map_err(Clone::clone)?)
    }

    /// Stops the engine as `wedsync watch` does on SIGTERM: nothing new is admitted,
    /// uploads park at a chunk boundary, the journal is flushed. The next start resumes.
    pub async fn shut_down(&self) {
        let engine = match self.engine.lock() {
            Ok(mut engine) => std::mem::replace(&mut *engine, Err("the app is closing".into())),
            Err(_) => return,
        };
        if let Ok(engine) = engine {
            if let Err(e) = engine.shutdown().await {
                eprintln!("wedsync-app: while stopping: {e}");
            }
        }
    }
}

fn start(home: Home) -> anyhow::Result<(Engine, Arc<Developer>)> {
    let config_path = home.config();
    let config = Config::load(&config_path)?;
    let transport = Transport::new(&config, &Overrides::default());
    let configured = config.destination.as_ref().with_context(|| {
        format!(
            "no destination: set [destination] endpoint and token in {} (see README, \"Configuration\")",
            config_path.display()
        )
    })?;
    let destination = transport.destination(configured.endpoint.clone(), configured.token.clone());
    let options = config.develop.options(&config_path, Some(&home), None, false)?;
    let developer = Arc::new(Developer::new(&options)?);
    // The station's sources, as `wedsync watch` would start them with no flags: cards as
    // they are mounted, the configured tethering folders.
    let Station { rules, sources } =
        Station::assemble(&home, &config, &station::Overrides::default(), Home::presets_dir().as_deref())?;
    let settings = Settings {
        destination,
        policy: transport.policy.clone(),
        pace: transport.pace.clone(),
        rules,
        gallery: None,
        develop_threads: transport.jobs,
        developer: developer.clone(),
    };
    // What happens reaches the window as deltas (rows read from the journal), so the
    // engine's event stream has nothing more to tell it.
    let engine = Engine::start(&home, settings, Arc::new(|_event| {}))?;
    for source in sources {
        engine.apply(Intent::AddSource(source))?;
    }
    Ok((engine, developer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn without_a_destination_every_command_says_which_file_to_edit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = Host::start_at(Home::at(dir.path().to_path_buf()));
        let answer = host.with(|engine| engine.snapshot().map_err(|e| e.to_string()));
        let error = answer.expect_err("no engine without a destination");
        assert!(error.contains("no destination"), "{error}");
        assert!(error.contains(&dir.path().join("config.toml").display().to_string()), "{error}");
        host.shut_down().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_app_owns_its_journal_alone_and_lets_go_of_it_when_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path().join("home")).expect("home");
        // A destination nobody listens on: the app must start and show the queue anyway.
        std::fs::write(
            home.config(),
            "[destination]\nendpoint = \"http://127.0.0.1:9/files\"\ntoken = \"t\"\n",
        )
        .expect("config");
        let host = Host::start_at(Ok(home.clone()));
        let snapshot = host.with(|engine| engine.snapshot().map_err(|e| e.to_string())).expect("snapshot");
        assert!(snapshot.rows.is_empty());
        // One engine per journal: while the app holds it, another host is refused.
        let second = Host::start_at(Ok(home.clone()));
        let refused = second.with(|_| Ok(())).expect_err("a second engine on the same journal");
        assert!(refused.contains("journal"), "{refused}");
        host.shut_down().await;
        let closed = host.with(|_| Ok(())).expect_err("closed");
        assert!(closed.contains("closing"), "{closed}");
        // Stopped, it lets go of the journal: its last tasks end just after shutdown
        // returns (seen in CI: within a second), so a new start is tried for a while.
        let mut again = Host::start_at(Ok(home.clone()));
        let mut tries = 0;
        while again.with(|_| Ok(())).is_err() && tries < 100 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            again = Host::start_at(Ok(home.clone()));
            tries += 1;
        }
        again
            .with(|engine| engine.snapshot().map(|_| ()).map_err(|e| e.to_string()))
            .expect("reopened within 5 s");
        again.shut_down().await;
    }
}
