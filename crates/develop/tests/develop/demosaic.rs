//! Demosaic accuracy with ground truth (DESIGN.md): the real CR2 mosaic binned 2×2 (one RGB
//! pixel per quad, every colour known), mosaiced again and written as DNG; each of our
//! methods and LibRaw's, on that same DNG, against the binned image.

use wedsync_develop::stages::color::ToSrgb16;
use wedsync_develop::stages::demosaic::{self, Demosaic, Input};
use wedsync_develop::stages::{highlights, levels};
use wedsync_develop::{load, synth, RgbF32, Source};

use crate::support::{box_down, crop, psnr, read_ppm, run, sample, Scratch, CR2};

/// Stencils and border handling differ between implementations; compare the interior.
const MARGIN: usize = 8;

fn interior(img: &RgbF32, margin: usize) -> RgbF32 {
    crop(img, margin, margin, img.width - 2 * margin, img.height - 2 * margin)
}

/// Scales each channel of `img` so its mean over the interior matches `truth`'s: LibRaw's
/// output is 16-bit with its own white point, ours is 0..1; a gain cannot hide demosaic error.
fn match_gain(img: &RgbF32, truth: &RgbF32) -> RgbF32 {
    let mean =
        |i: &RgbF32, c: usize| i.data.iter().map(|p| f64::from(p[c])).sum::<f64>() / i.data.len() as f64;
    let gains: [f32; 3] = std::array::from_fn(|c| (mean(truth, c) / mean(img, c)) as f32);
    RgbF32 {
        width: img.width,
        height: img.height,
        data: img.data.iter().map(|p| std::array::from_fn(|c| p[c] * gains[c])).collect(),
    }
}

#[test]
fn levelling_band_by_band_gives_what_the_whole_mosaic_gives() {
    let Ok(Source::Raw(frame)) = load(&sample(CR2)) else { panic!("the CR2 does not load as RAW") };
    let mut mosaic = levels::apply(&frame);
    highlights::apply(&mut mosaic);
    let banded = levels::Levels::of(&frame).clipped();
    let to_srgb = ToSrgb16(frame.cam_to_srgb);
    for method in [Demosaic::Rcd, Demosaic::Mhc, Demosaic::Half, Demosaic::Neighbour] {
        let whole = demosaic::apply(&Input::Mosaic(&mosaic), method, &to_srgb);
        let by_band = demosaic::apply(&Input::Sensor(&banded), method, &to_srgb);
        assert!(whole.data.len() > 1_000_000, "{}: {} pixels", method.name(), whole.data.len());
        assert!(whole.data == by_band.data, "{}: the banded mosaic differs", method.name());
    }
}

#[test]
fn rcd_is_at_least_as_accurate_as_libraw_ahd() {
    let scratch = Scratch::new("demosaic");
    let dng = scratch.0.join("binned.dng");
    let truth = synth::remosaiced_dng(&sample(CR2), &dng).unwrap_or_else(|e| panic!("{e}"));
    let Ok(Source::Raw(frame)) = load(&dng) else { panic!("re-mosaiced DNG does not load as RAW") };
    assert_eq!(frame.crop, (0, 0, truth.width, truth.height), "the DNG must have no crop");
    let mut mosaic = levels::apply(&frame);
    highlights::apply(&mut mosaic);

    let truth_in = interior(&truth, MARGIN);
    let mut rows: Vec<(String, f64)> = Vec::new();
    for method in [Demosaic::Rcd, Demosaic::Mhc, Demosaic::Neighbour] {
        let out = demosaic::camera_rgb(&mosaic, method);
        rows.push((format!("wedsync {}", method.name()), psnr(&interior(&out, MARGIN), &truth_in)));
    }
    let half = demosaic::camera_rgb(&mosaic, Demosaic::Half);
    let truth_half = box_down(&truth, 2);
    rows.push((
        "wedsync half (vs truth at half size)".into(),
        psnr(&interior(&half, MARGIN / 2), &interior(&truth_half, MARGIN / 2)),
    ));

    let path = dng.to_str().expect("utf-8");
    let mut ahd = f64::NAN;
    for (q, label) in
        [("0", "bilinear"), ("1", "VNG"), ("2", "PPG"), ("3", "AHD"), ("11", "DHT"), ("12", "AAHD")]
    {
        // Camera colour (-o 0), linear 16-bit (-4), clipped highlights (-H 0), no rotation.
        let out = read_ppm(&run(
            "dcraw_emu",
            &["-q", q, "-o", "0", "-4", "-H", "0", "-w", "-t", "0", "-Z", "-", path],
        ));
        assert_eq!((out.width, out.height), (truth.width, truth.height), "LibRaw {label} size");
        let p = psnr(&match_gain(&interior(&out, MARGIN), &truth_in), &truth_in);
        if label == "AHD" {
            ahd = p;
        }
        rows.push((format!("LibRaw {label} (dcraw_emu -q {q})"), p));
    }
    println!("demosaic PSNR on the re-mosaiced 2x2 binning of {CR2} ({}x{}):", truth.width, truth.height);
    for (label, p) in &rows {
        println!("  {label:<40} {p:6.2} dB");
    }
    let rcd = rows[0].1;
    assert!(rcd >= ahd, "RCD {rcd:.2} dB < LibRaw AHD {ahd:.2} dB");
}
