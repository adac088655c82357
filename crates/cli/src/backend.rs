//! Where the develop stages run: the `--backend` flags of `develop` and `upload`, and
//! `wedsync doctor`, which says what was found and what `auto` would pick.

use std::process::ExitCode;

use wedsync_develop::{BackendChoice, BackendOptions, Developer, Kind};
use wedsync_engine::{Config, Home};

#[derive(clap::Args, Clone, Default)]
pub struct BackendArgs {
    /// Where to develop: auto (CUDA, else a GPU through Vulkan/Metal/DX12, else the CPU),
    /// cuda, wgpu or cpu. A forced backend that cannot run is an error. Default: the
    /// configuration's `[develop] backend`, else auto.
    #[arg(long, value_name = "auto|cuda|wgpu|cpu")]
    pub backend: Option<BackendChoice>,
    /// Let auto use a software wgpu adapter (Mesa's lavapipe) when there is no GPU: slower
    /// than the CPU path, for testing the shaders.
    #[arg(long)]
    pub software_gpu: bool,
}

impl BackendArgs {
    /// The options these flags and the configuration at `home` ask for.
    pub fn options(&self, home: Option<&Home>) -> anyhow::Result<BackendOptions> {
        let (config, path) = match home {
            Some(home) => (Config::load(&home.config())?.develop, home.config()),
            None => (Default::default(), "config.toml".into()),
        };
        Ok(config.options(&path, home, self.backend, self.software_gpu)?)
    }

    /// The developer these flags ask for, with a line saying which backend it uses.
    pub fn developer(&self, home: Option<&Home>) -> anyhow::Result<Developer> {
        let developer = Developer::new(&self.options(home)?)?;
        let probe = developer.probe();
        crate::say(format!("developing on {}: {}", probe.chosen.name(), probe.reason));
        Ok(developer)
    }
}

#[derive(clap::Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    backend: BackendArgs,
}

/// Lists every backend found (driver, NVRTC, adapters, memory), whether each passed its
/// self-test, and what the flags given would pick, and why.
pub fn doctor(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let home = Home::from_env().ok();
    let options = BackendOptions { survey: true, ..args.backend.options(home.as_ref())? };
    let probe = match wedsync_develop::probe(&options) {
        Ok(probe) => probe,
        Err(e) => {
            crate::say(e);
            return Ok(ExitCode::FAILURE);
        }
    };
    for kind in [Kind::Cuda, Kind::Wgpu, Kind::Cpu] {
        let findings: Vec<_> = probe.findings.iter().filter(|f| f.kind == kind).collect();
        if findings.is_empty() {
            crate::say(format!("{:<5} not looked for (--backend {:?})", kind.name(), options.choice));
        }
        for f in findings {
            let mark = if f.usable { "ok  " } else { "--  " };
            crate::say(format!("{:<5} {mark}{}", kind.name(), f.what));
        }
    }
    let choice = format!("{:?}", options.choice).to_lowercase();
    crate::say(format!("{choice} picks {}: {}", probe.chosen.name(), probe.reason));
    Ok(ExitCode::SUCCESS)
}
