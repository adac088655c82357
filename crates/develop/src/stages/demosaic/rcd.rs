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

use super::Input;
use crate::image::Rgb16;
use crate::stages::color::ToSrgb16;

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
#[inline(always)]
fn refine(central: f32, nw: f32, ne: f32, sw: f32, se: f32) -> f32 {
    let neighbours = 0.25 * (nw + ne + sw + se);
    if (0.5 - central).abs() < (0.5 - neighbours).abs() {
        neighbours
    } else {
        central
    }
}

/// A 7-tap high-pass over samples at -3..=3 steps from the centre, squared.
#[inline(always)]
fn high_pass(m3: f32, m2: f32, m1: f32, c: f32, p1: f32, p2: f32, p3: f32) -> f32 {
    sqr((m3 - m1 - p1 + p3) - 3.0 * (m2 + p2) + 6.0 * c)
}

/// A run of `n` pixels of one window row, and equal-length views of the planes shifted from
/// it. Every view is exactly `n` long, so the loops over them need no bounds checks and
/// vectorise; that is why each step below computes every pixel of a row, the half it needs
/// and the half it does not, rather than striding over one CFA colour.
#[derive(Clone, Copy)]
struct Run {
    start: usize,
    n: usize,
    stride: usize,
}

impl Run {
    /// Pixels `margin..ww - margin` of row `y` of a window `ww` wide.
    fn new(ww: usize, y: usize, margin: usize) -> Run {
        Run { start: y * ww + margin, n: ww - 2 * margin, stride: ww }
    }

    #[inline(always)]
    fn at<'a>(&self, plane: &'a [f32], dx: isize, dy: isize) -> &'a [f32] {
        let start = self.start.wrapping_add_signed(dy * self.stride as isize + dx);
        &plane[start..start + self.n]
    }

    fn out<'a>(&self, plane: &'a mut [f32]) -> &'a mut [f32] {
        &mut plane[self.start..self.start + self.n]
    }
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
    /// One output row of red and of blue, before the colour matrix.
    row_r: Vec<f32>,
    row_b: Vec<f32>,
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
            row_r: vec![0.0; TILE],
            row_b: vec![0.0; TILE],
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

/// The mosaic's colours at window positions: `[row parity][column parity]`. Every window
/// starts on an even image coordinate, so it has the image origin's phase.
type Pattern = [[usize; 2]; 2];

pub fn demosaic(input: &Input, to_srgb: &ToSrgb16) -> Rgb16 {
    let (w, h, cfa) = (input.width(), input.height(), input.cfa());
    let pattern = [[cfa.color_at(0, 0), cfa.color_at(1, 0)], [cfa.color_at(0, 1), cfa.color_at(1, 1)]];
    let mut data = vec![[0u16; 3]; w * h];
    data.par_chunks_mut(w * TILE).enumerate().for_each(|(band, out)| {
        let ty = band * TILE;
        let th = TILE.min(h - ty);
        // The windows' rows, mirrored at the image's edges, all lie within PAD rows of
        // the tile row: mirroring reflects rows outside the image back inside it.
        let rows = input.band(ty.saturating_sub(PAD), ty + th + PAD);
        let mut win = Window::new();
        for tx in (0..w).step_by(TILE) {
            let tw = TILE.min(w - tx);
            let (ww, wh) = (tw + 2 * PAD, th + 2 * PAD);
            for y in 0..wh {
                let sy = mirror(ty as isize + y as isize - PAD as isize, h);
                let row = rows.row(sy);
                let dst = &mut win.cfa[y * ww..(y + 1) * ww];
                if tx >= PAD && tx + tw + PAD <= w {
                    dst.copy_from_slice(&row[tx - PAD..tx + tw + PAD]);
                } else {
                    for (x, v) in dst.iter_mut().enumerate() {
                        *v = row[mirror(tx as isize + x as isize - PAD as isize, w)];
                    }
                }
            }
            interpolate(&mut win, ww, wh, &pattern);
            write_tile(&mut win, ww, th, &pattern, to_srgb, &mut out[tx..], w);
        }
    });
    Rgb16 { width: w, height: h, data }
}

/// Steps 1 to 4 of RCD on one window of `ww`×`wh`: green everywhere, and red and blue at
/// the red and blue sites. Step 5 runs as the tile is written out, in [`write_tile`].
fn interpolate(win: &mut Window, ww: usize, wh: usize, pattern: &Pattern) {
    let Window { cfa, vh, pq, lpf, hp_a, hp_b, red, green, blue, .. } = win;
    let c = &cfa[..ww * wh];

    // Step 1: vertical/horizontal discrimination.
    for y in 3..wh - 3 {
        let run = Run::new(ww, y, 3);
        let at = |dx, dy| run.at(c, dx, dy);
        let (u3, u2, u1, cc, d1, d2, d3) =
            (at(0, -3), at(0, -2), at(0, -1), at(0, 0), at(0, 1), at(0, 2), at(0, 3));
        let (l3, l2, l1, r1, r2, r3) = (at(-3, 0), at(-2, 0), at(-1, 0), at(1, 0), at(2, 0), at(3, 0));
        let (v_out, h_out) = (run.out(hp_a), run.out(hp_b));
        for k in 0..run.n {
            v_out[k] = high_pass(u3[k], u2[k], u1[k], cc[k], d1[k], d2[k], d3[k]);
            h_out[k] = high_pass(l3[k], l2[k], l1[k], cc[k], r1[k], r2[k], r3[k]);
        }
    }
    for y in 4..wh - 4 {
        let run = Run::new(ww, y, 4);
        let (vn, vc, vs) = (run.at(hp_a, 0, -1), run.at(hp_a, 0, 0), run.at(hp_a, 0, 1));
        let (hw, hc, he) = (run.at(hp_b, -1, 0), run.at(hp_b, 0, 0), run.at(hp_b, 1, 0));
        let out = run.out(vh);
        for k in 0..run.n {
            out[k] = ratio(vn[k] + vc[k] + vs[k], hw[k] + hc[k] + he[k]);
        }
    }

    // Step 2: low-pass, the reference for the ratio correction (read at red and blue sites).
    for y in 1..wh - 1 {
        let run = Run::new(ww, y, 1);
        let at = |dx, dy| run.at(c, dx, dy);
        let (cc, n, s, w, e) = (at(0, 0), at(0, -1), at(0, 1), at(-1, 0), at(1, 0));
        let (nw, ne, sw, se) = (at(-1, -1), at(1, -1), at(-1, 1), at(1, 1));
        let out = run.out(lpf);
        for k in 0..run.n {
            out[k] = cc[k] + 0.5 * (n[k] + s[k] + w[k] + e[k]) + 0.25 * (nw[k] + ne[k] + sw[k] + se[k]);
        }
    }

    // Step 3: green at red and blue sites.
    for y in 5..wh - 5 {
        let run = Run::new(ww, y, 5);
        // The column parity of this row's red or blue sites, relative to the run's start.
        let chroma = usize::from(pattern[y & 1][5 & 1] == 1);
        let at = |dx, dy| run.at(c, dx, dy);
        let (u4, u3, u2, u1, cc) = (at(0, -4), at(0, -3), at(0, -2), at(0, -1), at(0, 0));
        let (d1, d2, d3, d4) = (at(0, 1), at(0, 2), at(0, 3), at(0, 4));
        let (l4, l3, l2, l1) = (at(-4, 0), at(-3, 0), at(-2, 0), at(-1, 0));
        let (r1, r2, r3, r4) = (at(1, 0), at(2, 0), at(3, 0), at(4, 0));
        let (lp_c, lp_n, lp_s) = (run.at(lpf, 0, 0), run.at(lpf, 0, -2), run.at(lpf, 0, 2));
        let (lp_w, lp_e) = (run.at(lpf, -2, 0), run.at(lpf, 2, 0));
        let (d_c, d_nw, d_ne) = (run.at(vh, 0, 0), run.at(vh, -1, -1), run.at(vh, 1, -1));
        let (d_sw, d_se) = (run.at(vh, -1, 1), run.at(vh, 1, 1));
        let out = run.out(green);
        for k in 0..run.n {
            let v_est = ratio_estimate(
                [u4[k], u3[k], u2[k], u1[k], cc[k], d1[k], d2[k], d3[k], d4[k]],
                [lp_n[k], lp_c[k], lp_s[k]],
            );
            let h_est = ratio_estimate(
                [l4[k], l3[k], l2[k], l1[k], cc[k], r1[k], r2[k], r3[k], r4[k]],
                [lp_w[k], lp_c[k], lp_e[k]],
            );
            let disc = refine(d_c[k], d_nw[k], d_ne[k], d_sw[k], d_se[k]);
            let estimate = intp(disc, h_est, v_est).clamp(0.0, 1.0);
            out[k] = if k & 1 == chroma { estimate } else { cc[k] };
        }
    }

    // Step 4: diagonal discrimination, then red at blue sites and blue at red sites.
    for y in 3..wh - 3 {
        let run = Run::new(ww, y, 3);
        let at = |dx, dy| run.at(c, dx, dy);
        let (p3, p2, p1, cc, p_1, p_2, p_3) =
            (at(-3, -3), at(-2, -2), at(-1, -1), at(0, 0), at(1, 1), at(2, 2), at(3, 3));
        let (q3, q2, q1, q_1, q_2, q_3) = (at(3, -3), at(2, -2), at(1, -1), at(-1, 1), at(-2, 2), at(-3, 3));
        let (p_out, q_out) = (run.out(hp_a), run.out(hp_b));
        for k in 0..run.n {
            p_out[k] = high_pass(p3[k], p2[k], p1[k], cc[k], p_1[k], p_2[k], p_3[k]);
            q_out[k] = high_pass(q3[k], q2[k], q1[k], cc[k], q_1[k], q_2[k], q_3[k]);
        }
    }
    for y in 4..wh - 4 {
        let run = Run::new(ww, y, 4);
        let (pn, pc, ps) = (run.at(hp_a, -1, -1), run.at(hp_a, 0, 0), run.at(hp_a, 1, 1));
        let (qn, qc, qs) = (run.at(hp_b, 1, -1), run.at(hp_b, 0, 0), run.at(hp_b, -1, 1));
        let out = run.out(pq);
        for k in 0..run.n {
            out[k] = ratio(pn[k] + pc[k] + ps[k], qn[k] + qc[k] + qs[k]);
        }
    }
    let g = &green[..];
    for y in 7..wh - 7 {
        let run = Run::new(ww, y, 7);
        // This row's red or blue sites hold their own colour; the estimate is the other one.
        // Both planes are written across the whole run: values at green sites are never read.
        let [first, second] = pattern[y & 1];
        let own = if first == 1 { second } else { first };
        let (own_plane, other_plane) =
            if own == 0 { (&mut *red, &mut *blue) } else { (&mut *blue, &mut *red) };
        let (cc, gc) = (run.at(c, 0, 0), run.at(g, 0, 0));
        let at = |dx, dy| (run.at(c, dx, dy), run.at(g, dx, dy));
        let ((c_nw, g_nw), (c_ne, g_ne), (c_sw, g_sw), (c_se, g_se)) =
            (at(-1, -1), at(1, -1), at(-1, 1), at(1, 1));
        let ((_, g_nw2), (_, g_ne2), (_, g_sw2), (_, g_se2)) = (at(-2, -2), at(2, -2), at(-2, 2), at(2, 2));
        let ((c_nw3, _), (c_ne3, _), (c_sw3, _), (c_se3, _)) = (at(-3, -3), at(3, -3), at(-3, 3), at(3, 3));
        let (d_c, d_nw, d_ne) = (run.at(pq, 0, 0), run.at(pq, -1, -1), run.at(pq, 1, -1));
        let (d_sw, d_se) = (run.at(pq, -1, 1), run.at(pq, 1, 1));
        run.out(own_plane).copy_from_slice(cc);
        let out = run.out(other_plane);
        for k in 0..run.n {
            let g_here = gc[k];
            let p_est = difference_estimate(
                [c_nw[k], c_nw3[k], g_nw[k], g_nw2[k]],
                [c_se[k], c_se3[k], g_se[k], g_se2[k]],
                g_here,
            );
            let q_est = difference_estimate(
                [c_ne[k], c_ne3[k], g_ne[k], g_ne2[k]],
                [c_sw[k], c_sw3[k], g_sw[k], g_sw2[k]],
                g_here,
            );
            let disc = refine(d_c[k], d_nw[k], d_ne[k], d_sw[k], d_se[k]);
            out[k] = (g_here + intp(disc, q_est, p_est)).clamp(0.0, 1.0);
        }
    }
}

/// `a / (a + b)` of two directional statistics: 1 where only the first direction varies.
#[inline(always)]
fn ratio(a: f32, b: f32) -> f32 {
    let (a, b) = (a.max(EPSSQ), b.max(EPSSQ));
    a / (a + b)
}

/// Green at a red or blue site along one axis (step 3): the two neighbours on the axis,
/// each scaled by the ratio of low-passes, blended by inverse gradients. `m` is the mosaic
/// from -4 to +4 along the axis, `lp` the low-pass at -2, 0 and +2.
#[inline(always)]
fn ratio_estimate(m: [f32; 9], lp: [f32; 3]) -> f32 {
    let centre = (m[3] - m[5]).abs();
    let before = EPS + centre + (m[4] - m[2]).abs() + (m[3] - m[1]).abs() + (m[2] - m[0]).abs();
    let after = EPS + centre + (m[4] - m[6]).abs() + (m[5] - m[7]).abs() + (m[6] - m[8]).abs();
    let l2 = 2.0 * lp[1];
    let before_est = m[3] * l2 / (EPS + lp[1] + lp[0]);
    let after_est = m[5] * l2 / (EPS + lp[1] + lp[2]);
    (after * before_est + before * after_est) / (before + after)
}

/// The colour difference (chroma − green) along one diagonal (step 4), blended by inverse
/// gradients. Each side gives its mosaic 1 and 3 steps out and green 1 and 2 steps out.
#[inline(always)]
fn difference_estimate(a: [f32; 4], b: [f32; 4], g_here: f32) -> f32 {
    let a_grad = EPS + (a[0] - b[0]).abs() + (a[0] - a[1]).abs() + (g_here - a[3]).abs();
    let b_grad = EPS + (b[0] - a[0]).abs() + (b[0] - b[1]).abs() + (g_here - b[3]).abs();
    let (a_est, b_est) = (a[0] - a[2], b[0] - b[2]);
    (a_grad * b_est + b_grad * a_est) / (a_grad + b_grad)
}

/// Red or blue at a green site along both axes (step 5), from the colour differences of the
/// cardinal neighbours. `p` is that colour at N, S, W, E and 3 steps out the same way;
/// `g` is green at the centre, N, S, W, E and 2 steps out.
#[inline(always)]
fn at_green(disc: f32, p: [f32; 8], g: [f32; 9]) -> f32 {
    let [n, s, w, e, n3, s3, w3, e3] = p;
    let [gc, gn, gs, gw, ge, gn2, gs2, gw2, ge2] = g;
    let (sn, ew) = ((n - s).abs(), (w - e).abs());
    let n_grad = EPS + (gc - gn2).abs() + sn + (n - n3).abs();
    let s_grad = EPS + (gc - gs2).abs() + sn + (s - s3).abs();
    let w_grad = EPS + (gc - gw2).abs() + ew + (w - w3).abs();
    let e_grad = EPS + (gc - ge2).abs() + ew + (e - e3).abs();
    let v_est = (n_grad * (s - gs) + s_grad * (n - gn)) / (n_grad + s_grad);
    let h_est = (e_grad * (w - gw) + w_grad * (e - ge)) / (e_grad + w_grad);
    (gc + intp(disc, h_est, v_est)).clamp(0.0, 1.0)
}

/// Step 5 — red and blue at green sites — fused with the write-out of the tile's `th` rows
/// (the window less its apron) through the colour matrix, into `out`, whose rows are
/// `stride` apart.
fn write_tile(
    win: &mut Window,
    ww: usize,
    th: usize,
    pattern: &Pattern,
    to_srgb: &ToSrgb16,
    out: &mut [[u16; 3]],
    stride: usize,
) {
    let Window { vh, red, green: g, blue, row_r, row_b, .. } = win;
    for y in 0..th {
        let wy = y + PAD;
        let run = Run::new(ww, wy, PAD);
        // The column parity of this row's green sites, relative to the run's start.
        let greens = usize::from(pattern[wy & 1][PAD & 1] != 1);
        let at = |plane, dx, dy| run.at(plane, dx, dy);
        let (gc, g_n, g_s, g_w, g_e) = (at(g, 0, 0), at(g, 0, -1), at(g, 0, 1), at(g, -1, 0), at(g, 1, 0));
        let (g_n2, g_s2, g_w2, g_e2) = (at(g, 0, -2), at(g, 0, 2), at(g, -2, 0), at(g, 2, 0));
        let (d_c, d_nw, d_ne) = (at(vh, 0, 0), at(vh, -1, -1), at(vh, 1, -1));
        let (d_sw, d_se) = (at(vh, -1, 1), at(vh, 1, 1));
        let (r_c, r_n, r_s, r_w, r_e) =
            (at(red, 0, 0), at(red, 0, -1), at(red, 0, 1), at(red, -1, 0), at(red, 1, 0));
        let (r_n3, r_s3, r_w3, r_e3) = (at(red, 0, -3), at(red, 0, 3), at(red, -3, 0), at(red, 3, 0));
        let (b_c, b_n, b_s, b_w, b_e) =
            (at(blue, 0, 0), at(blue, 0, -1), at(blue, 0, 1), at(blue, -1, 0), at(blue, 1, 0));
        let (b_n3, b_s3, b_w3, b_e3) = (at(blue, 0, -3), at(blue, 0, 3), at(blue, -3, 0), at(blue, 3, 0));
        // Red and blue for the row first, then the matrix: the first loop vectorises in
        // full only without the interleaved 16-bit stores of the second.
        let (row_r, row_b) = (&mut row_r[..run.n], &mut row_b[..run.n]);
        for k in 0..run.n {
            let disc = refine(d_c[k], d_nw[k], d_ne[k], d_sw[k], d_se[k]);
            let greens_around = [gc[k], g_n[k], g_s[k], g_w[k], g_e[k], g_n2[k], g_s2[k], g_w2[k], g_e2[k]];
            let r = at_green(
                disc,
                [r_n[k], r_s[k], r_w[k], r_e[k], r_n3[k], r_s3[k], r_w3[k], r_e3[k]],
                greens_around,
            );
            let b = at_green(
                disc,
                [b_n[k], b_s[k], b_w[k], b_e[k], b_n3[k], b_s3[k], b_w3[k], b_e3[k]],
                greens_around,
            );
            let green_site = k & 1 == greens;
            row_r[k] = if green_site { r } else { r_c[k] };
            row_b[k] = if green_site { b } else { b_c[k] };
        }
        let out = &mut out[y * stride..][..run.n];
        for (((px, &r), &g), &b) in out.iter_mut().zip(row_r.iter()).zip(gc).zip(row_b.iter()) {
            *px = to_srgb.pixel(r, g, b);
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
            let mosaic = mosaic_of(&truth, w, h, Cfa::rggb().shifted(phase.0, phase.1));
            let out =
                demosaic(&crate::stages::demosaic::Input::Mosaic(&mosaic), &ToSrgb16::IDENTITY).to_f32();
            let worst = worst(&out, &truth);
            assert!(worst < 0.01, "phase {phase:?}: worst error {worst}");
        }
    }
}
