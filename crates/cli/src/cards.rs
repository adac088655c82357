//! `wedsync cards`: the camera cards mounted now, and how many of each card's files are
//! safe to format away (their original verified on a server). Reads only: safe while
//! `wedsync upload` runs. Nothing here ever deletes a file on a card.

use std::path::PathBuf;
use std::process::ExitCode;

use wedsync_engine::volumes;
use wedsync_engine::Home;
use wedsync_journal::Journal;

#[derive(clap::Args)]
pub struct Args {
    /// Where cards are mounted (default: the system's usual places, e.g. /media, /run/media
    /// and /mnt on Linux, /Volumes on macOS, every drive letter on Windows).
    #[arg(long, value_name = "DIR")]
    card_root: Vec<PathBuf>,
    /// One JSON array, for scripts: `id`, `label`, `mounted_at`, `files`, `safe`, `all_safe`.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let roots = if args.card_root.is_empty() { volumes::default_card_roots() } else { args.card_root };
    let cards = volumes::cards(&volumes::system()?.mounted()?, &roots);
    // A home with no journal has sent nothing yet: no file is safe.
    let journal = Journal::open_read_only(&home.journal()).ok();
    let mut safe = Vec::new();
    for card in &cards {
        safe.push(match &journal {
            Some(journal) => card.safe_files(journal)?,
            None => 0,
        });
    }
    let all_safe = |card: &volumes::Card, safe: u64| card.files > 0 && safe == card.files;
    if args.json {
        let rows: Vec<serde_json::Value> = cards
            .iter()
            .zip(&safe)
            .map(|(card, &safe)| {
                serde_json::json!({
                    "id": card.name(),
                    "label": card.id.label,
                    "mounted_at": card.volume.mount_point.to_string_lossy(),
                    "files": card.files,
                    "safe": safe,
                    "all_safe": all_safe(card, safe),
                })
            })
            .collect();
        say!("{}", serde_json::Value::Array(rows));
        return Ok(ExitCode::SUCCESS);
    }
    if cards.is_empty() {
        say!(
            "no card mounted under {}",
            roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    for (card, &safe) in cards.iter().zip(&safe) {
        let verdict = if all_safe(card, safe) { "SAFE TO FORMAT" } else { "not safe to format yet" };
        say!(
            "{} ({}) at {}: {safe} of {} file(s) safe — {verdict}",
            card.id.label.as_deref().unwrap_or("card"),
            card.name(),
            card.volume.mount_point.display(),
            card.files
        );
    }
    Ok(ExitCode::SUCCESS)
}
