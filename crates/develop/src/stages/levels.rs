//! Black and white levels, crop and white balance: sensor values in, a mosaic where 0 is
//! black and 1 is the clip point of the least-amplified channel out.
//!
//! On the CPU the levelled mosaic is not stored whole: [`Levels`] levels any band of rows
//! on demand, and the demosaic asks for the bands it reads (with `highlights` clipping as
//! they are levelled). The float mosaic of an 8 MP frame is 33 MB, and having the kernel map
//! and zero those pages cost a one-file develop 4–5 % of its CPU time (`bench develop`:
//! 0.319 → 0.306 CPU-s `full`, 0.297 → 0.281 `web`). [`apply`] makes the whole mosaic, for the tests that
//! measure a demosaic on its own.

use rayon::prelude::*;

use crate::image::{Cfa, Mosaic};
use crate::source::{RawFrame, SensorData};
use crate::stages::ROWS_PER_TASK;

/// The levels of one frame, ready to apply to any of its rows.
pub struct Levels<'a> {
    frame: &'a RawFrame,
    pub width: usize,
    pub height: usize,
    /// The CFA as it lies in the crop.
    pub cfa: Cfa,
    /// A row of (black, scale) for each row of the smallest tile that repeats both the
    /// black-level pattern and the CFA vertically: levelling a row is then a plain zip of
    /// three rows, which vectorises, rather than a lookup with a modulo per photosite.
    row_levels: Vec<(Vec<f32>, Vec<f32>)>,
    /// The highest value a photosite keeps: 1.0 once [`Levels::clipped`] (the `highlights`
    /// stage), unbounded before.
    limit: f32,
}

impl<'a> Levels<'a> {
    pub fn of(frame: &'a RawFrame) -> Levels<'a> {
        let (x0, y0, width, height) = frame.crop;
        let cfa = frame.cfa.shifted(x0, y0);
        let (bw, bh, ref levels) = frame.black;
        let tile_h = lcm(bh, cfa.height);
        let row_levels = (0..tile_h)
            .map(|ty| {
                (0..width)
                    .map(|x| {
                        let (sx, sy) = (x + x0, ty + y0);
                        let black = levels[(sy % bh) * bw + sx % bw];
                        (black, frame.wb[cfa.color_at(x, ty)] / (frame.white - black))
                    })
                    .unzip()
            })
            .collect();
        Levels { frame, width, height, cfa, row_levels, limit: f32::INFINITY }
    }

    /// These levels with every value clipped at 1.0 (see `stages::highlights`).
    pub fn clipped(self) -> Levels<'a> {
        Levels { limit: 1.0, ..self }
    }

    /// Row `y` of the levelled mosaic, into `out` (`width` long).
    pub fn row(&self, y: usize, out: &mut [f32]) {
        let (x0, y0, width, _) = self.frame.crop;
        let start = (y + y0) * self.frame.sensor_width + x0;
        let (black, scale) = &self.row_levels[y % self.row_levels.len()];
        match &self.frame.data {
            SensorData::U16(v) => scale_row(&v[start..start + width], out, black, scale, self.limit),
            SensorData::F32(v) => scale_row(&v[start..start + width], out, black, scale, self.limit),
        }
    }

    /// Rows `y0..y1` of the levelled mosaic, one after the other.
    pub fn rows(&self, y0: usize, y1: usize) -> Vec<f32> {
        let mut data = vec![0.0f32; (y1 - y0) * self.width];
        for (i, out) in data.chunks_mut(self.width).enumerate() {
            self.row(y0 + i, out);
        }
        data
    }
}

/// The whole levelled mosaic of `frame`.
pub fn apply(frame: &RawFrame) -> Mosaic {
    let levels = Levels::of(frame);
    let width = levels.width;
    let mut data = vec![0.0f32; width * levels.height];
    data.par_chunks_mut(width * ROWS_PER_TASK).enumerate().for_each(|(chunk, rows)| {
        for (i, out) in rows.chunks_mut(width).enumerate() {
            levels.row(chunk * ROWS_PER_TASK + i, out);
        }
    });
    Mosaic { width, height: levels.height, data, cfa: levels.cfa }
}

fn scale_row<T: Copy + Into<f32>>(src: &[T], out: &mut [f32], black: &[f32], scale: &[f32], limit: f32) {
    for (((o, &s), &black), &scale) in out.iter_mut().zip(src).zip(black).zip(scale) {
        *o = ((s.into() - black) * scale).max(0.0).min(limit);
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

pub(crate) fn lcm(a: usize, b: usize) -> usize {
    a / gcd(a, b) * b
}
