//! The engine as the app runs it: the journal in `WEDSYNC_HOME` (the same one the CLI
//! uses), sending as `config.toml` says, developing on the best backend found. One engine
//! owns a journal at a time, so while the app runs `wedsync upload` says the app holds it.

use std::sync::Arc;

use anyhow::Context;
use wedsync_develop::{Developer, PresetSet};
use wedsync_engine::transport::{Overrides, Transport};
use wedsync_engine::{Config, Engine, Home, Rules, Settings};

/// Starts the engine. Call inside the async runtime its tasks will run on.
pub fn start() -> anyhow::Result<Engine> {
    let home = Home::from_env()?;
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
    let presets = presets(&config)?;
    let rules = Rules { presets, originals: config.watch.originals.unwrap_or(false), ..Rules::default() };
    let settings = Settings {
        destination,
        policy: transport.policy.clone(),
        pace: transport.pace.clone(),
        rules,
        gallery: None,
        develop_threads: transport.jobs,
        developer,
    };
    // What happens reaches the window as deltas (rows read from the journal), so the
    // engine's event stream has nothing more to tell it.
    Ok(Engine::start(&home, settings, Arc::new(|_event| {}))?)
}

/// The presets `[watch] presets` names (default: web), the studio's and the built-in ones.
fn presets(config: &Config) -> anyhow::Result<Vec<wedsync_develop::Preset>> {
    let all = PresetSet::load(Home::presets_dir().as_deref())?;
    let names =
        if config.watch.presets.is_empty() { vec!["web".to_string()] } else { config.watch.presets.clone() };
    Ok(names.iter().map(|name| all.get(name).cloned()).collect::<Result<Vec<_>, _>>()?)
}
