//! The tus 1.0 client: OPTIONS discovery, creation (with the first chunk when the server
//! allows it), HEAD and PATCH from the server's offset with a SHA-256 per chunk when the
//! server checks them, and termination. One [`TusClient`] talks to one destination.
//! [`send`] drives one file to the end through those requests, reporting every
//! acknowledged offset to a [`Record`] (the journal) before the next request.
//! It does not schedule or retry: the scheduler decides what to send and when to try again.
//! Main types: [`TusClient`], [`Destination`], [`send`], [`Record`], [`Error`].

mod client;
mod error;
mod metadata;
mod pacing;
mod send;

pub use crate::client::{Capabilities, Created, Destination, TusClient};
pub use crate::error::{Error, Result};
pub use crate::metadata::encode_metadata;
pub use crate::pacing::{Backoff, Bandwidth};
pub use crate::send::{send, Job, Record, Sent};
