//! The tus 1.0 client: OPTIONS discovery, creation (with the first chunk when the server
//! allows it), HEAD and PATCH from the server's offset with a SHA-256 per chunk when the
//! server checks them, and termination. One [`TusClient`] talks to one destination.
//! [`send`] drives one file to the end through those requests, reporting every
//! acknowledged offset to a [`Record`] (the journal) before the next request.
//! [`run`] is the scheduler: several files at once from a [`Queue`] (the journal), retries
//! with backoff, stall cuts, a bandwidth cap ([`Pace`]) and adaptive stream counts.
//! Main types: [`TusClient`], [`Destination`], [`send`], [`Record`], [`run`], [`Queue`],
//! [`Policy`], [`Error`].

mod client;
mod error;
mod metadata;
mod pacing;
mod schedule;
mod send;

pub use crate::client::{Capabilities, Created, Destination, Pace, TusClient};
pub use crate::error::{Error, Result};
pub use crate::metadata::encode_metadata;
pub use crate::pacing::{Backoff, Bandwidth, Gate, GateState};
pub use crate::schedule::{run, run_with, Climb, Next, Policy, Queue, Summary, Task};
pub use crate::send::{send, Job, Part, Record, Sent};
