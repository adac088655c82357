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
    // One (black, scale) pair per cell of the smallest tile that repeats both the black-level
    // pattern and the CFA, so the hot loop is a table lookup, not a modulo per colour.
    let (bw, bh, ref levels) = frame.black;
    let tile_w = lcm(bw, cfa.width);
    let tile_h = lcm(bh, cfa.height);
    let mut table = Vec::with_capacity(tile_w * tile_h);
    for ty in 0..tile_h {
        for tx in 0..tile_w {
            let (sx, sy) = (tx + x0, ty + y0);
            let black = levels[(sy % bh) * bw + sx % bw];
            let scale = frame.wb[cfa.color_at(tx, ty)] / (frame.white - black);
            table.push((black, scale));
        }
    }
    let mut data = vec![0.0f32; width * height];
    data.par_chunks_mut(width * ROWS_PER_TASK).enumerate().for_each(|(chunk, rows)| {
        for (i, out) in rows.chunks_mut(width).enumerate() {
            let y = chunk * ROWS_PER_TASK + i;
            let start = (y + y0) * frame.sensor_width + x0;
            let cells = &table[(y % tile_h) * tile_w..][..tile_w];
            match &frame.data {
                SensorData::U16(v) => scale_row(&v[start..start + width], out, cells),
                SensorData::F32(v) => scale_row(&v[start..start + width], out, cells),
            }
        }
    });
    Mosaic { width, height, data, cfa }
}

fn scale_row<T: Copy + Into<f32>>(src: &[T], out: &mut [f32], cells: &[(f32, f32)]) {
    for (x, (o, &s)) in out.iter_mut().zip(src).enumerate() {
        let (black, scale) = cells[x % cells.len()];
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

fn lcm(a: usize, b: usize) -> usize {
    a / gcd(a, b) * b
}
