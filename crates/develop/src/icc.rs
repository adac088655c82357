//! The sRGB ICC profile embedded in every rendition.
//!
//! Generated in code rather than shipped as a blob so that every byte is
//! reviewable against the ICC.1:2001-04 (v2) specification. Version 2 is used
//! because it is the version every browser and image viewer understands.

use std::sync::OnceLock;

/// An ICC v2 display profile for sRGB IEC61966-2.1 (built once, then shared).
pub fn srgb_icc_profile() -> &'static [u8] {
    static PROFILE: OnceLock<Vec<u8>> = OnceLock::new();
    PROFILE.get_or_init(build)
}

/// The PCS illuminant; v2 display profiles also state it as their media white
/// point, because the primaries below are already chromatically adapted to it.
const D50: [f64; 3] = [0.9642, 1.0, 0.8249];

/// sRGB primaries Bradford-adapted from D65 to D50 (their sum is D50).
const PRIMARIES: [[f64; 3]; 3] =
    [[0.4360747, 0.2225045, 0.0139322], [0.3850649, 0.7168786, 0.0971045], [0.1430804, 0.0606169, 0.7141733]];

/// Enough samples that interpolating the tabulated curve stays well below
/// 8-bit quantisation error, including in the linear toe.
const CURVE_POINTS: usize = 1024;

const HEADER_LEN: usize = 128;

fn build() -> Vec<u8> {
    let blocks = [
        text_description("sRGB IEC61966-2.1"),
        text("No copyright, use freely"),
        xyz(D50),
        xyz(PRIMARIES[0]),
        xyz(PRIMARIES[1]),
        xyz(PRIMARIES[2]),
        srgb_curve(),
    ];
    // The three channels share one curve: the spec allows tags to alias data.
    let tags: [(&[u8; 4], usize); 9] = [
        (b"desc", 0),
        (b"cprt", 1),
        (b"wtpt", 2),
        (b"rXYZ", 3),
        (b"gXYZ", 4),
        (b"bXYZ", 5),
        (b"rTRC", 6),
        (b"gTRC", 6),
        (b"bTRC", 6),
    ];

    let mut offsets = Vec::with_capacity(blocks.len());
    let mut end = HEADER_LEN + 4 + 12 * tags.len();
    for block in &blocks {
        offsets.push(end);
        end += block.len().next_multiple_of(4);
    }

    let mut out = header(end);
    out.extend(be32(tags.len()));
    for (signature, block) in tags {
        out.extend(signature);
        out.extend(be32(offsets[block]));
        out.extend(be32(blocks[block].len()));
    }
    for block in &blocks {
        out.extend(block);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}

fn header(size: usize) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend(be32(size));
    h.extend(b"lcms");
    h.extend([2, 0x10, 0, 0]); // 2.1.0
    h.extend(b"mntr");
    h.extend(b"RGB ");
    h.extend(b"XYZ ");
    // A fixed creation date keeps the profile, and so every rendition, byte-for-byte reproducible.
    for field in [2024u16, 1, 1, 0, 0, 0] {
        h.extend(field.to_be_bytes());
    }
    h.extend(b"acsp");
    // Primary platform, flags, device manufacturer and model, attributes
    // (8 bytes) and rendering intent (0 = perceptual) are all zero.
    h.resize(68, 0);
    for v in D50 {
        h.extend(s15_fixed16(v));
    }
    // Creator, profile ID and reserved bytes stay zero.
    h.resize(HEADER_LEN, 0);
    h
}

/// `textDescriptionType`: the ASCII description plus the empty Unicode and
/// ScriptCode parts v2 requires (the fixed 67-byte Macintosh field included).
fn text_description(s: &str) -> Vec<u8> {
    let mut t = type_prefix(b"desc");
    t.extend(be32(s.len() + 1));
    t.extend(s.as_bytes());
    t.push(0);
    t.extend([0; 4 + 4 + 2 + 1 + 67]);
    t
}

/// `textType`: NUL-terminated ASCII.
fn text(s: &str) -> Vec<u8> {
    let mut t = type_prefix(b"text");
    t.extend(s.as_bytes());
    t.push(0);
    t
}

/// `XYZType` holding a single XYZ number.
fn xyz(v: [f64; 3]) -> Vec<u8> {
    let mut t = type_prefix(b"XYZ ");
    for c in v {
        t.extend(s15_fixed16(c));
    }
    t
}

/// `curveType` tabulating the exact piecewise sRGB EOTF; a pure 2.2 gamma
/// would crush shadows relative to what sRGB encoders produce.
fn srgb_curve() -> Vec<u8> {
    let mut t = type_prefix(b"curv");
    t.extend(be32(CURVE_POINTS));
    for i in 0..CURVE_POINTS {
        let x = i as f64 / (CURVE_POINTS - 1) as f64;
        let y = if x <= 0.04045 { x / 12.92 } else { ((x + 0.055) / 1.055).powf(2.4) };
        t.extend(((y * 65535.0).round() as u16).to_be_bytes());
    }
    t
}

/// Type signature followed by the 4 reserved bytes every tag type starts with.
fn type_prefix(signature: &[u8; 4]) -> Vec<u8> {
    let mut t = signature.to_vec();
    t.extend([0; 4]);
    t
}

fn s15_fixed16(v: f64) -> [u8; 4] {
    ((v * 65536.0).round() as i32).to_be_bytes()
}

/// The profile is a few KiB, so its sizes and offsets always fit in 32 bits.
fn be32(v: usize) -> [u8; 4] {
    (v as u32).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(p: &[u8], at: usize) -> usize {
        u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]) as usize
    }

    /// (signature, offset, size) of every tag-table entry.
    fn tags(p: &[u8]) -> Vec<([u8; 4], usize, usize)> {
        (0..u32_at(p, HEADER_LEN))
            .map(|i| {
                let at = HEADER_LEN + 4 + 12 * i;
                let sig = [p[at], p[at + 1], p[at + 2], p[at + 3]];
                (sig, u32_at(p, at + 4), u32_at(p, at + 8))
            })
            .collect()
    }

    fn tag<'a>(p: &'a [u8], sig: &[u8; 4]) -> &'a [u8] {
        let (_, offset, size) = tags(p).into_iter().find(|t| &t.0 == sig).unwrap();
        &p[offset..offset + size]
    }

    #[test]
    fn header_is_well_formed() {
        let p = srgb_icc_profile();
        assert_eq!(u32_at(p, 0), p.len());
        assert_eq!(&p[8..12], &[2, 0x10, 0, 0]);
        assert_eq!(&p[12..24], b"mntrRGB XYZ ");
        assert_eq!(&p[36..40], b"acsp");
        // The exact D50 encoding the ICC specification gives.
        assert_eq!(&p[68..80], &[0, 0, 0xF6, 0xD6, 0, 1, 0, 0, 0, 0, 0xD3, 0x2D]);
        assert_eq!(p.len() % 4, 0);
    }

    #[test]
    fn tag_table_is_consistent() {
        let p = srgb_icc_profile();
        let tags = tags(p);
        assert_eq!(tags.len(), 9);
        for (sig, offset, size) in &tags {
            assert!(*offset >= HEADER_LEN + 4 + 12 * 9, "{sig:?} overlaps the table");
            assert_eq!(offset % 4, 0, "{sig:?} is not 4-byte aligned");
            assert!(offset + size <= p.len(), "{sig:?} runs past the end");
        }
        let trc: Vec<_> = tags.iter().filter(|t| t.0.ends_with(b"TRC")).collect();
        assert_eq!(trc.len(), 3);
        assert!(trc.iter().all(|t| t.1 == trc[0].1));
        assert!(tag(p, b"desc").windows(17).any(|w| w == b"sRGB IEC61966-2.1"));
    }

    #[test]
    fn primaries_sum_to_the_white_point() {
        let p = srgb_icc_profile();
        let wtpt = tag(p, b"wtpt");
        for c in 0..3 {
            let sum: usize =
                [b"rXYZ", b"gXYZ", b"bXYZ"].iter().map(|sig| u32_at(tag(p, sig), 8 + 4 * c)).sum();
            // The header's D50 (Z = 0.8249) is the spec's rounded value; the
            // primaries sum to the exact 0.82521, a 0.0003 difference.
            assert!(sum.abs_diff(u32_at(wtpt, 8 + 4 * c)) <= 33, "{c}: {sum}");
        }
    }

    #[test]
    fn curve_is_the_srgb_eotf() {
        let curve = tag(srgb_icc_profile(), b"rTRC");
        assert_eq!(&curve[..4], b"curv");
        assert_eq!(u32_at(curve, 8), CURVE_POINTS);
        assert_eq!(curve.len(), 12 + 2 * CURVE_POINTS);
        let values: Vec<u16> =
            curve[12..].chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
        assert_eq!(values[0], 0);
        assert_eq!(values[CURVE_POINTS - 1], 65535);
        assert!(values.windows(2).all(|w| w[0] <= w[1]));
        // Mid-grey (sRGB 0.5) is about 21.4% linear, not the 50% of an identity curve.
        let mid = f64::from(values[CURVE_POINTS / 2]) / 65535.0;
        assert!((mid - 0.2140).abs() < 0.002, "{mid}");
    }
}
