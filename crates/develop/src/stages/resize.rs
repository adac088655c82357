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
    /// A resizer per thread, kept from image to image: its intermediate buffer (tens of
    /// megabytes) is then allocated and page-faulted once, not per image — measured, the
    /// first resize of a process takes 1.7× as long as the ones after it.
    static RESIZER: RefCell<Resizer> = RefCell::new(Resizer::new());
}

pub fn apply(image: Rgb16, width: usize, height: usize) -> Result<Rgb16, String> {
    if (width, height) == (image.width, image.height) {
        return Ok(image);
    }
    let bytes: &[u8] = bytemuck::cast_slice(&image.data);
    let src = ImageRef::new(image.width as u32, image.height as u32, bytes, PixelType::U16x3)
        .map_err(|e| format!("resize: {e}"))?;
    // The resizer writes straight into the output's pixels: no copy out of its own buffer.
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
    fn flat_field_stays_flat() {
        let image = Rgb16 { width: 64, height: 48, data: vec![[16384, 32768, 49152]; 64 * 48] };
        let out = apply(image, 16, 12).expect("resize");
        assert_eq!(out.data.len(), 16 * 12);
        for p in &out.data {
            assert!(p[0].abs_diff(16384) <= 1 && p[2].abs_diff(49152) <= 1, "{p:?}");
        }
    }
}
