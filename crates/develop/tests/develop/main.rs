//! Integration tests of the develop pipeline on the real sample corpus (`../shared/samples`)
//! against LibRaw's `dcraw_emu`, libjpeg-turbo's `djpeg` and `exiftool` (installed by
//! `scripts/install-deps`).

mod colour;
mod corpus;
mod demosaic;
mod gpu;
mod look;
mod quality;
mod rawler_patch;
mod support;
