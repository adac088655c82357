//! Resizing in linear light with Lanczos3 (fast_image_resize, SIMD).

use std::cell::RefCell;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::image::Rgb16;

/// The size that fits `long_edge` on the longer side, keeping the aspect ratio; the input
/// size when it is already that small (renditions are never upscaled).
pub fn fit(width: usize, height: usize, long_edge: Option<usize>) -> (usize, usize) {
    let long = width.max(height);
    let Some(long_edge) = long_edge else { return (width, height) };
    if long <= long_edge || long_edge == 0 {
        return (width, height);
    }
    let scale = long_edge as f64 / long as f64;
    let w = ((width as f64 * scale).round() as usize).max(1);
    let h = ((height as f64 * scale).round() as usize).max(1);
    (w, h)
}

thread_local! {
    /// A resizer per thread, kept from image to image (it holds no image buffer: each pass
    /// below writes straight into its output, but it keeps its coefficient scratch).
    static RESIZER: RefCell<Resizer> = RefCell::new(Resizer::new());
}

/// Lanczos3 weights for resizing `in_size` samples to `out_size`, as fast_image_resize (and
/// Pillow before it) computes them, for the GPU backends: output `o` reads inputs
/// `bounds[o].0..` (`bounds[o].1` of them) with weights `values[o * window..]`, summing to 1.
pub(crate) struct Weights {
    pub bounds: Vec<(usize, usize)>,
    pub window: usize,
    pub values: Vec<f32>,
}

pub(crate) fn lanczos3_weights(in_size: usize, out_size: usize) -> Weights {
    const SUPPORT: f64 = 3.0;
    let sinc =
        |x: f64| if x == 0.0 { 1.0 } else { (x * std::f64::consts::PI).sin() / (x * std::f64::consts::PI) };
    let lanczos3 = |x: f64| if (-SUPPORT..SUPPORT).contains(&x) { sinc(x) * sinc(x / SUPPORT) } else { 0.0 };
    let scale = in_size as f64 / out_size as f64;
    // Downscaling widens the kernel to cover every input under the output pixel.
    let filter_scale = scale.max(1.0);
    let radius = SUPPORT * filter_scale;
    let window = radius.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut values = vec![0.0f32; window * out_size];
    for o in 0..out_size {
        let centre = (o as f64 + 0.5) * scale;
        let first = (centre - radius).floor().max(0.0) as usize;
        let end = ((centre + radius).ceil() as usize).min(in_size);
        let weights: Vec<f64> =
            (first..end).map(|x| lanczos3((x as f64 - (centre - 0.5)) / filter_scale)).collect();
        let sum: f64 = weights.iter().sum();
        for (v, w) in values[o * window..].iter_mut().zip(&weights) {
            *v = if sum == 0.0 { *w as f32 } else { (w / sum) as f32 };
        }
        bounds.push((first, weights.len()));
    }
    Weights { bounds, window, values }
}

/// Resizes across, into an image of the output's width and the input's height, then down.
/// One call of the resizer would do both passes through a buffer of its own, allocated
/// after the output, while the full-size input is still held. Two calls let the input go
/// before the output is allocated, and let the intermediate take the memory the freed
/// mosaic left: a one-file develop then maps no fresh pages here (it mapped ~46 MB, a
/// quarter of the `web` preset's page-zeroing). Both passes round to 16 bits either way,
/// so the result is the same (a test compares the two).
pub fn apply(image: Rgb16, width: usize, height: usize) -> Result<Rgb16, String> {
    if (width, height) == (image.width, image.height) {
        return Ok(image);
    }
    let across = if width == image.width {
        image
    } else {
        let across = pass(&image, width, image.height)?;
        drop(image);
        across
    };
    if height == across.height {
        return Ok(across);
    }
    pass(&across, width, height)
}

/// One call of the resizer: `image` to `width`×`height` (both axes where both change;
/// [`apply`] calls it once per axis).
fn pass(image: &Rgb16, width: usize, height: usize) -> Result<Rgb16, String> {
    let bytes: &[u8] = bytemuck::cast_slice(&image.data);
    let src = ImageRef::new(image.width as u32, image.height as u32, bytes, PixelType::U16x3)
        .map_err(|e| format!("resize: {e}"))?;
    let mut data = vec![[0u16; 3]; width * height];
    let mut dst = Image::from_slice_u8(
        width as u32,
        height as u32,
        bytemuck::cast_slice_mut(&mut data),
        PixelType::U16x3,
    )
    .map_err(|e| format!("resize: {e}"))?;
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    RESIZER
        .with_borrow_mut(|resizer| resizer.resize(&src, &mut dst, &options))
        .map_err(|e| format!("resize: {e}"))?;
    Ok(Rgb16 { width, height, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect_and_never_upscales() {
        assert_eq!(fit(3522, 2348, Some(2048)), (2048, 1365));
        assert_eq!(fit(2348, 3522, Some(2048)), (1365, 2048));
        assert_eq!(fit(800, 600, Some(2048)), (800, 600));
        assert_eq!(fit(800, 600, None), (800, 600));
    }

    #[test]
    fn two_passes_give_what_one_call_gives() {
        let (w, h) = (301, 203);
        let mut state = 0x2545_f491_u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 16) as u16
        };
        let data: Vec<[u16; 3]> = (0..w * h).map(|_| [next(), next(), next()]).collect();
        let image = Rgb16 { width: w, height: h, data };
        for (to_w, to_h) in [(117, 79), (300, 100), (150, 203)] {
            let one = pass(&image, to_w, to_h).expect("one call").data;
            let two = apply(image.clone(), to_w, to_h).expect("two passes");
            assert!(one == two.data, "{to_w}×{to_h} differs");
        }
    }

    #[test]
    fn flat_field_stays_flat() {
        let image = Rgb16 { width: 64, height: 48, data: vec![[16384, 32768, 49152]; 64 * 48] };
        let out = apply(image, 16, 12).expect("resize");
        assert_eq!(out.data.len(), 16 * 12);
        for p in &out.data {
            assert!(p[0].abs_diff(16384) <= 1 && p[2].abs_diff(49152) <= 1, "{p:?}");
        }
    }
}
