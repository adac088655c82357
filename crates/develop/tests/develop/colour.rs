//! The colour is right: our linear sRGB (no tone curve) agrees with LibRaw's linear sRGB
//! (`dcraw_emu -w -o 1 -4`) on every sample, within mean CIEDE2000 ≤ 2 after matching
//! exposure. The two libraries crop differently, so the images are first aligned.

use wedsync_develop::lab::{ciede2000, linear_to_lab as lab};
use wedsync_develop::{develop_linear, RgbF32};

use crate::support::{box_down, crop, read_ppm, run, sample, RAWS};

fn luma(p: [f32; 3]) -> f32 {
    0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2]
}

/// Mean absolute difference of mean-normalised luminance with `a`(x, y) over `b`(x+dx, y+dy),
/// sampling every `step`-th pixel of the overlap.
fn misfit(a: &RgbF32, b: &RgbF32, dx: isize, dy: isize, step: usize) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    let (mut ma, mut mb) = (0.0f64, 0.0f64);
    let mut pairs = Vec::new();
    for y in (0..a.height).step_by(step) {
        let by = y as isize + dy;
        if by < 0 || by >= b.height as isize {
            continue;
        }
        for x in (0..a.width).step_by(step) {
            let bx = x as isize + dx;
            if bx < 0 || bx >= b.width as isize {
                continue;
            }
            let (la, lb) = (
                luma(a.data[y * a.width + x]) as f64,
                luma(b.data[by as usize * b.width + bx as usize]) as f64,
            );
            ma += la;
            mb += lb;
            pairs.push((la, lb));
        }
    }
    let (ma, mb) = (ma / pairs.len().max(1) as f64, mb / pairs.len().max(1) as f64);
    for (la, lb) in pairs {
        sum += (la / ma.max(1e-9) - lb / mb.max(1e-9)).abs();
        n += 1;
    }
    if n < 1000 {
        f64::INFINITY
    } else {
        sum / n as f64
    }
}

/// The offset (dx, dy) that best lays `a` over `b`: coarse at quarter size, then refined.
fn align(a: &RgbF32, b: &RgbF32) -> (isize, isize) {
    let (qa, qb) = (box_down(a, 4), box_down(b, 4));
    let mut best = (f64::INFINITY, 0, 0);
    for dy in -8..=8 {
        for dx in -8..=8 {
            let m = misfit(&qa, &qb, dx, dy, 1);
            if m < best.0 {
                best = (m, dx, dy);
            }
        }
    }
    let (cx, cy) = (best.1 * 4, best.2 * 4);
    let mut best = (f64::INFINITY, cx, cy);
    for dy in cy - 4..=cy + 4 {
        for dx in cx - 4..=cx + 4 {
            let m = misfit(a, b, dx, dy, 3);
            if m < best.0 {
                best = (m, dx, dy);
            }
        }
    }
    (best.1, best.2)
}

#[test]
fn linear_srgb_agrees_with_libraw() {
    let mut report = Vec::new();
    for name in RAWS {
        let input = sample(name);
        let theirs = read_ppm(&run(
            "dcraw_emu",
            &["-w", "-o", "1", "-4", "-H", "0", "-Z", "-", input.to_str().expect("utf-8")],
        ));
        let ours = develop_linear(&input, None).unwrap_or_else(|e| panic!("{e}"));
        let (dx, dy) = align(&ours, &theirs);
        // The overlap, in each image's coordinates.
        let (ax, ay) = ((-dx).max(0) as usize, (-dy).max(0) as usize);
        let (bx, by) = ((dx.max(0)) as usize, (dy.max(0)) as usize);
        let w = (ours.width - ax).min(theirs.width - bx);
        let h = (ours.height - ay).min(theirs.height - by);
        // Averaging 4×4 blocks leaves colour and drops the demosaic methods' differences.
        let a = box_down(&crop(&ours, ax, ay, w, h), 4);
        let b = box_down(&crop(&theirs, bx, by, w, h), 4);

        // Exposure: the ratio of mean luminance over pixels clipped in neither image.
        let usable = |p: &[f32; 3]| p.iter().all(|&v| v < 0.95);
        let (mut ya, mut yb) = (0.0f64, 0.0f64);
        for (p, q) in a.data.iter().zip(&b.data) {
            if usable(p) && usable(q) {
                ya += luma(*p) as f64;
                yb += luma(*q) as f64;
            }
        }
        assert!(ya > 0.0 && yb > 0.0, "{name}: no unclipped pixels");
        let k = (yb / ya) as f32;
        let de: f64 = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(p, q)| {
                ciede2000(lab(p.map(|v| (v * k).clamp(0.0, 1.0))), lab(q.map(|v| v.clamp(0.0, 1.0))))
            })
            .sum::<f64>()
            / a.data.len() as f64;
        report.push(format!(
            "{name}: ours {}x{}, LibRaw {}x{}, offset ({dx},{dy}), exposure x{k:.3}, mean CIEDE2000 {de:.2}",
            ours.width, ours.height, theirs.width, theirs.height
        ));
        assert!(de <= 2.0, "{}", report.join("\n"));
    }
    println!("{}", report.join("\n"));
}
