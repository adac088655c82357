//! The engine as the app runs it: the journal in `WEDSYNC_HOME` (the same one the CLI
//! uses), sending as `config.toml` and the token kept in the OS keyring say, developing on
//! the best backend found. One engine
//! owns a journal at a time, so while the app runs `wedsync upload` says the app holds it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use wedsync_develop::Developer;
use wedsync_engine::secrets::{self, Keyring, Secrets};
use wedsync_engine::station::{self, Station};
use wedsync_engine::transport::{Overrides, Transport};
use wedsync_engine::{Config, Engine, Home, Intent, Settings};
use wedsync_transfer::Destination;

/// The engine the window drives, or why it could not start (said in the window, where
/// the photographer can act on it, rather than a process that exits); the home it runs
/// in, where the token is kept and where the studio's presets live.
pub struct Host {
    running: Mutex<Result<Running, String>>,
    home: Result<Home, String>,
    pub secrets: Arc<dyn Secrets>,
    pub presets_dir: Option<PathBuf>,
}

/// A started engine and the developer it uses (for preset previews and the settings).
struct Running {
    engine: Engine,
    developer: Arc<Developer>,
}

impl Host {
    /// Starts the engine on the journal in `WEDSYNC_HOME` (else the platform's data
    /// folder), the token in the OS keyring. Call inside the async runtime its tasks will
    /// run on.
    pub fn start() -> Host {
        Host::start_at(Home::from_env(), Arc::new(Keyring))
    }

    pub fn start_at(home: wedsync_engine::Result<Home>, secrets: Arc<dyn Secrets>) -> Host {
        let home = home.map_err(|e| e.to_string());
        let running =
            home.clone().and_then(|home| start(&home, secrets.as_ref()).map_err(|e| format!("{e:#}")));
        Host { running: Mutex::new(running), home, secrets, presets_dir: Home::presets_dir() }
    }

    /// The home folder the app runs in.
    pub fn home(&self) -> Result<&Home, String> {
        self.home.as_ref().map_err(Clone::clone)
    }

    /// Where the queue's thumbnails are kept.
    pub fn thumbnail_cache(&self) -> Option<PathBuf> {
        self.home.as_ref().ok().map(|h| h.cache().join("thumbs"))
    }

    /// The backend the engine develops on.
    pub fn developer(&self) -> Result<Arc<Developer>, String> {
        self.running()?.as_ref().map(|r| r.developer.clone()).map_err(Clone::clone)
    }

    /// `act` on the running engine; the reason it is not running, else.
    pub fn with<T>(&self, act: impl FnOnce(&Engine) -> Result<T, String>) -> Result<T, String> {
        act(&self.running()?.as_ref().map_err(Clone::clone)?.engine)
    }

    fn running(&self) -> Result<std::sync::MutexGuard<'_, Result<Running, String>>, String> {
        self.running.lock().map_err(|_| "the app's engine lock was poisoned: restart the app".to_string())
    }

    /// Takes up `config.toml` and the kept token again after the settings changed: where
    /// uploads go, streams and the bandwidth cap apply at once; an engine that could not
    /// start (no destination yet) is started. The develop backend applies at the next start.
    pub fn reconfigure(&self) -> Result<(), String> {
        let home = self.home()?;
        let mut running = self.running()?;
        match running.as_ref() {
            Ok(running) => {
                let config = Config::load(&home.config()).map_err(|e| e.to_string())?;
                let (destination, transport) =
                    destination(home, &config, self.secrets.as_ref()).map_err(|e| format!("{e:#}"))?;
                let apply = |intent| running.engine.apply(intent).map_err(|e| e.to_string());
                apply(Intent::SetDestination(destination))?;
                apply(Intent::SetStreams(transport.policy.streams))?;
                apply(Intent::SetBandwidth(transport.limit_bytes))
            }
            Err(_) => {
                *running = Ok(start(home, self.secrets.as_ref()).map_err(|e| format!("{e:#}"))?);
                Ok(())
            }
        }
    }

    /// Stops the engine as `wedsync watch` does on SIGTERM: nothing new is admitted,
    /// uploads park at a chunk boundary, the journal is flushed. The next start resumes.
    pub async fn shut_down(&self) {
        let running = match self.running.lock() {
            Ok(mut running) => std::mem::replace(&mut *running, Err("the app is closing".into())),
            Err(_) => return,
        };
        if let Ok(running) = running {
            if let Err(e) = running.engine.shutdown().await {
                eprintln!("wedsync-app: while stopping: {e}");
            }
        }
    }
}

/// Where uploads go, as config.toml and the kept token say, and how they are sent.
fn destination(
    home: &Home,
    config: &Config,
    secrets: &dyn Secrets,
) -> anyhow::Result<(Destination, Transport)> {
    let configured = config.destination.as_ref().with_context(|| {
        format!(
            "no destination yet: open Settings and enter the platform's upload address and token \
             (or set [destination] in {})",
            home.config().display()
        )
    })?;
    let transport = Transport::new(config, &Overrides::default());
    // A keyring that cannot be read is no token: the server's refusal says what to do.
    let (token, _trouble) = secrets::token_for(configured.token.as_deref(), secrets, &configured.endpoint);
    Ok((transport.destination(configured.endpoint.clone(), token), transport))
}

fn start(home: &Home, secrets: &dyn Secrets) -> anyhow::Result<Running> {
    let config_path = home.config();
    let config = Config::load(&config_path)?;
    let (destination, transport) = destination(home, &config, secrets)?;
    let options = config.develop.options(&config_path, Some(home), None, false)?;
    let developer = Arc::new(Developer::new(&options)?);
    // The station's sources, as `wedsync watch` would start them with no flags: cards as
    // they are mounted, the configured tethering folders.
    let Station { rules, sources } =
        Station::assemble(home, &config, &station::Overrides::default(), Home::presets_dir().as_deref())?;
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
    let engine = Engine::start(home, settings, Arc::new(|_event| {}))?;
    for source in sources {
        engine.apply(Intent::AddSource(source))?;
    }
    Ok(Running { engine, developer })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Arc<dyn Secrets> {
        Arc::new(secrets::InMemory::default())
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn without_a_destination_every_command_says_which_file_to_edit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = Host::start_at(Home::at(dir.path().to_path_buf()), memory());
        let answer = host.with(|engine| engine.snapshot().map_err(|e| e.to_string()));
        let error = answer.expect_err("no engine without a destination");
        assert!(error.contains("no destination") && error.contains("Settings"), "{error}");
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
        let host = Host::start_at(Ok(home.clone()), memory());
        let snapshot = host.with(|engine| engine.snapshot().map_err(|e| e.to_string())).expect("snapshot");
        assert!(snapshot.rows.is_empty());
        // One engine per journal: while the app holds it, another host is refused.
        let second = Host::start_at(Ok(home.clone()), memory());
        let refused = second.with(|_| Ok(())).expect_err("a second engine on the same journal");
        assert!(refused.contains("journal"), "{refused}");
        host.shut_down().await;
        let closed = host.with(|_| Ok(())).expect_err("closed");
        assert!(closed.contains("closing"), "{closed}");
        // Stopped, it lets go of the journal: its last tasks end just after shutdown
        // returns (seen in CI: within a second), so a new start is tried for a while.
        let mut again = Host::start_at(Ok(home.clone()), memory());
        let mut tries = 0;
        while again.with(|_| Ok(())).is_err() && tries < 100 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            again = Host::start_at(Ok(home.clone()), memory());
            tries += 1;
        }
        again
            .with(|engine| engine.snapshot().map(|_| ()).map_err(|e| e.to_string()))
            .expect("reopened within 5 s");
        again.shut_down().await;
    }
}
