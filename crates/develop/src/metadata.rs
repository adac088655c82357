//! Camera metadata: read from a RAW file (rawler) or a camera JPEG
//! (kamadak-exif), and written back into renditions as a minimal EXIF block.
//!
//! Only the fields a photographer or a gallery shows are carried over; maker
//! notes, thumbnails and the like are deliberately dropped, so a rendition
//! never leaks more than the fields listed in [`Metadata`].

use std::io::Cursor;

use exif::{In, Tag, Value};

/// What a rendition keeps of the source file's metadata (a preset field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetadataPolicy {
    #[default]
    KeepAll,
    DropGps,
    DropAll,
}

/// Camera metadata carried from the source file into each rendition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    pub make: Option<String>,
    pub model: Option<String>,
    pub lens: Option<String>,
    pub exposure_time: Option<(u32, u32)>,
    pub f_number: Option<(u32, u32)>,
    pub iso: Option<u32>,
    pub focal_length: Option<(u32, u32)>,
    /// "YYYY:MM:DD HH:MM:SS" as EXIF writes it
    pub capture_time: Option<String>,
    pub artist: Option<String>,
    pub copyright: Option<String>,
    pub gps: Option<Gps>,
}

/// Position as EXIF stores it: degrees, minutes and seconds as rationals, so
/// that it round-trips without floating-point drift.
#[derive(Debug, Clone, PartialEq)]
pub struct Gps {
    pub latitude_ref: String,
    pub latitude: [(u32, u32); 3],
    pub longitude_ref: String,
    pub longitude: [(u32, u32); 3],
    pub altitude: Option<(u32, u32)>,
    pub altitude_below_sea_level: bool,
}

impl Metadata {
    /// From rawler's decoded metadata.
    pub fn from_raw(meta: &rawler::decoders::RawMetadata) -> Self {
        let exif = &meta.exif;
        let rational = |r: Option<rawler::formats::tiff::Rational>| r.and_then(|r| ratio(r.n, r.d));
        let dms = |v: Option<[rawler::formats::tiff::Rational; 3]>| {
            let [d, m, s] = v?;
            Some([ratio(d.n, d.d)?, ratio(m.n, m.d)?, ratio(s.n, s.d)?])
        };
        let gps = exif.gps.as_ref().and_then(|g| {
            Some(Gps {
                latitude_ref: clean(g.gps_latitude_ref.as_deref()?)?,
                latitude: dms(g.gps_latitude)?,
                longitude_ref: clean(g.gps_longitude_ref.as_deref()?)?,
                longitude: dms(g.gps_longitude)?,
                altitude: rational(g.gps_altitude),
                altitude_below_sea_level: g.gps_altitude_ref == Some(1),
            })
        });
        Self {
            make: clean(&meta.make),
            model: clean(&meta.model),
            // rawler replaces the EXIF lens model with its database name when it
            // recognises the lens; the full name is the fallback for cameras
            // that identify lenses only by number.
            lens: exif
                .lens_model
                .as_deref()
                .and_then(clean)
                .or_else(|| meta.lens.as_ref().and_then(|l| clean(&l.lens_name))),
            exposure_time: rational(exif.exposure_time),
            f_number: rational(exif.fnumber),
            iso: iso(
                exif.iso_speed_ratings.map(u32::from),
                exif.iso_speed.or(exif.recommended_exposure_index),
            ),
            focal_length: rational(exif.focal_length),
            capture_time: exif.date_time_original.as_deref().and_then(clean),
            artist: exif.artist.as_deref().and_then(clean),
            copyright: exif.copyright.as_deref().and_then(clean),
            gps,
        }
    }

    /// From a camera JPEG's EXIF (the whole JPEG file). Also returns the EXIF
    /// Orientation (1..=8; 1 when absent or invalid). A JPEG without readable
    /// EXIF gives the default metadata, not an error: the image itself is fine.
    pub fn from_jpeg(jpeg: &[u8]) -> (Self, u16) {
        let mut reader = exif::Reader::new();
        // Camera EXIF is often slightly broken (e.g. a maker-note offset); the
        // fields that did parse are still worth keeping.
        reader.continue_on_error(true);
        let Ok(exif) =
            reader.read_from_container(&mut Cursor::new(jpeg)).or_else(|e| e.distill_partial_result(|_| {}))
        else {
            return (Self::default(), 1);
        };
        let value = |tag| exif.get_field(tag, In::PRIMARY).map(|f| &f.value);
        let uint = |tag| value(tag)?.get_uint(0);
        let text = |tag| match value(tag)? {
            Value::Ascii(v) => clean(&String::from_utf8_lossy(v.first()?)),
            _ => None,
        };
        let rationals = |tag| match value(tag)? {
            Value::Rational(v) => Some(v.iter().map(|r| ratio(r.num, r.denom)).collect::<Vec<_>>()),
            _ => None,
        };
        let single = |tag| match rationals(tag)?.as_slice() {
            [first, ..] => *first,
            [] => None,
        };
        let dms = |tag| match rationals(tag)?.as_slice() {
            [d, m, s] => Some([(*d)?, (*m)?, (*s)?]),
            _ => None,
        };
        let position = (
            text(Tag::GPSLatitudeRef),
            dms(Tag::GPSLatitude),
            text(Tag::GPSLongitudeRef),
            dms(Tag::GPSLongitude),
        );
        let gps = match position {
            (Some(latitude_ref), Some(latitude), Some(longitude_ref), Some(longitude)) => Some(Gps {
                latitude_ref,
                latitude,
                longitude_ref,
                longitude,
                altitude: single(Tag::GPSAltitude),
                altitude_below_sea_level: uint(Tag::GPSAltitudeRef) == Some(1),
            }),
            _ => None,
        };
        let metadata = Self {
            make: text(Tag::Make),
            model: text(Tag::Model),
            lens: text(Tag::LensModel),
            exposure_time: single(Tag::ExposureTime),
            f_number: single(Tag::FNumber),
            iso: iso(
                uint(Tag::PhotographicSensitivity),
                uint(Tag::ISOSpeed).or_else(|| uint(Tag::RecommendedExposureIndex)),
            ),
            focal_length: single(Tag::FocalLength),
            capture_time: text(Tag::DateTimeOriginal),
            artist: text(Tag::Artist),
            copyright: text(Tag::Copyright),
            gps,
        };
        let orientation = uint(Tag::Orientation)
            .and_then(|o| u16::try_from(o).ok())
            .filter(|o| (1..=8).contains(o))
            .unwrap_or(1);
        (metadata, orientation)
    }

    /// The APP1 payload to embed in a rendition: `Exif\0\0` and a
    /// little-endian TIFF structure (IFD0, Exif IFD and, when kept, GPS IFD).
    /// `None` only for [`MetadataPolicy::DropAll`].
    pub fn to_exif_app1(&self, policy: MetadataPolicy) -> Option<Vec<u8>> {
        if policy == MetadataPolicy::DropAll {
            return None;
        }
        let text = |tag, s: &Option<String>| s.as_deref().and_then(|s| ascii(tag, s));
        let rational = |tag, r: Option<(u32, u32)>| r.map(|r| rationals(tag, &[r]));

        let mut ifd0: Vec<Entry> = [
            text(0x010F, &self.make),
            text(0x0110, &self.model),
            // The rendition's pixels are already upright.
            Some(short(0x0112, 1)),
            Some(rationals(0x011A, &[(72, 1)])),
            Some(rationals(0x011B, &[(72, 1)])),
            Some(short(0x0128, 2)),
            ascii(0x0131, "WedSync Uploader"),
            text(0x013B, &self.artist),
            text(0x8298, &self.copyright),
        ]
        .into_iter()
        .flatten()
        .collect();
        let exif_ifd: Vec<Entry> = [
            rational(0x829A, self.exposure_time),
            rational(0x829D, self.f_number),
            self.iso.map(|iso| short(0x8827, u16::try_from(iso).unwrap_or(u16::MAX))),
            Some(Entry::new(0x9000, UNDEFINED, b"0232".to_vec())),
            text(0x9003, &self.capture_time),
            rational(0x920A, self.focal_length),
            // FlashpixVersion is mandatory in the Exif IFD; validators flag its absence.
            Some(Entry::new(0xA000, UNDEFINED, b"0100".to_vec())),
            // Renditions are always encoded as sRGB.
            Some(short(0xA001, 1)),
            text(0xA434, &self.lens),
        ]
        .into_iter()
        .flatten()
        .collect();
        let gps_ifd: Option<Vec<Entry>> =
            self.gps.as_ref().filter(|_| policy == MetadataPolicy::KeepAll).map(|g| {
                let below = u8::from(g.altitude_below_sea_level);
                [
                    Some(Entry::new(0x0000, BYTE, vec![2, 3, 0, 0])),
                    ascii(0x0001, &g.latitude_ref),
                    Some(rationals(0x0002, &g.latitude)),
                    ascii(0x0003, &g.longitude_ref),
                    Some(rationals(0x0004, &g.longitude)),
                    g.altitude.map(|_| Entry::new(0x0005, BYTE, vec![below])),
                    rational(0x0006, g.altitude),
                ]
                .into_iter()
                .flatten()
                .collect()
            });

        // The IFD pointers are inline LONGs, so IFD0's final length is known
        // before the offsets they hold are.
        let pointers = 1 + usize::from(gps_ifd.is_some());
        let exif_at = TIFF_HEADER.len() + ifd_len(&ifd0) + 12 * pointers;
        ifd0.push(long(0x8769, exif_at)?);
        if gps_ifd.is_some() {
            ifd0.push(long(0x8825, exif_at + ifd_len(&exif_ifd))?);
        }

        let mut tiff = TIFF_HEADER.to_vec();
        for ifd in [Some(ifd0), Some(exif_ifd), gps_ifd].into_iter().flatten() {
            write_ifd(&mut tiff, ifd)?;
        }
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff);
        Some(app1)
    }
}

/// Little-endian ("II"), magic 42, IFD0 straight after the header.
const TIFF_HEADER: [u8; 8] = *b"II\x2a\x00\x08\x00\x00\x00";

/// Longer strings are dropped rather than written: a JPEG APP1 segment holds
/// at most 64 KiB, and nine strings of this size still fit comfortably. This
/// bound is also why the offset conversions in `write_ifd` never fail.
const MAX_TEXT: usize = 4096;

const BYTE: u16 = 1;
const ASCII: u16 = 2;
const SHORT: u16 = 3;
const LONG: u16 = 4;
const RATIONAL: u16 = 5;
const UNDEFINED: u16 = 7;

/// One IFD entry with its value already encoded little-endian.
struct Entry {
    tag: u16,
    kind: u16,
    data: Vec<u8>,
}

impl Entry {
    fn new(tag: u16, kind: u16, data: Vec<u8>) -> Self {
        Self { tag, kind, data }
    }

    fn count(&self) -> Option<u32> {
        let unit = match self.kind {
            SHORT => 2,
            LONG => 4,
            RATIONAL => 8,
            _ => 1,
        };
        u32::try_from(self.data.len() / unit).ok()
    }

    /// Bytes this entry needs after the entry table (values of up to 4 bytes
    /// live in the entry itself; the rest start on a word boundary).
    fn out_of_line_len(&self) -> usize {
        if self.data.len() > 4 {
            self.data.len().next_multiple_of(2)
        } else {
            0
        }
    }
}

fn ascii(tag: u16, s: &str) -> Option<Entry> {
    // EXIF strings end at the first NUL; anything after it would be misread.
    let s = s.split('\0').next().unwrap_or_default();
    if s.is_empty() || s.len() > MAX_TEXT {
        return None;
    }
    let mut data = s.as_bytes().to_vec();
    data.push(0);
    Some(Entry::new(tag, ASCII, data))
}

fn short(tag: u16, v: u16) -> Entry {
    Entry::new(tag, SHORT, v.to_le_bytes().to_vec())
}

fn long(tag: u16, v: usize) -> Option<Entry> {
    Some(Entry::new(tag, LONG, u32::try_from(v).ok()?.to_le_bytes().to_vec()))
}

fn rationals(tag: u16, v: &[(u32, u32)]) -> Entry {
    let data = v.iter().flat_map(|&(n, d)| [n.to_le_bytes(), d.to_le_bytes()]);
    Entry::new(tag, RATIONAL, data.flatten().collect())
}

/// Count, entries, next-IFD offset and the out-of-line values.
fn ifd_len(entries: &[Entry]) -> usize {
    2 + 12 * entries.len() + 4 + entries.iter().map(Entry::out_of_line_len).sum::<usize>()
}

/// Appends one IFD (sorted, as TIFF requires) and its out-of-line values;
/// offsets are relative to the start of `tiff`.
fn write_ifd(tiff: &mut Vec<u8>, mut entries: Vec<Entry>) -> Option<()> {
    entries.sort_by_key(|e| e.tag);
    let mut values = Vec::new();
    let values_at = tiff.len() + 2 + 12 * entries.len() + 4;
    tiff.extend(u16::try_from(entries.len()).ok()?.to_le_bytes());
    for e in &entries {
        tiff.extend(e.tag.to_le_bytes());
        tiff.extend(e.kind.to_le_bytes());
        tiff.extend(e.count()?.to_le_bytes());
        if e.data.len() <= 4 {
            let mut inline = [0; 4];
            inline[..e.data.len()].copy_from_slice(&e.data);
            tiff.extend(inline);
        } else {
            tiff.extend(u32::try_from(values_at + values.len()).ok()?.to_le_bytes());
            values.extend(&e.data);
            values.resize(values.len().next_multiple_of(2), 0);
        }
    }
    // No next IFD: thumbnails are not carried over.
    tiff.extend(0u32.to_le_bytes());
    tiff.extend(values);
    Some(())
}

/// Trimmed, with padding NULs removed; `None` when nothing is left.
fn clean(s: &str) -> Option<String> {
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_owned())
}

/// A rational with a zero denominator is meaningless, so it is dropped.
fn ratio(n: u32, d: u32) -> Option<(u32, u32)> {
    (d != 0).then_some((n, d))
}

/// PhotographicSensitivity is a SHORT that saturates at 65535; above that the
/// exact value lives in ISOSpeed or RecommendedExposureIndex.
fn iso(sensitivity: Option<u32>, exact: Option<u32>) -> Option<u32> {
    match sensitivity {
        Some(s) if s != 0 && s < 65535 => Some(s),
        _ => exact.or(sensitivity).filter(|&v| v != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Metadata {
        Metadata {
            make: Some("Canon".into()),
            model: Some("Canon EOS R5".into()),
            lens: Some("RF24-70mm F2.8 L IS USM".into()),
            exposure_time: Some((1, 250)),
            f_number: Some((28, 10)),
            iso: Some(800),
            focal_length: Some((50, 1)),
            capture_time: Some("2024:06:15 14:32:07".into()),
            artist: Some("Jane Doe".into()),
            copyright: Some("(c) 2024 Jane Doe".into()),
            gps: Some(Gps {
                latitude_ref: "N".into(),
                latitude: [(51, 1), (30, 1), (2634, 100)],
                longitude_ref: "W".into(),
                longitude: [(0, 1), (7, 1), (3960, 100)],
                altitude: Some((125, 10)),
                altitude_below_sea_level: true,
            }),
        }
    }

    fn parse(app1: &[u8]) -> exif::Exif {
        assert!(app1.starts_with(b"Exif\0\0"));
        exif::Reader::new().read_raw(app1[6..].to_vec()).unwrap()
    }

    fn jpeg_with(app1: &[u8]) -> Vec<u8> {
        let len = u16::try_from(app1.len() + 2).unwrap();
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
        jpeg.extend(len.to_be_bytes());
        jpeg.extend(app1);
        jpeg.extend([0xFF, 0xD9]);
        jpeg
    }

    #[test]
    fn keep_all_round_trips_through_kamadak_exif() {
        let meta = full();
        let app1 = meta.to_exif_app1(MetadataPolicy::KeepAll).unwrap();
        let exif = parse(&app1);
        let field = |tag| &exif.get_field(tag, In::PRIMARY).unwrap().value;
        let text = |tag| match field(tag) {
            Value::Ascii(v) => String::from_utf8(v[0].clone()).unwrap(),
            v => panic!("{tag}: {v:?}"),
        };
        let rationals = |tag| match field(tag) {
            Value::Rational(v) => v.iter().map(|r| (r.num, r.denom)).collect::<Vec<_>>(),
            v => panic!("{tag}: {v:?}"),
        };
        let uint = |tag| field(tag).get_uint(0).unwrap();

        assert_eq!(text(Tag::Make), "Canon");
        assert_eq!(text(Tag::Model), "Canon EOS R5");
        assert_eq!(text(Tag::LensModel), "RF24-70mm F2.8 L IS USM");
        assert_eq!(text(Tag::DateTimeOriginal), "2024:06:15 14:32:07");
        assert_eq!(text(Tag::Artist), "Jane Doe");
        assert_eq!(text(Tag::Copyright), "(c) 2024 Jane Doe");
        assert_eq!(text(Tag::Software), "WedSync Uploader");
        assert_eq!(rationals(Tag::ExposureTime), [(1, 250)]);
        assert_eq!(rationals(Tag::FNumber), [(28, 10)]);
        assert_eq!(rationals(Tag::FocalLength), [(50, 1)]);
        assert_eq!(rationals(Tag::XResolution), [(72, 1)]);
        assert_eq!(rationals(Tag::YResolution), [(72, 1)]);
        assert_eq!(uint(Tag::PhotographicSensitivity), 800);
        assert_eq!(uint(Tag::Orientation), 1);
        assert_eq!(uint(Tag::ResolutionUnit), 2);
        assert_eq!(uint(Tag::ColorSpace), 1);
        assert!(matches!(field(Tag::ExifVersion), Value::Undefined(v, _) if v == b"0232"));
        assert!(matches!(field(Tag::FlashpixVersion), Value::Undefined(v, _) if v == b"0100"));
        assert_eq!(text(Tag::GPSLatitudeRef), "N");
        assert_eq!(rationals(Tag::GPSLatitude), [(51, 1), (30, 1), (2634, 100)]);
        assert_eq!(text(Tag::GPSLongitudeRef), "W");
        assert_eq!(rationals(Tag::GPSLongitude), [(0, 1), (7, 1), (3960, 100)]);
        assert_eq!(rationals(Tag::GPSAltitude), [(125, 10)]);
        assert_eq!(uint(Tag::GPSAltitudeRef), 1);

        assert_eq!(Metadata::from_jpeg(&jpeg_with(&app1)), (meta, 1));
    }

    #[test]
    fn ifds_are_sorted_and_values_word_aligned() {
        let app1 = full().to_exif_app1(MetadataPolicy::KeepAll).unwrap();
        let tiff = &app1[6..];
        let u16_at = |at: usize| usize::from(u16::from_le_bytes([tiff[at], tiff[at + 1]]));
        let u32_at =
            |at: usize| u32::from_le_bytes([tiff[at], tiff[at + 1], tiff[at + 2], tiff[at + 3]]) as usize;
        let mut ifds = vec![u32_at(4)];
        let mut seen = 0;
        while let Some(at) = ifds.pop() {
            seen += 1;
            assert_eq!(at % 2, 0);
            let n = u16_at(at);
            let tags: Vec<_> = (0..n).map(|i| u16_at(at + 2 + 12 * i)).collect();
            assert!(tags.windows(2).all(|w| w[0] < w[1]), "unsorted: {tags:x?}");
            for i in 0..n {
                let entry = at + 2 + 12 * i;
                let (tag, kind, count) = (u16_at(entry), u16_at(entry + 2), u32_at(entry + 4));
                let unit = [0, 1, 1, 2, 4, 8, 0, 1][kind];
                if tag == 0x8769 || tag == 0x8825 {
                    ifds.push(u32_at(entry + 8));
                } else if unit * count > 4 {
                    let offset = u32_at(entry + 8);
                    assert_eq!(offset % 2, 0, "tag {tag:x}");
                    assert!(offset + unit * count <= tiff.len(), "tag {tag:x}");
                }
                if kind == usize::from(ASCII) {
                    let offset = if count > 4 { u32_at(entry + 8) } else { entry + 8 };
                    assert_eq!(tiff[offset + count - 1], 0, "tag {tag:x} not NUL-terminated");
                }
            }
            assert_eq!(u32_at(at + 2 + 12 * n), 0);
        }
        assert_eq!(seen, 3);
    }

    #[test]
    fn drop_gps_keeps_everything_else() {
        let app1 = full().to_exif_app1(MetadataPolicy::DropGps).unwrap();
        let exif = parse(&app1);
        assert!(exif.fields().all(|f| f.tag.context() != exif::Context::Gps));
        assert!(exif.get_field(Tag::GPSInfoIFDPointer, In::PRIMARY).is_none());
        let expected = Metadata { gps: None, ..full() };
        assert_eq!(Metadata::from_jpeg(&jpeg_with(&app1)), (expected, 1));
    }

    #[test]
    fn drop_all_writes_nothing() {
        assert_eq!(full().to_exif_app1(MetadataPolicy::DropAll), None);
        assert_eq!(Metadata::default().to_exif_app1(MetadataPolicy::DropAll), None);
    }

    #[test]
    fn empty_metadata_still_states_orientation_and_software() {
        let app1 = Metadata::default().to_exif_app1(MetadataPolicy::KeepAll).unwrap();
        let exif = parse(&app1);
        let orientation = exif.get_field(Tag::Orientation, In::PRIMARY).unwrap();
        assert_eq!(orientation.value.get_uint(0), Some(1));
        assert!(exif.get_field(Tag::Software, In::PRIMARY).is_some());
        assert!(exif.get_field(Tag::Make, In::PRIMARY).is_none());
        assert_eq!(Metadata::from_jpeg(&jpeg_with(&app1)).0, Metadata::default());
    }

    #[test]
    fn oversized_values_are_omitted_and_the_segment_still_fits() {
        let huge = "x".repeat(60_000);
        let meta = Metadata {
            make: Some(huge.clone()),
            copyright: Some(huge.clone()),
            artist: Some("y".repeat(MAX_TEXT)),
            lens: Some(huge),
            iso: Some(204_800),
            ..full()
        };
        let app1 = meta.to_exif_app1(MetadataPolicy::KeepAll).unwrap();
        assert!(app1.len() <= 65533);
        let (back, _) = Metadata::from_jpeg(&jpeg_with(&app1));
        assert_eq!((back.make, back.copyright, back.lens), (None, None, None));
        assert_eq!(back.artist.map(|a| a.len()), Some(MAX_TEXT));
        assert_eq!(back.iso, Some(65535));
    }

    #[test]
    fn from_jpeg_reads_orientation_and_tolerates_garbage() {
        assert_eq!(Metadata::from_jpeg(b"not a jpeg"), (Metadata::default(), 1));
        assert_eq!(Metadata::from_jpeg(&[]), (Metadata::default(), 1));
        assert_eq!(
            Metadata::from_jpeg(&[0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, b'E']),
            (Metadata::default(), 1)
        );
        assert_eq!(
            Metadata::from_jpeg(&jpeg_with(b"Exif\0\0II*\0\xff\xff\xff\xff")),
            (Metadata::default(), 1)
        );

        // Patch the written Orientation to 6 (rotate 90° CW), then to an invalid 9.
        let mut app1 = full().to_exif_app1(MetadataPolicy::KeepAll).unwrap();
        let at = (0..app1.len() - 1).find(|&i| app1[i..i + 4] == [0x12, 0x01, 0x03, 0x00]).unwrap() + 8;
        app1[at] = 6;
        assert_eq!(Metadata::from_jpeg(&jpeg_with(&app1)).1, 6);
        app1[at] = 9;
        assert_eq!(Metadata::from_jpeg(&jpeg_with(&app1)).1, 1);
    }

    #[test]
    fn from_raw_maps_rawler_fields() {
        use rawler::formats::tiff::Rational;
        let r = |n, d| Rational { n, d };
        let mut raw =
            rawler::decoders::RawMetadata { make: "Nikon".into(), model: "Z 8".into(), ..Default::default() };
        raw.exif.exposure_time = Some(r(1, 1000));
        raw.exif.fnumber = Some(r(4, 0));
        raw.exif.focal_length = Some(r(85, 1));
        raw.exif.iso_speed_ratings = Some(65535);
        raw.exif.iso_speed = Some(102_400);
        raw.exif.date_time_original = Some("2024:06:15 14:32:07".into());
        raw.exif.lens_model = Some("  ".into());
        raw.exif.artist = Some("Jane Doe\0\0".into());
        raw.exif.gps = Some(rawler::exif::ExifGPS {
            gps_latitude_ref: Some("S".into()),
            gps_latitude: Some([r(33, 1), r(52, 1), r(0, 1)]),
            gps_longitude_ref: Some("E".into()),
            gps_longitude: Some([r(151, 1), r(12, 1), r(36, 1)]),
            gps_altitude: Some(r(10, 0)),
            ..Default::default()
        });
        let meta = Metadata::from_raw(&raw);
        assert_eq!(
            meta,
            Metadata {
                make: Some("Nikon".into()),
                model: Some("Z 8".into()),
                exposure_time: Some((1, 1000)),
                focal_length: Some((85, 1)),
                iso: Some(102_400),
                capture_time: Some("2024:06:15 14:32:07".into()),
                artist: Some("Jane Doe".into()),
                gps: Some(Gps {
                    latitude_ref: "S".into(),
                    latitude: [(33, 1), (52, 1), (0, 1)],
                    longitude_ref: "E".into(),
                    longitude: [(151, 1), (12, 1), (36, 1)],
                    altitude: None,
                    altitude_below_sea_level: false,
                }),
                ..Default::default()
            }
        );

        // A position with a zero denominator is unusable as a whole.
        raw.exif.gps.as_mut().unwrap().gps_longitude = Some([r(1, 0), r(0, 1), r(0, 1)]);
        assert_eq!(Metadata::from_raw(&raw).gps, None);
    }

    #[test]
    fn policy_is_kebab_case_in_presets() {
        use serde::de::{value::StrDeserializer, Deserialize, IntoDeserializer};
        let parse = |s: &str| {
            let d: StrDeserializer<serde::de::value::Error> = s.into_deserializer();
            MetadataPolicy::deserialize(d).ok()
        };
        assert_eq!(parse("keep-all"), Some(MetadataPolicy::KeepAll));
        assert_eq!(parse("drop-gps"), Some(MetadataPolicy::DropGps));
        assert_eq!(parse("drop-all"), Some(MetadataPolicy::DropAll));
        assert_eq!(parse("DropAll"), None);
    }
}
