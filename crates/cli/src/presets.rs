//! `wedsync presets list|show|check`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wedsync_develop::{Preset, PresetSet, Quality, Size};

#[derive(clap::Subcommand)]
pub enum Command {
    /// List every preset, built-in and the studio's.
    List,
    /// Show one preset in full.
    Show { name: String },
    /// Check preset files without installing them.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(cmd: Command, presets_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::List => {
            let set = PresetSet::load(presets_dir)?;
            for preset in set.iter() {
                say!("{}", summary(preset));
            }
        }
        Command::Show { name } => {
            let set = PresetSet::load(presets_dir)?;
            let p = set.get(&name)?;
            say!(
                "{}\n  subsampling: {:?}\n  metadata: {:?}\n  effort: {:?}",
                summary(p),
                p.subsampling,
                p.metadata,
                p.effort
            );
        }
        Command::Check { files } => {
            let mut bad = 0;
            for file in files {
                let checked = std::fs::read_to_string(&file)
                    .map_err(anyhow::Error::from)
                    .and_then(|text| Ok(Preset::from_toml(&text, &file.display().to_string())?));
                match checked {
                    Ok(p) => say!("ok {}: {}", file.display(), summary(&p)),
                    Err(err) => {
                        bad += 1;
                        say!("INVALID {}: {err}", file.display());
                    }
                }
            }
            if bad > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(p: &Preset) -> String {
    let size = match p.size {
        Size::Full => "full size".to_string(),
        Size::LongEdge(e) => format!("long edge {e}"),
    };
    let quality = match p.quality {
        Quality::Target(t) => format!("SSIMULACRA2 ≥ {t}"),
        Quality::Fixed(q) => format!("JPEG quality {q}"),
    };
    format!("{:<10} {size}, {quality}", p.name)
}

/// The presets named on a command line (`none`: no renditions), refusing a choice that
/// sends nothing.
pub(crate) fn named(
    names: &[String],
    originals: bool,
    presets_dir: Option<&Path>,
) -> anyhow::Result<Vec<wedsync_develop::Preset>> {
    let all = PresetSet::load(presets_dir)?;
    wedsync_engine::station::named(&all, names, originals)
        .map_err(|reason| anyhow::anyhow!("--preset: {reason} (--originals)"))
}
