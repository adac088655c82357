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
