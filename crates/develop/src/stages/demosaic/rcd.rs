//! RCD — Ratio Corrected Demosaicing (Luis Sanz Rodríguez, v2.3), for Bayer mosaics.
//!
//! 1. Directional discrimination: a 7-tap high-pass along columns and rows, summed over three
//!    pixels, tells how strongly the image varies vertically versus horizontally (`vh`).
//! 2. Green at red/blue sites: four cardinal estimates, each a green neighbour scaled by the
//!    ratio of low-pass values (the "ratio correction"), blended by inverse gradients and
//!    then by `vh` — refined with the neighbourhood's `vh` where that is more decisive.
//! 3. Red at blue sites and blue at red sites from the diagonals, the same way on colour
//!    differences, steered by a diagonal discrimination (`pq`).
//! 4. Red and blue at green sites from the cardinal neighbours, again on colour differences.
//!
//! The image is processed in tiles with a [`PAD`]-pixel apron, so every intermediate plane of
//! a tile stays in cache and is reused for the next tile; bands of tiles run in parallel.
//! Beyond the image edge the mosaic is mirrored (x → −x), which keeps the CFA phase.

use rayon::prelude::*;

use crate::image::{Mosaic, RgbF32};

const EPS: f32 = 1e-5;
const EPSSQ: f32 = 1e-10;
/// Output pixels per tile side. Even, so every tile starts on the same CFA phase.
const TILE: usize = 192;
/// How far the stencils reach, all steps chained: the last step reads red/blue 3 pixels
/// away, which read green 2 further, which reads the mosaic 4 further, plus the refinement.
/// Even, for the same reason as [`TILE`].
const PAD: usize = 10;
const WIN: usize = TILE + 2 * PAD;

fn sqr(v: f32) -> f32 {
    v * v
}

/// Blend: `t` of `a` and the rest of `b`.
fn intp(t: f32, a: f32, b: f32) -> f32 {
    t * (a - b) + b
}

/// Which of two directions to trust: the centre's own discrimination, or the mean of its
/// four diagonal neighbours when that is further from indecision (0.5).
fn refine(dir: &[f32], i: usize, s: usize) -> f32 {
    let central = dir[i];
    let neighbours = 0.25 * (dir[i - s - 1] + dir[i - s + 1] + dir[i + s - 1] + dir[i + s + 1]);
    if (0.5 - central).abs() < (0.5 - neighbours).abs() {
        neighbours
    } else {
        central
    }
}

/// A 7-tap high-pass through `i` along `step`, squared.
fn high_pass(c: &[f32], i: usize, step: usize) -> f32 {
    sqr((c[i - 3 * step] - c[i - step] - c[i + step] + c[i + 3 * step])
        - 3.0 * (c[i - 2 * step] + c[i + 2 * step])
        + 6.0 * c[i])
}

/// Per-thread planes for one tile window, reused tile after tile.
struct Window {
    cfa: Vec<f32>,
    vh: Vec<f32>,
    pq: Vec<f32>,
    lpf: Vec<f32>,
    hp_a: Vec<f32>,
    hp_b: Vec<f32>,
    red: Vec<f32>,
    green: Vec<f32>,
    blue: Vec<f32>,
}

impl Window {
    fn new() -> Window {
        let plane = || vec![0.0f32; WIN * WIN];
        Window {
            cfa: plane(),
            vh: plane(),
            pq: plane(),
            lpf: plane(),
            hp_a: plane(),
            hp_b: plane(),
            red: plane(),
            green: plane(),
            blue: plane(),
        }
    }
}

/// Mirrors a coordinate into 0..n without repeating the edge sample, keeping its parity.
fn mirror(v: isize, n: usize) -> usize {
    let n = n as isize;
    let m = if v < 0 {
        -v
    } else if v >= n {
        2 * (n - 1) - v
    } else {
        v
    };
    m.clamp(0, n - 1) as usize
}

pub fn demosaic(m: &Mosaic) -> RgbF32 {
    let (w, h) = (m.width, m.height);
    // Colour at window position (x, y): the window origin has the image origin's CFA phase.
    let pattern = [m.cfa.color_at(0, 0), m.cfa.color_at(1, 0), m.cfa.color_at(0, 1), m.cfa.color_at(1, 1)];
    let mut data = vec![[0.0f32; 3]; w * h];
    data.par_chunks_mut(w * TILE).enumerate().for_each(|(band, out)| {
        let ty = band * TILE;
        let th = TILE.min(h - ty);
        let mut win = Window::new();
        for tx in (0..w).step_by(TILE) {
            let tw = TILE.min(w - tx);
            let (ww, wh) = (tw + 2 * PAD, th + 2 * PAD);
            for y in 0..wh {
                let sy = mirror(ty as isize + y as isize - PAD as isize, h);
                let row = &m.data[sy * w..(sy + 1) * w];
                for (x, v) in win.cfa[y * ww..(y + 1) * ww].iter_mut().enumerate() {
                    *v = row[mirror(tx as isize + x as isize - PAD as isize, w)];
                }
            }
            tile(&mut win, ww, wh, &pattern);
            for y in 0..th {
                let src = (y + PAD) * ww + PAD;
                let dst = &mut out[y * w + tx..y * w + tx + tw];
                for (x, px) in dst.iter_mut().enumerate() {
                    *px = [win.red[src + x], win.green[src + x], win.blue[src + x]];
                }
            }
        }
    });
    RgbF32 { width: w, height: h, data }
}

/// Runs RCD on one window of `ww`×`wh`; the result is valid `PAD` pixels in from its edges.
fn tile(win: &mut Window, ww: usize, wh: usize, pattern: &[usize; 4]) {
    let s = ww;
    let colour = |x: usize, y: usize| pattern[(y & 1) * 2 + (x & 1)];
    // The first non-green column of row y (greens and non-greens alternate in a Bayer row).
    let first_chroma = |y: usize, from: usize| if colour(from, y) == 1 { from + 1 } else { from };
    let Window { cfa, vh, pq, lpf, hp_a, hp_b, red, green, blue } = win;
    let c = &cfa[..ww * wh];

    // Step 1: vertical/horizontal discrimination.
    for y in 3..wh - 3 {
        for x in 3..ww - 3 {
            let i = y * s + x;
            hp_a[i] = high_pass(c, i, s);
            hp_b[i] = high_pass(c, i, 1);
        }
    }
    for y in 4..wh - 4 {
        for x in 4..ww - 4 {
            let i = y * s + x;
            let v_stat = (hp_a[i - s] + hp_a[i] + hp_a[i + s]).max(EPSSQ);
            let h_stat = (hp_b[i - 1] + hp_b[i] + hp_b[i + 1]).max(EPSSQ);
            vh[i] = v_stat / (v_stat + h_stat);
        }
    }

    // Step 2: low-pass at red and blue sites, the reference for the ratio correction.
    for y in 1..wh - 1 {
        for x in (first_chroma(y, 1)..ww - 1).step_by(2) {
            let i = y * s + x;
            lpf[i] = c[i]
                + 0.5 * (c[i - s] + c[i + s] + c[i - 1] + c[i + 1])
                + 0.25 * (c[i - s - 1] + c[i - s + 1] + c[i + s - 1] + c[i + s + 1]);
        }
    }

    // Step 3: green at red and blue sites.
    green[..ww * wh].copy_from_slice(c);
    let (s2, s3, s4) = (2 * s, 3 * s, 4 * s);
    for y in 5..wh - 5 {
        for x in (first_chroma(y, 5)..ww - 5).step_by(2) {
            let i = y * s + x;
            let n_grad = EPS
                + (c[i - s] - c[i + s]).abs()
                + (c[i] - c[i - s2]).abs()
                + (c[i - s] - c[i - s3]).abs()
                + (c[i - s2] - c[i - s4]).abs();
            let s_grad = EPS
                + (c[i - s] - c[i + s]).abs()
                + (c[i] - c[i + s2]).abs()
                + (c[i + s] - c[i + s3]).abs()
                + (c[i + s2] - c[i + s4]).abs();
            let w_grad = EPS
                + (c[i - 1] - c[i + 1]).abs()
                + (c[i] - c[i - 2]).abs()
                + (c[i - 1] - c[i - 3]).abs()
                + (c[i - 2] - c[i - 4]).abs();
            let e_grad = EPS
                + (c[i - 1] - c[i + 1]).abs()
                + (c[i] - c[i + 2]).abs()
                + (c[i + 1] - c[i + 3]).abs()
                + (c[i + 2] - c[i + 4]).abs();
            let l2 = 2.0 * lpf[i];
            let n_est = c[i - s] * l2 / (EPS + lpf[i] + lpf[i - s2]);
            let s_est = c[i + s] * l2 / (EPS + lpf[i] + lpf[i + s2]);
            let w_est = c[i - 1] * l2 / (EPS + lpf[i] + lpf[i - 2]);
            let e_est = c[i + 1] * l2 / (EPS + lpf[i] + lpf[i + 2]);
            let v_est = (s_grad * n_est + n_grad * s_est) / (n_grad + s_grad);
            let h_est = (w_grad * e_est + e_grad * w_est) / (e_grad + w_grad);
            green[i] = intp(refine(vh, i, s), h_est, v_est).clamp(0.0, 1.0);
        }
    }

    // Step 4: diagonal discrimination, then red at blue sites and blue at red sites.
    for y in 3..wh - 3 {
        for x in (first_chroma(y, 3)..ww - 3).step_by(2) {
            let i = y * s + x;
            hp_a[i] = high_pass(c, i, s + 1);
            hp_b[i] = high_pass(c, i, s - 1);
        }
    }
    for y in 4..wh - 4 {
        for x in (first_chroma(y, 4)..ww - 4).step_by(2) {
            let i = y * s + x;
            let p_stat = (hp_a[i - s - 1] + hp_a[i] + hp_a[i + s + 1]).max(EPSSQ);
            let q_stat = (hp_b[i - s + 1] + hp_b[i] + hp_b[i + s - 1]).max(EPSSQ);
            pq[i] = p_stat / (p_stat + q_stat);
        }
    }
    let g = &green[..];
    for y in 7..wh - 7 {
        for x in (first_chroma(y, 7)..ww - 7).step_by(2) {
            let i = y * s + x;
            let (nw, ne) = (i - s - 1, i - s + 1);
            let (sw, se) = (i + s - 1, i + s + 1);
            let nw_grad =
                EPS + (c[nw] - c[se]).abs() + (c[nw] - c[i - s3 - 3]).abs() + (g[i] - g[i - s2 - 2]).abs();
            let ne_grad =
                EPS + (c[ne] - c[sw]).abs() + (c[ne] - c[i - s3 + 3]).abs() + (g[i] - g[i - s2 + 2]).abs();
            let sw_grad =
                EPS + (c[sw] - c[ne]).abs() + (c[sw] - c[i + s3 - 3]).abs() + (g[i] - g[i + s2 - 2]).abs();
            let se_grad =
                EPS + (c[se] - c[nw]).abs() + (c[se] - c[i + s3 + 3]).abs() + (g[i] - g[i + s2 + 2]).abs();
            let (nw_est, ne_est) = (c[nw] - g[nw], c[ne] - g[ne]);
            let (sw_est, se_est) = (c[sw] - g[sw], c[se] - g[se]);
            let p_est = (nw_grad * se_est + se_grad * nw_est) / (nw_grad + se_grad);
            let q_est = (ne_grad * sw_est + sw_grad * ne_est) / (ne_grad + sw_grad);
            let other = (g[i] + intp(refine(pq, i, s), q_est, p_est)).clamp(0.0, 1.0);
            if colour(x, y) == 0 {
                red[i] = c[i];
                blue[i] = other;
            } else {
                blue[i] = c[i];
                red[i] = other;
            }
        }
    }

    // Step 5: red and blue at green sites.
    for y in PAD..wh - PAD {
        let first_green = if colour(PAD, y) == 1 { PAD } else { PAD + 1 };
        for x in (first_green..ww - PAD).step_by(2) {
            let i = y * s + x;
            let disc = refine(vh, i, s);
            let n1 = EPS + (g[i] - g[i - s2]).abs();
            let s1 = EPS + (g[i] - g[i + s2]).abs();
            let w1 = EPS + (g[i] - g[i - 2]).abs();
            let e1 = EPS + (g[i] - g[i + 2]).abs();
            let at_green = |p: &[f32]| {
                let sn = (p[i - s] - p[i + s]).abs();
                let ew = (p[i - 1] - p[i + 1]).abs();
                let n_grad = n1 + sn + (p[i - s] - p[i - s3]).abs();
                let s_grad = s1 + sn + (p[i + s] - p[i + s3]).abs();
                let w_grad = w1 + ew + (p[i - 1] - p[i - 3]).abs();
                let e_grad = e1 + ew + (p[i + 1] - p[i + 3]).abs();
                let n_est = p[i - s] - g[i - s];
                let s_est = p[i + s] - g[i + s];
                let w_est = p[i - 1] - g[i - 1];
                let e_est = p[i + 1] - g[i + 1];
                let v_est = (n_grad * s_est + s_grad * n_est) / (n_grad + s_grad);
                let h_est = (e_grad * w_est + w_grad * e_est) / (e_grad + w_grad);
                (g[i] + intp(disc, h_est, v_est)).clamp(0.0, 1.0)
            };
            red[i] = at_green(red);
            blue[i] = at_green(blue);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Cfa;
    use crate::stages::demosaic::testing::{gradient, mosaic_of, worst};

    /// A smooth gradient comes back nearly exact — image edges and tile seams included, in
    /// every Bayer phase.
    #[test]
    fn smooth_gradient_is_reconstructed_everywhere() {
        let (w, h) = (TILE + 37, TILE + 21);
        let truth = gradient(w, h);
        for phase in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let out = demosaic(&mosaic_of(&truth, w, h, Cfa::rggb().shifted(phase.0, phase.1)));
            let worst = worst(&out, &truth);
            assert!(worst < 0.01, "phase {phase:?}: worst error {worst}");
        }
    }
}
