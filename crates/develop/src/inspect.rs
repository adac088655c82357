//! What taking a camera file in needs to know of it without developing it: its camera
//! metadata (capture time, body), the rating the camera or an editor embedded in it, and
//! where its picture lies — the byte ranges of the image data, which a rating set in the
//! camera or a caption written by another tool leave alone, so that such an edit is known
//! to be the same photograph.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use exif::{Context, In, Tag, Value};
use rawler::decoders::RawDecodeParams;
use rawler::rawsource::RawSource;

use crate::error::{catch_panic, Error, Result};
use crate::metadata::Metadata;

/// XMP packets in a TIFF-based file (TIFF tag 700).
const XMP_TAG: Tag = Tag(Context::Tiff, 700);
/// The rating Windows and several cameras write to IFD0 (0–5 stars, -1 rejected).
const RATING_TAG: Tag = Tag(Context::Tiff, 0x4746);
/// How a JPEG's APP1 segment says it holds an XMP packet.
const XMP_APP1: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

/// What a camera file says of itself, short of its pixels.
#[derive(Debug, Clone, Default)]
pub struct Inspected {
    /// None where the file's metadata cannot be read (it may still develop).
    pub metadata: Option<Metadata>,
    /// The camera body's serial number (EXIF BodySerialNumber), where the file has one.
    pub body_serial: Option<String>,
    /// The camera's model as its EXIF says (IFD0 Model), where it can be read.
    pub exif_model: Option<String>,
    /// The EXIF rating in IFD0, where the file has one.
    pub exif_rating: Option<i64>,
    /// The XMP packet embedded in the file, where it has one.
    pub xmp: Option<String>,
    /// Where the picture lies; None for a container whose layout is not known here.
    pub image_data: Option<Vec<Range<usize>>>,
}

/// Inspects a camera file's bytes (read whole by the caller, who hashes them too).
pub fn inspect(path: &Path, bytes: &Arc<Vec<u8>>) -> Inspected {
    let exif = read_exif(bytes);
    let field = |tag| exif.as_ref().and_then(|e| e.get_field(tag, In::PRIMARY)).map(|f| &f.value);
    let text = |tag| match field(tag) {
        Some(Value::Ascii(v)) => v
            .first()
            .map(|s| {
                String::from_utf8_lossy(s).trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_string()
            })
            .filter(|s| !s.is_empty()),
        _ => None,
    };
    let (body_serial, exif_model) = (text(Tag::BodySerialNumber), text(Tag::Model));
    let exif_rating = field(RATING_TAG)
        .and_then(|v| match v {
            Value::SShort(s) => s.first().map(|&r| i64::from(r)),
            other => other.get_uint(0).map(i64::from),
        })
        .filter(|r| (-1..=5).contains(r));
    let xmp = if is_jpeg(bytes) {
        jpeg_xmp(bytes)
    } else {
        match field(XMP_TAG) {
            Some(Value::Byte(b) | Value::Undefined(b, _)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    };
    Inspected {
        metadata: metadata(path, bytes).ok(),
        body_serial,
        exif_model,
        exif_rating,
        xmp,
        image_data: image_data(bytes),
    }
}

/// The camera metadata of a file's bytes: EXIF for a JPEG, rawler's reading for a RAW.
pub(crate) fn metadata(path: &Path, bytes: &Arc<Vec<u8>>) -> Result<Metadata> {
    if is_jpeg(bytes) {
        return Ok(Metadata::from_jpeg(bytes).0);
    }
    let source = RawSource::new_from_shared_vec(bytes.clone()).with_path(path);
    let read = catch_panic(|| {
        let decoder = rawler::get_decoder(&source)?;
        decoder.raw_metadata(&source, &RawDecodeParams::default())
    });
    let fail = |reason: String| Error::Decode { path: path.to_path_buf(), reason };
    match read {
        Ok(Ok(meta)) => Ok(Metadata::from_raw(&meta)),
        Ok(Err(err)) => Err(fail(err.to_string())),
        Err(panic) => Err(fail(format!("decoder failure: {panic}"))),
    }
}

pub(crate) fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

fn is_tiff(bytes: &[u8]) -> bool {
    bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*")
}

fn read_exif(bytes: &[u8]) -> Option<exif::Exif> {
    if !(is_jpeg(bytes) || is_tiff(bytes)) {
        return None;
    }
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    // The EXIF parser is given the file as it is: a damaged one must not take the engine down.
    catch_panic(|| {
        reader
            .read_from_container(&mut std::io::Cursor::new(bytes))
            .or_else(|e| e.distill_partial_result(|_| {}))
            .ok()
    })
    .ok()
    .flatten()
}

/// Where a file's picture lies. TIFF-based RAWs (CR2, NEF, ARW, DNG, PEF, …): the strips
/// and tiles of every image directory (the sensor data and the camera's previews), in
/// directory order, so a file rewritten with its metadata moved still names the same
/// bytes. A JPEG: everything from its first start-of-scan on. Ranges may run past the end
/// of a truncated file.
pub fn image_data(bytes: &[u8]) -> Option<Vec<Range<usize>>> {
    if is_jpeg(bytes) {
        return jpeg_scan_start(bytes).map(|start| std::iter::once(start..bytes.len()).collect());
    }
    if !is_tiff(bytes) {
        return None;
    }
    use rawler::formats::tiff::reader::{GenericTiffReader, TiffReader};
    use rawler::tags::TiffCommonTag;
    let parsed = catch_panic(|| {
        let mut cursor = std::io::Cursor::new(bytes);
        GenericTiffReader::new(&mut cursor, 0, 0, None, &[TiffCommonTag::SubIFDs as u16]).ok()
    });
    let tiff = parsed.ok().flatten()?;
    let mut ranges = Vec::new();
    for ifd in tiff.find_ifds_with_filter(|_| true) {
        for (offsets, lengths) in [
            (TiffCommonTag::StripOffsets, TiffCommonTag::StripByteCounts),
            (TiffCommonTag::TileOffsets, TiffCommonTag::TileByteCounts),
        ] {
            if let (Some(o), Some(l)) = (ifd.get_entry(offsets), ifd.get_entry(lengths)) {
                for k in 0..o.value.count().min(l.value.count()) {
                    let start = o.value.force_usize(k);
                    ranges.push(start..start.saturating_add(l.value.force_usize(k)));
                }
            }
        }
    }
    (!ranges.is_empty()).then_some(ranges)
}

/// The JPEG's marker segments before its image data: (marker, payload range).
fn jpeg_segments(bytes: &[u8]) -> impl Iterator<Item = (u8, Range<usize>)> + '_ {
    let mut at = 2;
    std::iter::from_fn(move || {
        if bytes.get(at) != Some(&0xFF) {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        let len = usize::from(u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]));
        let segment = (marker, at + 4..at + 2 + len.max(2));
        at += 2 + len.max(2);
        Some(segment)
    })
}

fn jpeg_scan_start(bytes: &[u8]) -> Option<usize> {
    // The scan starts at the SOS marker, two bytes before its payload.
    jpeg_segments(bytes).find(|(marker, _)| *marker == 0xDA).map(|(_, payload)| payload.start - 4)
}

fn jpeg_xmp(bytes: &[u8]) -> Option<String> {
    jpeg_segments(bytes).take_while(|(marker, _)| *marker != 0xDA).find_map(|(marker, payload)| {
        let payload = bytes.get(payload)?;
        (marker == 0xE1 && payload.starts_with(XMP_APP1))
            .then(|| String::from_utf8_lossy(&payload[XMP_APP1.len()..]).into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal JPEG: SOI, an APP1 segment, SOS with a scan, EOI.
    fn jpeg(app1: &[u8], scan: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        out.extend([0xFF, 0xE1]);
        out.extend(((app1.len() + 2) as u16).to_be_bytes());
        out.extend(app1);
        out.extend([0xFF, 0xDA, 0x00, 0x02]);
        out.extend(scan);
        out.extend([0xFF, 0xD9]);
        out
    }

    #[test]
    fn a_jpegs_picture_is_its_scan_and_its_xmp_is_read() {
        let xmp = [XMP_APP1, b"<x:xmpmeta/>".as_slice()].concat();
        let bytes = jpeg(&xmp, b"pixels");
        let ranges = image_data(&bytes).expect("a JPEG has a scan");
        assert_eq!(&bytes[ranges[0].clone()], b"\xFF\xDA\x00\x02pixels\xFF\xD9");
        assert_eq!(jpeg_xmp(&bytes).as_deref(), Some("<x:xmpmeta/>"));
        // A longer metadata segment moves the scan but not what it holds.
        let edited = jpeg(&[XMP_APP1, b"<x:xmpmeta rating='5'/>".as_slice()].concat(), b"pixels");
        let moved = image_data(&edited).expect("scan");
        assert_ne!(moved[0].start, ranges[0].start);
        assert_eq!(edited[moved[0].clone()], bytes[ranges[0].clone()]);
        assert_eq!(image_data(b"not an image"), None);
        assert_eq!(jpeg_xmp(&jpeg(b"Exif\0\0", b"x")), None);
    }
}
