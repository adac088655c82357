//! Shared helpers: where the samples are, running peer tools, images and colour maths.

use std::path::{Path, PathBuf};
use std::process::Command;

use wedsync_develop::RgbF32;

/// The sample corpus: `$WEDSYNC_SAMPLES`, else `shared/samples` beside the repository.
pub fn samples_dir() -> PathBuf {
    match std::env::var_os("WEDSYNC_SAMPLES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples"),
    }
}

pub fn sample(name: &str) -> PathBuf {
    let path = samples_dir().join(name);
    assert!(path.is_file(), "missing sample {} (set WEDSYNC_SAMPLES)", path.display());
    path
}

pub const CR2: &str = "canon-eos30d-IMG_5952.CR2";
pub const DNG: &str = "canon-eos30d-IMG_5952-ljpeg.dng";
pub const KDC: &str = "kodak-dc50.KDC";
pub const RAWS: [&str; 3] = [CR2, DNG, KDC];

/// A scratch folder removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("wedsync-test-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch folder");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// Runs a peer tool and returns its standard output; fails the test, naming the tool,
/// when it is missing or fails.
pub fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (scripts/install-deps installs it): {e}"));
    assert!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Reads a binary PPM (8- or 16-bit) as RGB scaled to 0..1.
pub fn read_ppm(bytes: &[u8]) -> RgbF32 {
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 4 {
        while bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if bytes[pos] == b'#' {
            while bytes[pos] != b'\n' {
                pos += 1;
            }
            continue;
        }
        let start = pos;
        while !bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..pos]).into_owned());
    }
    pos += 1;
    assert_eq!(fields[0], "P6", "not a binary PPM");
    let (w, h, max): (usize, usize, f32) = (
        fields[1].parse().expect("width"),
        fields[2].parse().expect("height"),
        fields[3].parse().expect("maxval"),
    );
    let body = &bytes[pos..];
    let data: Vec<f32> = if max > 255.0 {
        body.chunks_exact(2).map(|b| f32::from(u16::from_be_bytes([b[0], b[1]])) / max).collect()
    } else {
        body.iter().map(|&b| f32::from(b) / max).collect()
    };
    assert_eq!(data.len(), w * h * 3, "PPM body size");
    RgbF32 { width: w, height: h, data: data.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect() }
}

/// Mean of `factor`×`factor` blocks.
pub fn box_down(img: &RgbF32, factor: usize) -> RgbF32 {
    let (w, h) = (img.width / factor, img.height / factor);
    let mut data = vec![[0.0f32; 3]; w * h];
    for y in 0..h * factor {
        for x in 0..w * factor {
            let p = img.data[y * img.width + x];
            let o = &mut data[(y / factor) * w + x / factor];
            for c in 0..3 {
                o[c] += p[c];
            }
        }
    }
    let n = (factor * factor) as f32;
    data.iter_mut().for_each(|p| p.iter_mut().for_each(|v| *v /= n));
    RgbF32 { width: w, height: h, data }
}

/// The `w`×`h` window of `img` starting at (x0, y0).
pub fn crop(img: &RgbF32, x0: usize, y0: usize, w: usize, h: usize) -> RgbF32 {
    let data = (0..h).flat_map(|y| img.data[(y0 + y) * img.width + x0..][..w].to_vec()).collect();
    RgbF32 { width: w, height: h, data }
}

/// PSNR in dB over all channels, values in 0..1.
pub fn psnr(a: &RgbF32, b: &RgbF32) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let mse: f64 = a
        .data
        .iter()
        .zip(&b.data)
        .flat_map(|(p, q)| (0..3).map(move |c| f64::from(p[c] - q[c]).powi(2)))
        .sum::<f64>()
        / (a.data.len() * 3) as f64;
    10.0 * (1.0 / mse.max(1e-20)).log10()
}

/// Linear sRGB (D65) to CIELAB with the D65 white.
pub fn lab(rgb: [f32; 3]) -> [f64; 3] {
    let [r, g, b] = rgb.map(f64::from);
    let x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
    let y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
    let z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883;
    let f = |t: f64| if t > 216.0 / 24389.0 { t.cbrt() } else { (24389.0 / 27.0 * t + 16.0) / 116.0 };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// CIEDE2000 colour difference (Sharma, Wu, Dalal 2005).
pub fn ciede2000(lab1: [f64; 3], lab2: [f64; 3]) -> f64 {
    let [l1, a1, b1] = lab1;
    let [l2, a2, b2] = lab2;
    let c_bar = ((a1 * a1 + b1 * b1).sqrt() + (a2 * a2 + b2 * b2).sqrt()) / 2.0;
    let g = 0.5 * (1.0 - (c_bar.powi(7) / (c_bar.powi(7) + 25f64.powi(7))).sqrt());
    let (a1p, a2p) = ((1.0 + g) * a1, (1.0 + g) * a2);
    let (c1p, c2p) = ((a1p * a1p + b1 * b1).sqrt(), (a2p * a2p + b2 * b2).sqrt());
    let hue =
        |b: f64, a: f64| if b == 0.0 && a == 0.0 { 0.0 } else { b.atan2(a).to_degrees().rem_euclid(360.0) };
    let (h1p, h2p) = (hue(b1, a1p), hue(b2, a2p));
    let dl = l2 - l1;
    let dc = c2p - c1p;
    let dh_angle = if c1p * c2p == 0.0 {
        0.0
    } else if (h2p - h1p).abs() <= 180.0 {
        h2p - h1p
    } else if h2p - h1p > 180.0 {
        h2p - h1p - 360.0
    } else {
        h2p - h1p + 360.0
    };
    let dh = 2.0 * (c1p * c2p).sqrt() * (dh_angle / 2.0).to_radians().sin();
    let l_bar = (l1 + l2) / 2.0;
    let cp_bar = (c1p + c2p) / 2.0;
    let hp_bar = if c1p * c2p == 0.0 {
        h1p + h2p
    } else if (h1p - h2p).abs() <= 180.0 {
        (h1p + h2p) / 2.0
    } else if h1p + h2p < 360.0 {
        (h1p + h2p + 360.0) / 2.0
    } else {
        (h1p + h2p - 360.0) / 2.0
    };
    let t = 1.0 - 0.17 * (hp_bar - 30.0).to_radians().cos()
        + 0.24 * (2.0 * hp_bar).to_radians().cos()
        + 0.32 * (3.0 * hp_bar + 6.0).to_radians().cos()
        - 0.20 * (4.0 * hp_bar - 63.0).to_radians().cos();
    let d_theta = 30.0 * (-((hp_bar - 275.0) / 25.0).powi(2)).exp();
    let rc = 2.0 * (cp_bar.powi(7) / (cp_bar.powi(7) + 25f64.powi(7))).sqrt();
    let sl = 1.0 + 0.015 * (l_bar - 50.0).powi(2) / (20.0 + (l_bar - 50.0).powi(2)).sqrt();
    let sc = 1.0 + 0.045 * cp_bar;
    let sh = 1.0 + 0.015 * cp_bar * t;
    let rt = -(2.0 * d_theta).to_radians().sin() * rc;
    ((dl / sl).powi(2) + (dc / sc).powi(2) + (dh / sh).powi(2) + rt * (dc / sc) * (dh / sh)).sqrt()
}

#[test]
fn ciede2000_matches_sharmas_reference_pairs() {
    // Pairs 1, 7 and 19 of Sharma et al.'s published test data.
    let cases = [
        ([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485], 2.0425),
        ([50.0, 0.0, 0.0], [50.0, -1.0, 2.0], 2.3669),
        ([50.0, 2.5, 0.0], [56.0, -27.0, -3.0], 31.9030),
    ];
    for (a, b, expected) in cases {
        let got = ciede2000(a, b);
        assert!((got - expected).abs() < 1e-3, "{a:?} {b:?}: {got} != {expected}");
    }
}
