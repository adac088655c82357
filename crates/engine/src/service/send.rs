//! The engine's transfer loop: a scheduler run per destination, for as long as the engine
//! lasts. A destination that cannot be reached is tried again every few seconds by a
//! long-running engine; one finishing (`wedsync upload`) reports it and ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use wedsync_transfer::{Policy, Summary, TusClient};

use crate::queue::JournalQueue;
use crate::service::Core;

/// How long a long-running engine waits before trying an unreachable destination again.
const RECONNECT: Duration = Duration::from_secs(5);

pub(crate) async fn transfer(core: Arc<Core>, policy: Policy) -> (Summary, Option<String>) {
    let mut total = Summary::default();
    loop {
        if core.closing() || core.stop.is_set() {
            return (total, None);
        }
        let generation = core.generation();
        let Some(destination) = core.full_destination() else { return (total, None) };
        match TusClient::connect(destination).await {
            Ok(mut client) => {
                set_unreachable(&core, None);
                client.set_pace(core.pace.clone());
                let queue = JournalQueue { core: core.clone(), generation, left: Mutex::new(HashMap::new()) };
                let summary =
                    wedsync_transfer::run_with(client, queue, policy.clone(), core.streams.clone()).await;
                add(&mut total, &summary);
                // Ended because everything is done (finishing), or the engine stops; a
                // new destination starts a new run.
                if core.generation() == generation
                    && (core.finishing() || core.closing() || core.stop.is_set())
                {
                    return (total, None);
                }
            }
            Err(e) => {
                if core.finishing() {
                    return (total, Some(e.to_string()));
                }
                set_unreachable(&core, Some(trouble(&e, &core.destination())));
                let mut waited = Duration::ZERO;
                while waited < RECONNECT && !core.closing() && core.generation() == generation {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    waited += Duration::from_millis(100);
                }
            }
        }
    }
}

/// What a window says when the destination does not take uploads: what happened and what
/// to do, in a sentence; the error's own words last, for support.
fn trouble(e: &wedsync_transfer::Error, endpoint: &str) -> String {
    use wedsync_transfer::Error;
    let host = endpoint.split("://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or(endpoint);
    match e {
        Error::Status { status: 401 | 403, .. } => format!(
            "The server at {host} refused the token ({e}). Set a valid token (config.toml, [destination] token); \
             uploads wait and go on by themselves once it is accepted."
        ),
        Error::Network { source, .. } => {
            let mut root: &dyn std::error::Error = source;
            while let Some(next) = root.source() {
                root = next;
            }
            format!(
                "The server at {host} cannot be reached ({root}). Check this computer's connection; \
                 uploads wait and go on by themselves when it answers."
            )
        }
        other => format!(
            "The server at {host} does not take uploads now ({other}). Uploads wait and are tried again every few seconds."
        ),
    }
}

fn set_unreachable(core: &Core, why: Option<String>) {
    if let Ok(mut u) = core.unreachable.lock() {
        if *u != why {
            *u = why;
            core.view.touched();
        }
    }
}

fn add(total: &mut Summary, run: &Summary) {
    total.sent += run.sent;
    total.failed += run.failed;
    total.left += run.left;
    total.resent += run.resent;
    total.peak_streams = total.peak_streams.max(run.peak_streams);
}
