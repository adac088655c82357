//! The engine: from camera files to verified uploads. It records each file in the journal
//! (hashing it once), develops the renditions the presets ask for into a content-addressed
//! cache, plans their uploads (and the originals' when asked), and runs the scheduler over
//! what the journal says is left — so a second run after any interruption does only what is
//! missing. The CLI and the desktop app drive it; it prints nothing.
//! Cards are found as the OS mounts them ([`volumes`]); a file is taken only once whole
//! ([`settle`]); tethering folders are read by rescanning ([`hotfolder`]); which files a
//! source takes, and the camera JPEG kept with its RAW, is [`kinds`].
//! The engine runs as a service ([`Engine`]): hosts send [`Intent`]s and read
//! [`Snapshot`]s and coalesced [`Delta`]s; [`upload`] is one such host.
//! Main types: [`Engine`], [`Intent`], [`Home`], [`UploadRequest`], [`upload`], [`Event`], [`Config`].

pub mod backup;
mod cache;
mod config;
mod error;
mod hash;
mod home;
pub mod hotfolder;
pub mod inputs;
pub mod kinds;
pub mod preferences;
pub mod presets;
mod queue;
pub mod rename;
pub mod secrets;
pub mod service;
pub mod settle;
mod sidecar;
pub mod station;
pub mod transport;
mod upload;
pub mod volumes;

pub use crate::cache::CacheUsage;
pub use crate::config::{Config, DestinationConfig, SourceConfig, WatchConfig};
pub use crate::error::{Error, Result};
pub use crate::hash::sha256_file;
pub use crate::home::Home;
pub use crate::queue::Events;
pub use crate::service::sources::{Source, SourceKind};
pub use crate::service::view::{CardRow, Delta, Row, Snapshot, SourceRow, Totals, UploadProgress};
pub use crate::service::work::Rules;
pub use crate::service::{Engine, Intent, Settings};
pub use crate::sidecar::Sidecar;
pub use crate::upload::{upload, Event, Report, UploadRequest};
