//! Highlight handling. After white balance every channel clips at a different value; where
//! any channel reached its clip the true colour is unknown, and keeping the unclipped
//! channels' higher values turns a white dress magenta. Clipping all channels at the clip
//! point of the least-amplified one (1.0 after `levels`) keeps blown whites neutral.
//!
//! The develop path clips as each band is levelled ([`Levels::clipped`]); [`apply`] clips
//! a whole mosaic.
//!
//! [`Levels::clipped`]: crate::stages::levels::Levels::clipped

use rayon::prelude::*;

use crate::image::Mosaic;

pub fn apply(mosaic: &mut Mosaic) {
    mosaic.data.par_iter_mut().for_each(|v| *v = v.min(1.0));
}
