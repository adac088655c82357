//! Reading a camera file: RAW through rawler, camera JPEGs through mozjpeg. Every decoder
//! call runs behind [`catch_panic`], so a malformed file is an error for that file only.

use std::path::{Path, PathBuf};

use rawler::decoders::RawDecodeParams;
use rawler::imgop::xyz::Illuminant;
use rawler::rawimage::{RawImageData, RawPhotometricInterpretation};
use rawler::rawsource::RawSource;

use crate::edits::Edits;
use crate::error::{catch_panic, Error, Result};
use crate::image::{Cfa, Rgb8};
use crate::metadata::Metadata;

/// A decoded input file, before development.
// One per file being developed, for as long as its decode: the variants' sizes matter not.
#[allow(clippy::large_enum_variant)]
pub enum Source {
    Raw(RawFrame),
    /// A camera JPEG: already developed, it is only resized and re-encoded.
    Jpeg {
        image: Rgb8,
        orientation: u16,
        metadata: Metadata,
    },
}

/// Sensor values as stored in the file (not yet scaled), integer or float.
pub enum SensorData {
    U16(Vec<u16>),
    F32(Vec<f32>),
}

/// A RAW file's mosaic and everything the develop stages need to interpret it.
pub struct RawFrame {
    pub path: PathBuf,
    /// Size of the whole sensor readout, masked borders included.
    pub sensor_width: usize,
    pub sensor_height: usize,
    pub data: SensorData,
    /// The part of the sensor that makes the picture: (x, y, width, height).
    pub crop: (usize, usize, usize, usize),
    /// The CFA pattern anchored at the sensor's top-left corner.
    pub cfa: Cfa,
    /// Black levels repeating from the sensor's top-left corner: (width, height, levels).
    pub black: (usize, usize, Vec<f32>),
    pub white: f32,
    /// White balance multipliers for R, G, B, scaled so that the smallest is 1: as shot,
    /// or the sidecar's temperature and tint.
    pub wb: [f32; 3],
    /// The camera's as-shot multipliers (what its own JPEG preview was made with).
    pub shot_wb: [f32; 3],
    /// The camera's XYZ (D65) to camera RGB matrix.
    pub xyz_to_cam: [[f32; 3]; 3],
    /// White-balanced camera RGB to linear sRGB (D65); each row sums to 1 so that
    /// camera white stays white.
    pub cam_to_srgb: [[f32; 3]; 3],
    /// EXIF orientation, 1..=8.
    pub orientation: u16,
    pub metadata: Metadata,
    /// The file as read, where the camera's preview lies (None for frames made in memory).
    pub file: Option<std::sync::Arc<Vec<u8>>>,
    /// A photographer's edits from the file's XMP sidecar.
    pub edits: Option<Edits>,
}

const JPEG_EXTENSIONS: [&str; 2] = ["JPG", "JPEG"];

/// Whether a file's extension is one we try to develop (RAW formats rawler knows, JPEG).
pub fn is_supported_extension(path: &Path) -> bool {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
        return false;
    };
    let ext = ext.to_ascii_uppercase();
    JPEG_EXTENSIONS.contains(&ext.as_str())
        || rawler::decoders::supported_extensions().contains(&ext.as_str())
}

/// Reads and decodes one file.
pub fn load(path: &Path) -> Result<Source> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(Error::Unsupported { path: path.to_path_buf() });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    if crate::inspect::is_jpeg(&bytes) {
        return load_jpeg(path, &bytes);
    }
    if !is_supported_extension(path) {
        return Err(Error::Unsupported { path: path.to_path_buf() });
    }
    if bytes.is_empty() {
        return Err(decode_error(path, "the file is empty"));
    }
    let mut source = load_raw(path, bytes)?;
    if let Source::Raw(frame) = &mut source {
        frame.edits = Edits::beside(path);
        if let Some(edits) = &mut frame.edits {
            if let Some((temperature, tint)) = edits.white_balance {
                match crate::edits::multipliers(temperature, tint, &frame.xyz_to_cam) {
                    Some(wb) => frame.wb = wb,
                    None => {
                        edits.white_balance = None;
                        edits
                            .unsupported
                            .push(format!("white balance {temperature} K (not for this camera's matrix)"));
                    }
                }
            }
        }
    }
    Ok(source)
}

/// The camera metadata of a file (capture time, make and model, …) without decoding its
/// image.
pub fn read_metadata(path: &Path) -> Result<Metadata> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    crate::inspect::metadata(path, &std::sync::Arc::new(bytes))
}

fn decode_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Decode { path: path.to_path_buf(), reason: reason.into() }
}

fn load_jpeg(path: &Path, bytes: &[u8]) -> Result<Source> {
    let image = crate::encode::decode_jpeg(bytes).map_err(|reason| decode_error(path, reason))?;
    let (metadata, orientation) = Metadata::from_jpeg(bytes);
    Ok(Source::Jpeg { image, orientation, metadata })
}

/// TIFF-based RAW formats (CR2, NEF, ARW, DNG, PEF, …) say where their image data lies, and
/// rawler pads reads past the end of a file, so a truncated file (a card pulled mid-copy)
/// would decode into a partly blank image. Returns where the data should end when that is
/// beyond the end of the file.
fn truncated_at(bytes: &[u8]) -> Option<usize> {
    if crate::inspect::is_jpeg(bytes) {
        return None;
    }
    let end = crate::inspect::image_data(bytes)?.iter().map(|r| r.end).max()?;
    (end > bytes.len()).then_some(end)
}

fn load_raw(path: &Path, bytes: Vec<u8>) -> Result<Source> {
    if let Some(end) = truncated_at(&bytes) {
        let reason = format!(
            "the file is truncated: its image data runs to byte {end}, the file ends at {}",
            bytes.len()
        );
        return Err(decode_error(path, reason));
    }
    let file = std::sync::Arc::new(bytes);
    let source = RawSource::new_from_shared_vec(file.clone()).with_path(path);
    let params = RawDecodeParams::default();
    let decoded = catch_panic(|| {
        let decoder = rawler::get_decoder(&source)?;
        let image = decoder.raw_image(&source, &params, false)?;
        // Metadata is a nicety: a file whose EXIF is damaged still develops.
        let metadata = decoder.raw_metadata(&source, &params).ok();
        Ok::<_, rawler::RawlerError>((image, metadata))
    });
    let (image, raw_meta) = match decoded {
        Ok(Ok(decoded)) => decoded,
        Ok(Err(err)) => return Err(decode_error(path, err.to_string())),
        Err(panic) => return Err(decode_error(path, format!("decoder failure: {panic}"))),
    };
    let fail = |reason: String| decode_error(path, reason);

    let RawPhotometricInterpretation::Cfa(config) = &image.photometric else {
        return Err(fail(
            "not a colour-filter-array sensor (linear or monochrome DNGs are not supported yet)".into(),
        ));
    };
    if image.cpp != 1 || !config.cfa.is_rgb() || image.fuji_rotation_width.is_some() {
        return Err(fail(format!("unsupported sensor layout (CFA {})", config.cfa.name)));
    }
    let (w, h) = (image.width, image.height);
    let samples = match &image.data {
        RawImageData::Integer(v) => v.len(),
        RawImageData::Float(v) => v.len(),
    };
    if w == 0 || h == 0 || samples != w * h {
        return Err(fail(format!("image data does not match its size {w}×{h}")));
    }
    let mut colors = Vec::with_capacity(config.cfa.width * config.cfa.height);
    for row in 0..config.cfa.height {
        for col in 0..config.cfa.width {
            colors.push(config.cfa.color_at(row, col) as u8);
        }
    }
    let cfa = Cfa { width: config.cfa.width, height: config.cfa.height, colors };
    if cfa.width == 0 || cfa.height == 0 || cfa.colors.iter().any(|&c| c > 2) {
        return Err(fail(format!("unsupported CFA pattern {}", config.cfa.name)));
    }

    let area = image.crop_area.or(image.active_area);
    let crop = match area {
        Some(r) if r.d.w >= 16 && r.d.h >= 16 && r.p.x + r.d.w <= w && r.p.y + r.d.h <= h => {
            (r.p.x, r.p.y, r.d.w, r.d.h)
        }
        _ => (0, 0, w, h),
    };

    let black_levels = image.blacklevel.as_vec();
    let black = if black_levels.len() == image.blacklevel.width * image.blacklevel.height
        && !black_levels.is_empty()
    {
        (image.blacklevel.width, image.blacklevel.height, black_levels)
    } else {
        (1, 1, vec![0.0])
    };
    let white = image.whitelevel.0.first().copied().unwrap_or(65535) as f32;
    if black.2.iter().any(|&b| b >= white) {
        return Err(fail(format!("black level {:?} is not below white level {white}", black.2)));
    }

    let xyz_to_cam = color_matrix(&image).ok_or_else(|| fail("the file has no colour matrix".into()))?;
    let cam_to_srgb = crate::stages::color::camera_to_srgb(&xyz_to_cam)
        .ok_or_else(|| fail("the camera colour matrix is singular".into()))?;

    let wb =
        white_balance(&image.wb_coeffs).or_else(|| white_balance(&image.neutralwb())).unwrap_or([1.0; 3]);

    let orientation = match image.orientation.to_u16() {
        o @ 1..=8 => o,
        _ => 1,
    };
    let mut metadata = raw_meta.as_ref().map(Metadata::from_raw).unwrap_or_default();
    // rawler's metadata carries its short "clean" names; EXIF should say what the camera wrote.
    for (field, written) in [(&mut metadata.make, &image.make), (&mut metadata.model, &image.model)] {
        let written = written.trim_matches(|c: char| c == '\0' || c.is_whitespace());
        if !written.is_empty() {
            *field = Some(written.to_string());
        }
    }
    let data = match image.data {
        RawImageData::Integer(v) => SensorData::U16(v),
        RawImageData::Float(v) => SensorData::F32(v),
    };
    Ok(Source::Raw(RawFrame {
        path: path.to_path_buf(),
        sensor_width: w,
        sensor_height: h,
        data,
        crop,
        cfa,
        black,
        white,
        wb,
        shot_wb: wb,
        xyz_to_cam,
        cam_to_srgb,
        orientation,
        metadata,
        file: Some(file),
        edits: None,
    }))
}

/// The XYZ→camera matrix for D65, adapting another illuminant's matrix when that is all
/// the file has.
fn color_matrix(image: &rawler::RawImage) -> Option<[[f32; 3]; 3]> {
    use rawler::imgop::chromatic_adaption::adapt_bradford;
    let order = [
        Illuminant::D65,
        Illuminant::D55,
        Illuminant::D50,
        Illuminant::D75,
        Illuminant::Daylight,
        Illuminant::Flash,
        Illuminant::A,
    ];
    let to3 = |m: &[f32]| -> Option<[[f32; 3]; 3]> {
        if m.len() < 9 || m.iter().take(9).any(|v| !v.is_finite()) {
            return None;
        }
        Some([[m[0], m[1], m[2]], [m[3], m[4], m[5]], [m[6], m[7], m[8]]])
    };
    if let Some((illuminant, flat)) = image.color_matrix_find_first(order) {
        let m = to3(&flat)?;
        return Some(if illuminant == Illuminant::D65 {
            m
        } else {
            adapt_bradford(&illuminant, &Illuminant::D65, &m)
        });
    }
    let legacy = image.xyz_to_cam;
    let m = [legacy[0], legacy[1], legacy[2]];
    (m.iter().flatten().any(|v| *v != 0.0)).then_some(m)
}

/// Normalises camera multipliers (R, G, B, E) so that the smallest of R, G, B is 1;
/// None when the file's values are unusable.
fn white_balance(coeffs: &[f32; 4]) -> Option<[f32; 3]> {
    let rgb = [coeffs[0], coeffs[1], coeffs[2]];
    if rgb.iter().any(|v| !v.is_finite() || *v <= 0.0) {
        return None;
    }
    let min = rgb.iter().copied().fold(f32::INFINITY, f32::min);
    Some(rgb.map(|v| v / min))
}
