//! The journal: one SQLite file that records every asset, rendition and upload and every
//! change to them, so that a crash, a pulled card, a sleeping laptop or a dropped network
//! loses nothing and repeats nothing. Each change is one transaction together with its
//! event; after a kill at any instant the file is consistent and [`Journal::remaining`]
//! says exactly what is left. It does not read photos, develop or upload: callers report.
//! Main types: [`Journal`] (the one writer), [`Upload`], [`Remaining`], [`Error`].

mod assets;
mod cards;
mod error;
mod open;
mod owner;
mod parts;
mod paths;
mod renditions;
mod rows;
mod status;
mod uploads;

pub use crate::assets::{AssetFacts, AssetId, Edited, NewAsset, Recorded};
pub use crate::cards::KnownCard;
pub use crate::error::{Error, Result};
pub use crate::open::{Journal, SCHEMA_VERSION};
pub use crate::parts::UploadPart;
pub use crate::renditions::{Rendition, RenditionId};
pub use crate::rows::{AssetRow, UploadRow};
pub use crate::status::{DestinationStatus, Problem};
pub use crate::uploads::{NewUpload, Remaining, Upload, UploadId, UploadState};
