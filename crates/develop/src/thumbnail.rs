//! Thumbnails for the app's queue: the camera's own rendering of the frame (the preview a
//! RAW file carries, else its thumbnail; a JPEG's own pixels), turned upright and scaled to
//! a long edge. Never the RAW's mosaic: a thumbnail must cost milliseconds. The preview
//! comes first: the small thumbnails are often letterboxed (a CR2's is 160×120 for a 3:2
//! frame).

use std::path::Path;
use std::sync::Arc;

use rawler::decoders::RawDecodeParams;
use rawler::rawsource::RawSource;

use crate::encode::{decode_jpeg, decode_jpeg_scaled, encode_jpeg, EncodeSettings};
use crate::error::{catch_panic, Error, Result};
use crate::image::Rgb8;
use crate::inspect::is_jpeg;
use crate::metadata::Metadata;
use crate::preset::{Effort, Subsampling};

/// A JPEG of the frame in `path`, its long edge at most `long_edge` pixels.
pub fn thumbnail(path: &Path, long_edge: usize) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let fail = |reason: String| Error::Decode { path: path.to_path_buf(), reason };
    let (image, orientation) = if is_jpeg(&bytes) {
        let orientation = Metadata::from_jpeg(&bytes).1;
        (decode_jpeg(&bytes).map_err(fail)?, orientation)
    } else {
        embedded(path, bytes, long_edge)?
    };
    let small = crate::pipeline::resize_srgb(image, Some(long_edge)).map_err(fail)?;
    let upright = crate::orient::apply(small, orientation);
    let settings = EncodeSettings { quality: 80, subsampling: Subsampling::S420, effort: Effort::Fast };
    encode_jpeg(&upright, &settings, None, None).map_err(fail)
}

/// The camera's rendering a RAW file carries, at least `long_edge` pixels where it can be,
/// and the frame's orientation. The largest JPEG in the file is decoded by the decoder's
/// own scaling (a CR2's 1728×1152 preview at 1/8 for a 96 px thumbnail); rawler decodes
/// what is not a JPEG.
fn embedded(path: &Path, bytes: Vec<u8>, long_edge: usize) -> Result<(Rgb8, u16)> {
    let fail = |reason: String| Error::Decode { path: path.to_path_buf(), reason };
    let bytes = Arc::new(bytes);
    let source = RawSource::new_from_shared_vec(bytes.clone()).with_path(path);
    let params = RawDecodeParams::default();
    let scaled = crate::look::embedded_jpeg(&bytes).and_then(|(jpeg, w, h)| {
        let eighths = (1..=8).find(|&n| w.max(h) * n / 8 >= long_edge).unwrap_or(8);
        decode_jpeg_scaled(jpeg, eighths as u8).ok()
    });
    let found = catch_panic(|| {
        let decoder = rawler::get_decoder(&source)?;
        let orientation = decoder.raw_metadata(&source, &params).ok().and_then(|m| m.exif.orientation);
        if scaled.is_some() {
            return Ok((None, orientation));
        }
        let small = match decoder.preview_image(&source, &params)? {
            Some(image) => Some(image),
            None => decoder.thumbnail_image(&source, &params)?,
        };
        Ok::<_, rawler::RawlerError>((small.map(|image| image.to_rgb8()), orientation))
    });
    let (small, orientation) = match found {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return Err(fail(e.to_string())),
        Err(panic) => return Err(fail(format!("decoder failure: {panic}"))),
    };
    let decoded = small.map(|rgb| Rgb8 {
        width: rgb.width() as usize,
        height: rgb.height() as usize,
        data: rgb.into_raw(),
    });
    let image = scaled
        .or(decoded)
        .ok_or_else(|| fail("the file carries no preview to make a thumbnail of".into()))?;
    Ok((image, orientation.filter(|o| (1..=8).contains(o)).unwrap_or(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples").join(name)
    }

    #[test]
    fn a_raw_gives_its_embedded_rendering_small_and_fast() {
        // Once to warm up: rawler reads its list of cameras once per process.
        thumbnail(&sample("canon-eos30d-IMG_5952.CR2"), 96).expect("a thumbnail");
        let started = std::time::Instant::now();
        let jpeg = thumbnail(&sample("canon-eos30d-IMG_5952.CR2"), 96).expect("a thumbnail");
        let image = decode_jpeg(&jpeg).expect("a JPEG");
        assert_eq!(image.width.max(image.height), 96, "{}×{}", image.width, image.height);
        // The CR2's thumbnail is 3:2 like the frame.
        assert_eq!(image.width * 2, image.height * 3, "{}×{}", image.width, image.height);
        println!("CR2 thumbnail {}×{} in {:?}", image.width, image.height, started.elapsed());
    }

    #[test]
    fn a_file_that_is_no_photo_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join("IMG_0001.CR2");
        std::fs::write(&bad, b"not a raw file").expect("write");
        let e = thumbnail(&bad, 96).expect_err("not a photo").to_string();
        assert!(e.contains("IMG_0001.CR2"), "{e}");
    }
}
