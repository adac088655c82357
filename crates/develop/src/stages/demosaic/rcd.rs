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
//! Each step is a pass over whole rows in parallel that reads finished planes and writes a
//! new one, so no pass reads what another thread is writing. Pixels within [`BORDER`] of the
//! edge, out of reach of the stencils, come from the neighbour method.

use rayon::prelude::*;

use super::neighbour;
use crate::image::{Mosaic, RgbF32};

const EPS: f32 = 1e-5;
const EPSSQ: f32 = 1e-10;
/// The widest stencil reaches 4 pixels and the refinement one more.
const BORDER: usize = 5;

fn sqr(v: f32) -> f32 {
    v * v
}

/// Blend: `t` of `a` and the rest of `b`.
fn intp(t: f32, a: f32, b: f32) -> f32 {
    t * (a - b) + b
}

/// Fills every row of a plane whose rows lie inside `margin` with `f(y, row)`.
fn rows(w: usize, h: usize, margin: usize, f: impl Fn(usize, &mut [f32]) + Sync) -> Vec<f32> {
    let mut plane = vec![0.0f32; w * h];
    plane.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        if y >= margin && y + margin < h {
            f(y, row);
        }
    });
    plane
}

/// Which of two directions to trust: the centre's own discrimination, or the mean of its
/// four diagonal neighbours when that is further from indecision (0.5).
fn refine(dir: &[f32], i: usize, w: usize) -> f32 {
    let central = dir[i];
    let neighbours = 0.25 * (dir[i - w - 1] + dir[i - w + 1] + dir[i + w - 1] + dir[i + w + 1]);
    if (0.5 - central).abs() < (0.5 - neighbours).abs() {
        neighbours
    } else {
        central
    }
}

pub fn demosaic(m: &Mosaic) -> RgbF32 {
    let (w, h, c) = (m.width, m.height, &m.data[..]);
    let is_green = |x: usize, y: usize| m.cfa.color_at(x, y) == 1;
    let (w1, w2, w3, w4) = (w, 2 * w, 3 * w, 4 * w);

    // Step 1: vertical/horizontal discrimination.
    let high_pass = |i: usize, s: usize| {
        sqr((c[i - 3 * s] - c[i - s] - c[i + s] + c[i + 3 * s])
            - 3.0 * (c[i - 2 * s] + c[i + 2 * s])
            + 6.0 * c[i])
    };
    let hp_v = rows(w, h, 3, |y, row| {
        for (x, v) in row.iter_mut().enumerate() {
            *v = high_pass(y * w + x, w);
        }
    });
    let hp_h = rows(w, h, 0, |y, row| {
        for (x, v) in row.iter_mut().enumerate().take(w - 3).skip(3) {
            *v = high_pass(y * w + x, 1);
        }
    });
    let vh = rows(w, h, 4, |y, row| {
        for (x, v) in row.iter_mut().enumerate().take(w - 4).skip(4) {
            let i = y * w + x;
            let v_stat = (hp_v[i - w1] + hp_v[i] + hp_v[i + w1]).max(EPSSQ);
            let h_stat = (hp_h[i - 1] + hp_h[i] + hp_h[i + 1]).max(EPSSQ);
            *v = v_stat / (v_stat + h_stat);
        }
    });
    drop((hp_v, hp_h));

    // Step 2: low-pass, the reference for the ratio correction.
    let lpf = rows(w, h, 1, |y, row| {
        for (x, v) in row.iter_mut().enumerate().take(w - 1).skip(1) {
            let i = y * w + x;
            *v = c[i]
                + 0.5 * (c[i - w1] + c[i + w1] + c[i - 1] + c[i + 1])
                + 0.25 * (c[i - w1 - 1] + c[i - w1 + 1] + c[i + w1 - 1] + c[i + w1 + 1]);
        }
    });

    // Step 3: green everywhere.
    let green = rows(w, h, 0, |y, row| {
        for (x, g) in row.iter_mut().enumerate() {
            let i = y * w + x;
            let interior = x >= BORDER && x + BORDER < w && y >= BORDER && y + BORDER < h;
            *g = if is_green(x, y) {
                c[i]
            } else if !interior {
                neighbour::pixel(m, x, y)[1]
            } else {
                let n_grad = EPS
                    + (c[i - w1] - c[i + w1]).abs()
                    + (c[i] - c[i - w2]).abs()
                    + (c[i - w1] - c[i - w3]).abs()
                    + (c[i - w2] - c[i - w4]).abs();
                let s_grad = EPS
                    + (c[i - w1] - c[i + w1]).abs()
                    + (c[i] - c[i + w2]).abs()
                    + (c[i + w1] - c[i + w3]).abs()
                    + (c[i + w2] - c[i + w4]).abs();
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
                let n_est = c[i - w1] * l2 / (EPS + lpf[i] + lpf[i - w2]);
                let s_est = c[i + w1] * l2 / (EPS + lpf[i] + lpf[i + w2]);
                let w_est = c[i - 1] * l2 / (EPS + lpf[i] + lpf[i - 2]);
                let e_est = c[i + 1] * l2 / (EPS + lpf[i] + lpf[i + 2]);
                let v_est = (s_grad * n_est + n_grad * s_est) / (n_grad + s_grad);
                let h_est = (w_grad * e_est + e_grad * w_est) / (e_grad + w_grad);
                intp(refine(&vh, i, w), h_est, v_est).clamp(0.0, 1.0)
            };
        }
    });
    drop(lpf);

    // Step 4: diagonal discrimination, then red at blue and blue at red.
    let hp_p = rows(w, h, 3, |y, row| {
        for (x, v) in row.iter_mut().enumerate().take(w - 3).skip(3) {
            *v = high_pass(y * w + x, w + 1);
        }
    });
    let hp_q = rows(w, h, 3, |y, row| {
        for (x, v) in row.iter_mut().enumerate().take(w - 3).skip(3) {
            *v = high_pass(y * w + x, w - 1);
        }
    });
    let pq = rows(w, h, 4, |y, row| {
        for (x, v) in row.iter_mut().enumerate().take(w - 4).skip(4) {
            let i = y * w + x;
            let p_stat = (hp_p[i - w1 - 1] + hp_p[i] + hp_p[i + w1 + 1]).max(EPSSQ);
            let q_stat = (hp_q[i - w1 + 1] + hp_q[i] + hp_q[i + w1 - 1]).max(EPSSQ);
            *v = p_stat / (p_stat + q_stat);
        }
    });
    drop((hp_p, hp_q));

    let g = &green[..];
    // The colour not sampled at a red or blue site, interpolated from its four diagonals.
    let opposite = |x: usize, y: usize| -> f32 {
        let i = y * w + x;
        let grad = |d1: usize, d3: usize, g2: usize, back: bool| {
            let (near, far, gg, opp) = if back {
                (c[i - d1], c[i - d3], g[i - g2], c[i + d1])
            } else {
                (c[i + d1], c[i + d3], g[i + g2], c[i - d1])
            };
            EPS + (near - opp).abs() + (near - far).abs() + (g[i] - gg).abs()
        };
        let nw_grad = grad(w1 + 1, w3 + 3, w2 + 2, true);
        let se_grad = grad(w1 + 1, w3 + 3, w2 + 2, false);
        let ne_grad = grad(w1 - 1, w3 - 3, w2 - 2, true);
        let sw_grad = grad(w1 - 1, w3 - 3, w2 - 2, false);
        let nw_est = c[i - w1 - 1] - g[i - w1 - 1];
        let se_est = c[i + w1 + 1] - g[i + w1 + 1];
        let ne_est = c[i - w1 + 1] - g[i - w1 + 1];
        let sw_est = c[i + w1 - 1] - g[i + w1 - 1];
        let p_est = (nw_grad * se_est + se_grad * nw_est) / (nw_grad + se_grad);
        let q_est = (ne_grad * sw_est + sw_grad * ne_est) / (ne_grad + sw_grad);
        (g[i] + intp(refine(&pq, i, w), q_est, p_est)).clamp(0.0, 1.0)
    };
    // Red and blue planes, complete at red and blue sites (green sites are filled in step 5).
    let chroma_plane = |colour: usize| {
        rows(w, h, 0, |y, row| {
            for (x, v) in row.iter_mut().enumerate() {
                let own = m.cfa.color_at(x, y);
                let interior = x >= BORDER && x + BORDER < w && y >= BORDER && y + BORDER < h;
                *v = if own == colour {
                    c[y * w + x]
                } else if !interior {
                    neighbour::pixel(m, x, y)[colour]
                } else if own == 1 {
                    0.0
                } else {
                    opposite(x, y)
                };
            }
        })
    };
    let red = chroma_plane(0);
    let blue = chroma_plane(2);

    // Step 5: red and blue at green sites, and the interleaved result.
    let mut data = vec![[0.0f32; 3]; w * h];
    data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, out) in row.iter_mut().enumerate() {
            let i = y * w + x;
            let interior = x >= BORDER && x + BORDER < w && y >= BORDER && y + BORDER < h;
            *out = if !interior {
                [red[i], g[i], blue[i]]
            } else if !is_green(x, y) {
                [red[i], g[i], blue[i]]
            } else {
                let disc = refine(&vh, i, w);
                let n1 = EPS + (g[i] - g[i - w2]).abs();
                let s1 = EPS + (g[i] - g[i + w2]).abs();
                let w1g = EPS + (g[i] - g[i - 2]).abs();
                let e1 = EPS + (g[i] - g[i + 2]).abs();
                let at_green = |p: &[f32]| {
                    let sn = (p[i - w1] - p[i + w1]).abs();
                    let ew = (p[i - 1] - p[i + 1]).abs();
                    let n_grad = n1 + sn + (p[i - w1] - p[i - w3]).abs();
                    let s_grad = s1 + sn + (p[i + w1] - p[i + w3]).abs();
                    let w_grad = w1g + ew + (p[i - 1] - p[i - 3]).abs();
                    let e_grad = e1 + ew + (p[i + 1] - p[i + 3]).abs();
                    let n_est = p[i - w1] - g[i - w1];
                    let s_est = p[i + w1] - g[i + w1];
                    let w_est = p[i - 1] - g[i - 1];
                    let e_est = p[i + 1] - g[i + 1];
                    let v_est = (n_grad * s_est + s_grad * n_est) / (n_grad + s_grad);
                    let h_est = (e_grad * w_est + w_grad * e_est) / (e_grad + w_grad);
                    (g[i] + intp(disc, h_est, v_est)).clamp(0.0, 1.0)
                };
                [at_green(&red), g[i], at_green(&blue)]
            };
        }
    });
    RgbF32 {
        width: w,
        height: h,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Cfa;

    /// A smooth colour gradient, mosaiced and demosaiced, comes back nearly exact.
    #[test]
    fn smooth_gradient_is_reconstructed() {
        let (w, h) = (64, 48);
        let truth: Vec<[f32; 3]> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32 / w as f32, (i / w) as f32 / h as f32);
                [0.2 + 0.5 * x, 0.3 + 0.3 * y, 0.6 - 0.4 * x * y]
            })
            .collect();
        let cfa = Cfa::rggb();
        let data = (0..w * h)
            .map(|i| truth[i][cfa.color_at(i % w, i / w)])
            .collect();
        let out = demosaic(&Mosaic {
            width: w,
            height: h,
            data,
            cfa,
        });
        let worst = out
            .data
            .iter()
            .zip(&truth)
            .flat_map(|(a, b)| (0..3).map(move |c| (a[c] - b[c]).abs()))
            .fold(0.0f32, f32::max);
        assert!(worst < 0.01, "worst error {worst}");
    }
}
