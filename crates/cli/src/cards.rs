//! `wedsync cards`: the camera cards mounted now and those a station has read and
//! remembers while they are out, with how many of each card's files are safe to format
//! away (by default: their original verified on a server). Reads only: safe while a
//! station or an upload runs. Nothing here ever deletes a file on a card.

use std::path::PathBuf;
use std::process::ExitCode;

use wedsync_engine::volumes::{self, Safety};
use wedsync_engine::{Config, Home};
use wedsync_journal::{Journal, KnownCard};

#[derive(clap::Args)]
pub struct Args {
    /// Where cards are mounted (default: the system's usual places, e.g. /media, /run/media
    /// and /mnt on Linux, /Volumes on macOS, every drive letter on Windows).
    #[arg(long, value_name = "DIR")]
    card_root: Vec<PathBuf>,
    /// What makes a file safe to format: its original verified on the server, a verified
    /// backup copy, or both (default: the configuration's `[watch] safe`, else server).
    #[arg(long, value_name = "server|backups|both")]
    safe: Option<Safety>,
    /// One JSON array, for scripts: `id`, `label`, `mounted_at` (null when out), `files`,
    /// `safe`, `all_safe`.
    #[arg(long)]
    json: bool,
}

/// One card's line.
struct Row {
    card: KnownCard,
    safe: u64,
}

impl Row {
    fn all_safe(&self) -> bool {
        !self.card.files.is_empty() && self.safe == self.card.files.len() as u64
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let policy = args.safe.or(Config::load(&home.config())?.watch.safe).unwrap_or_default();
    let roots = if args.card_root.is_empty() { volumes::default_card_roots() } else { args.card_root };
    let mounted: Vec<KnownCard> =
        volumes::cards(&volumes::system()?.mounted()?, &roots).iter().map(volumes::Card::known).collect();
    // A home with no journal has sent nothing yet: no file is safe, no card remembered.
    let journal = Journal::open_read_only(&home.journal()).ok();
    let remembered = match &journal {
        Some(journal) => journal.known_cards()?,
        None => Vec::new(),
    };
    let out: Vec<KnownCard> = remembered
        .into_iter()
        .filter(|known| !mounted.iter().any(|m| m.id == known.id))
        .map(|known| KnownCard { mounted: false, ..known })
        .collect();
    let mut rows = Vec::new();
    for card in mounted.into_iter().chain(out) {
        let safe = match &journal {
            Some(journal) => volumes::safe_count(journal, &card, policy)?,
            None => 0,
        };
        rows.push(Row { card, safe });
    }
    if args.json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|row| {
                serde_json::json!({
                    "id": row.card.id,
                    "label": row.card.label,
                    "mounted_at": row.card.mounted.then(|| row.card.mount.to_string_lossy()),
                    "files": row.card.files.len(),
                    "safe": row.safe,
                    "all_safe": row.all_safe(),
                })
            })
            .collect();
        say!("{}", serde_json::Value::Array(rows));
        return Ok(ExitCode::SUCCESS);
    }
    if !rows.iter().any(|r| r.card.mounted) {
        say!(
            "no card mounted under {}",
            roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    for row in &rows {
        let verdict = if row.all_safe() { "SAFE TO FORMAT" } else { "not safe to format yet" };
        let place = match row.card.mounted {
            true => format!("at {}", row.card.mount.display()),
            false => "out of the reader".to_string(),
        };
        say!(
            "{} ({}) {place}: {} of {} file(s) safe — {verdict}",
            row.card.label.as_deref().unwrap_or("card"),
            row.card.id,
            row.safe,
            row.card.files.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
