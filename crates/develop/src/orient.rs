//! EXIF orientation applied to the pixels, so every viewer shows the rendition upright even
//! if it ignores the tag (the rendition's EXIF then says 1, "normal").

use rayon::prelude::*;

use crate::image::{Rgb8, RgbF32};

/// Rotates and mirrors `image` as EXIF `orientation` (1..=8) asks; other values leave it.
pub fn apply(image: Rgb8, orientation: u16) -> Rgb8 {
    let pixels: &[[u8; 3]] = bytemuck::cast_slice(&image.data);
    match transform(pixels, image.width, image.height, orientation) {
        Some((data, width, height)) => Rgb8 { width, height, data: bytemuck::cast_vec(data) },
        None => image,
    }
}

pub fn apply_f32(image: RgbF32, orientation: u16) -> RgbF32 {
    match transform(&image.data, image.width, image.height, orientation) {
        Some((data, width, height)) => RgbF32 { width, height, data },
        None => image,
    }
}

/// The transformed pixels and size; None when `orientation` asks for nothing.
fn transform<T: Copy + Send + Sync>(
    pixels: &[T],
    w: usize,
    h: usize,
    orientation: u16,
) -> Option<(Vec<T>, usize, usize)> {
    if !(2..=8).contains(&orientation) {
        return None;
    }
    let swap = orientation >= 5;
    let (ow, oh) = if swap { (h, w) } else { (w, h) };
    // For each output pixel, the source pixel it shows.
    let source = |ox: usize, oy: usize| -> (usize, usize) {
        match orientation {
            2 => (w - 1 - ox, oy),
            3 => (w - 1 - ox, h - 1 - oy),
            4 => (ox, h - 1 - oy),
            5 => (oy, ox),
            6 => (oy, h - 1 - ox),
            7 => (w - 1 - oy, h - 1 - ox),
            _ => (w - 1 - oy, ox),
        }
    };
    let mut data = pixels.to_vec();
    data.par_chunks_mut(ow).enumerate().for_each(|(oy, row)| {
        for (ox, px) in row.iter_mut().enumerate() {
            let (sx, sy) = source(ox, oy);
            *px = pixels[sy * w + sx];
        }
    });
    Some((data, ow, oh))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2×1 image with a red left pixel and a blue right one.
    fn strip() -> Rgb8 {
        Rgb8 { width: 2, height: 1, data: vec![255, 0, 0, 0, 0, 255] }
    }

    #[test]
    fn rotate_90_clockwise_puts_left_on_top() {
        let out = apply(strip(), 6);
        assert_eq!((out.width, out.height), (1, 2));
        assert_eq!(&out.data[..3], &[255, 0, 0]);
    }

    #[test]
    fn rotate_270_clockwise_puts_left_at_bottom() {
        let out = apply(strip(), 8);
        assert_eq!(&out.data[3..], &[255, 0, 0]);
    }

    #[test]
    fn mirror_swaps_left_and_right() {
        assert_eq!(apply(strip(), 2).data, vec![0, 0, 255, 255, 0, 0]);
        assert_eq!(apply(strip(), 1).data, strip().data);
    }
}
