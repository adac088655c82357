//! Every sample develops into a JPEG that other software reads: right size, upright,
//! decodable by libjpeg-turbo, with EXIF and an sRGB ICC profile.

use std::path::Path;

use serde_json::Value;
use wedsync_develop::{Developer, PresetSet};

use crate::support::{read_ppm, run, sample, Scratch, CR2, DNG, RAWS};

fn exif_of(jpeg: &Path) -> Value {
    let out = run("exiftool", &["-j", "-n", "-G1", jpeg.to_str().expect("utf-8 path")]);
    let parsed: Value = serde_json::from_slice(&out).expect("exiftool JSON");
    parsed[0].clone()
}

#[test]
fn every_sample_develops_to_a_jpeg_other_tools_read() {
    let presets = PresetSet::built_in();
    let scratch = Scratch::new("corpus");
    for name in RAWS {
        let input = sample(name);
        // LibRaw's own development of the file, for size and orientation.
        let libraw = read_ppm(&run("dcraw_emu", &["-w", "-h", "-Z", "-", input.to_str().expect("utf-8")]));
        let mut full_long_side = 0;
        for preset in ["full", "web"] {
            let preset = presets.get(preset).expect("built-in");
            let r = Developer::cpu().develop_file(&input, preset).unwrap_or_else(|e| panic!("{e}"));
            let out = scratch.0.join(format!("{name}-{}.jpg", preset.name));
            std::fs::write(&out, &r.jpeg).expect("write");

            // libjpeg-turbo decodes it, at the size we report.
            let decoded = read_ppm(&run("djpeg", &["-pnm", out.to_str().expect("utf-8")]));
            assert_eq!((decoded.width, decoded.height), (r.width, r.height), "{name}");

            // Same orientation as LibRaw, and the full size within a few pixels of LibRaw's;
            // `-h` halves LibRaw's.
            let (lw, lh) = (libraw.width * 2, libraw.height * 2);
            assert_eq!(r.width > r.height, lw > lh, "{name}: orientation differs from LibRaw");
            match preset.long_edge() {
                None => {
                    let (w, h) = (r.width, r.height);
                    // The libraries' default crops differ by a few border pixels.
                    assert!(
                        w.abs_diff(lw) <= 24 && h.abs_diff(lh) <= 24,
                        "{name}: {w}x{h} vs LibRaw {lw}x{lh}"
                    );
                    full_long_side = w.max(h);
                }
                Some(edge) => assert_eq!(r.width.max(r.height), edge.min(full_long_side), "{name}"),
            }

            let tags = exif_of(&out);
            assert_eq!(tags["IFD0:Orientation"], 1, "{name}: {tags}");
            assert!(tags["IFD0:Make"].as_str().is_some_and(|m| !m.is_empty()), "{name}: no Make in {tags}");
            assert!(
                tags["ICC-header:ColorSpaceData"].as_str().is_some_and(|s| s.starts_with("RGB")),
                "{name}: {tags}"
            );
            let description = tags["ICC_Profile:ProfileDescription"].as_str().unwrap_or("");
            assert!(description.contains("sRGB"), "{name}: ICC description {description:?}");
        }
    }
}

#[test]
fn camera_exposure_settings_reach_the_rendition() {
    let presets = PresetSet::built_in();
    let scratch = Scratch::new("exif");
    let input = sample(CR2);
    let r = Developer::cpu().develop_file(&input, presets.get("web").expect("web")).expect("develop");
    let out = scratch.0.join("web.jpg");
    std::fs::write(&out, &r.jpeg).expect("write");
    let ours = exif_of(&out);
    let camera = exif_of(&input);
    for tag in ["ExposureTime", "FNumber", "ISO", "DateTimeOriginal", "FocalLength"] {
        let key = format!("ExifIFD:{tag}");
        assert!(!camera[&key].is_null(), "the sample has no {key}");
        assert_eq!(ours[&key], camera[&key], "{key}");
    }
    assert_eq!(ours["IFD0:Model"], camera["IFD0:Model"]);
}

/// Orientation is applied to the pixels: a file tagged "rotate 90° clockwise" comes out
/// portrait, with the left edge of the sensor at the top.
#[test]
fn orientation_tag_rotates_the_pixels() {
    let presets = PresetSet::built_in();
    let web = presets.get("web").expect("web");
    let scratch = Scratch::new("orient");
    let upright = Developer::cpu().develop_pixels(&sample(DNG), web).expect("develop");

    // The same RAW, tagged as shot in portrait (EXIF 6), through exiftool.
    let rotated_raw = scratch.0.join("rotated.dng");
    std::fs::copy(sample(DNG), &rotated_raw).expect("copy");
    run(
        "exiftool",
        &["-overwrite_original", "-n", "-IFD0:Orientation=6", rotated_raw.to_str().expect("utf-8")],
    );
    let rotated = Developer::cpu().develop_pixels(&rotated_raw, web).expect("develop rotated");
    assert_eq!((rotated.image.width, rotated.image.height), (upright.image.height, upright.image.width));

    // Output (x, y) shows source (y, h − 1 − x): compare a row of the rotated image with
    // the corresponding column of the upright one.
    let (w, h) = (upright.image.width, upright.image.height);
    let px = |img: &wedsync_develop::Rgb8, x: usize, y: usize| img.data[(y * img.width + x) * 3] as i32;
    let y = h / 3;
    let mean_err: f64 = (0..rotated.image.width)
        .map(|ox| (px(&rotated.image, ox, y) - px(&upright.image, y.min(w - 1), h - 1 - ox)).abs() as f64)
        .sum::<f64>()
        / rotated.image.width as f64;
    assert!(mean_err < 4.0, "rotated pixels do not match the upright image (mean error {mean_err})");
}
