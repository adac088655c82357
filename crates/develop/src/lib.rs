//! Develops camera files into delivery JPEG renditions.
//!
//! A file is decoded (RAW through rawler, camera JPEGs through mozjpeg), runs through the
//! develop [`stages`] in floating point on the CPU — the reference the GPU backends must
//! match — and is encoded with mozjpeg, with an sRGB ICC profile and EXIF, at the JPEG
//! quality that the [`quality`] search picks to meet the preset's SSIMULACRA2 target.
//! It does not walk folders, keep a journal or upload: callers hand it one file at a time.
//! Main types: [`Preset`] (what to make), [`Rendition`] (what was made), [`Error`].

pub mod backend;
pub mod edits;
mod encode;
mod error;
mod icc;
mod image;
mod inspect;
pub mod lab;
pub mod look;
mod metadata;
mod orient;
mod pipeline;
mod preset;
pub mod quality;
mod source;
mod ssimulacra2;
pub mod stages;
pub mod synth;
mod thumbnail;
pub mod xmp;

pub use crate::backend::wgpu::has_render_node;
pub use crate::backend::{probe, BackendChoice, BackendOptions, Finding, Kind, Probe};
pub use crate::encode::{decode_jpeg, encode_jpeg, EncodeSettings};
pub use crate::error::{Error, Result};
pub use crate::image::{Mosaic, Rgb8, RgbF32};
pub use crate::inspect::{image_data, inspect, Inspected};
pub use crate::look::{Look, LookChoice, LookKind};
pub use crate::metadata::{Metadata, MetadataPolicy};
pub use crate::pipeline::{develop_linear, resize_srgb, Developed, Developer, Rendition, StageTime};
pub use crate::preset::{Effort, Preset, PresetSet, Quality, Size, Subsampling, EXPOSURE_RANGE};
pub use crate::source::{is_supported_extension, load, read_metadata, RawFrame, Source};
pub use crate::stages::demosaic::Demosaic;
pub use crate::thumbnail::thumbnail;
