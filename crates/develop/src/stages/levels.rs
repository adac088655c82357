//! Black and white levels, crop and white balance: sensor values in, a mosaic where 0 is
//! black and 1 is the clip point of the least-amplified channel out.

use rayon::prelude::*;

use crate::image::Mosaic;
use crate::source::{RawFrame, SensorData};
use crate::stages::ROWS_PER_TASK;

/// Scales the crop of `frame` into a normalised, white-balanced mosaic.
pub fn apply(frame: &RawFrame) -> Mosaic {
    let (x0, y0, width, height) = frame.crop;
    let cfa = frame.cfa.shifted(x0, y0);
    // A row of (black, scale) for each row of the smallest tile that repeats both the
    // black-level pattern and the CFA vertically: the hot loop is then a plain zip of three
    // rows, which vectorises, rather than a lookup with a modulo per photosite.
    let (bw, bh, ref levels) = frame.black;
    let tile_h = lcm(bh, cfa.height);
    let row_levels: Vec<(Vec<f32>, Vec<f32>)> = (0..tile_h)
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
    let mut data = vec![0.0f32; width * height];
    data.par_chunks_mut(width * ROWS_PER_TASK).enumerate().for_each(|(chunk, rows)| {
        for (i, out) in rows.chunks_mut(width).enumerate() {
            let y = chunk * ROWS_PER_TASK + i;
            let start = (y + y0) * frame.sensor_width + x0;
            let (black, scale) = &row_levels[y % tile_h];
            match &frame.data {
                SensorData::U16(v) => scale_row(&v[start..start + width], out, black, scale),
                SensorData::F32(v) => scale_row(&v[start..start + width], out, black, scale),
            }
        }
    });
    Mosaic { width, height, data, cfa }
}

fn scale_row<T: Copy + Into<f32>>(src: &[T], out: &mut [f32], black: &[f32], scale: &[f32]) {
    for (((o, &s), &black), &scale) in out.iter_mut().zip(src).zip(black).zip(scale) {
        *o = ((s.into() - black) * scale).max(0.0);
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
