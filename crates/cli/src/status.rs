//! `wedsync status`: what the journal says — files recorded, renditions, uploads per
//! destination, and what needs a person and why. Reads only (no lock, no migration): safe
//! while `wedsync upload` runs.

use std::process::ExitCode;

use wedsync_engine::Home;
use wedsync_journal::Journal;

#[derive(clap::Args)]
pub struct Args {
    /// Problems to list at most.
    #[arg(long, default_value_t = 20)]
    problems: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let path = home.journal();
    if !path.exists() {
        say!("nothing recorded yet ({} does not exist)", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let journal = Journal::open_read_only(&path)?;
    let (assets, renditions, ready) = journal.counts()?;
    let remaining = journal.remaining()?;
    say!("journal {}", path.display());
    say!(
        "{assets} camera file(s); renditions: {ready} ready, {} to develop, {} in all",
        remaining.renditions_pending,
        renditions
    );
    for d in journal.destinations()? {
        say!(
            "{}: {} verified, {} queued, {} sending, {} refused; {:.1} MB left",
            d.destination,
            d.verified,
            d.queued,
            d.sending,
            d.failed,
            d.bytes_left as f64 / 1e6
        );
    }
    let problems = journal.problems(None, args.problems)?;
    for p in &problems {
        say!("{:<8} {} ({}): {}", p.kind, p.path.display(), p.what, p.error);
    }
    if problems.iter().any(|p| p.kind != "develop") {
        say!(
            "(refused: the server or a proxy said no — fix what the message says; waiting: a card to \
             reinsert or a network that failed too often. `wedsync upload` tries both again.)"
        );
    }
    let left = remaining.uploads_queued
        + remaining.uploads_sending
        + remaining.renditions_pending
        + remaining.uploads_refused;
    say!(
        "{}",
        if left == 0 { "nothing left to do" } else { "work left: run `wedsync upload` again to finish" }
    );
    Ok(ExitCode::SUCCESS)
}
