//! What a GPU does to one frame, written once for both GPU backends: the buffers, and the
//! passes in order, each naming its kernel (the same entry point in `shaders/<module>.wgsl`
//! and `kernels/<module>.cu`), its parameters and the buffers at its bindings. The CUDA and
//! wgpu backends only carry a [`Program`] out.
//!
//! Every buffer is an array of 32-bit words. Layouts:
//! - the mosaic and RCD's planes: one f32 per photosite;
//! - 16-bit RGB: two planes of a word a pixel, `r | g << 16` and `b` (two planes rather than
//!   one of two words a pixel keep each binding under the 128 MiB that some adapters,
//!   lavapipe among them, bind at most: a 24 MP frame fits);
//! - 8-bit sRGB: three bytes a pixel, packed four to a word (what the encoder takes).
//!
//! Several targets of one frame share what they can: the sensor goes up once, `levels`
//! runs once, and each demosaic method once; each target then has its own resize and tone.

use std::borrow::Cow;

use crate::image::Cfa;
use crate::source::{RawFrame, SensorData};
use crate::stages::demosaic::{self, Demosaic};
use crate::stages::levels::lcm;
use crate::stages::resize::{self, Weights};
use crate::stages::tone::{self, ToneParams};
use crate::stages::Stage;

/// Threads per workgroup (wgpu) or block (CUDA) side; kernels are written for 16×16.
pub(crate) const GROUP: u32 = 16;
/// How far RCD's window reaches beyond the mosaic (`PAD` in demosaic.wgsl and .cu).
const RCD_PAD: usize = 10;

/// A source file of kernels: `shaders/<name>.wgsl` and `kernels/<name>.cu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Module {
    Levels,
    Demosaic,
    Resize,
    Tone,
}

impl Module {
    pub(crate) const ALL: [Module; 4] = [Module::Levels, Module::Demosaic, Module::Resize, Module::Tone];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Module::Levels => "levels",
            Module::Demosaic => "demosaic",
            Module::Resize => "resize",
            Module::Tone => "tone",
        }
    }

    /// The kernels of the module, by entry-point name.
    pub(crate) fn entries(self) -> &'static [&'static str] {
        match self {
            Module::Levels => &["levels"],
            Module::Demosaic => &[
                "demosaic_neighbour",
                "demosaic_half",
                "demosaic_mhc",
                "rcd_window",
                "rcd_gradients",
                "rcd_vh",
                "rcd_green",
                "rcd_diagonals",
                "rcd_pq",
                "rcd_chroma",
                "rcd_finish",
            ],
            Module::Resize => &["resize_rows", "resize_columns"],
            Module::Tone => &["tone"],
        }
    }

    pub(crate) fn wgsl(self) -> &'static str {
        match self {
            Module::Levels => include_str!("../../../../shaders/levels.wgsl"),
            Module::Demosaic => include_str!("../../../../shaders/demosaic.wgsl"),
            Module::Resize => include_str!("../../../../shaders/resize.wgsl"),
            Module::Tone => include_str!("../../../../shaders/tone.wgsl"),
        }
    }

    pub(crate) fn cuda(self) -> &'static str {
        match self {
            Module::Levels => include_str!("../../../../kernels/levels.cu"),
            Module::Demosaic => include_str!("../../../../kernels/demosaic.cu"),
            Module::Resize => include_str!("../../../../kernels/resize.cu"),
            Module::Tone => include_str!("../../../../kernels/tone.cu"),
        }
    }
}

pub(crate) type BufferId = usize;

/// 16-bit RGB: the `r | g << 16` plane and the `b` plane.
#[derive(Debug, Clone, Copy)]
struct Rgb16 {
    rg: BufferId,
    b: BufferId,
}

/// A device buffer: its size and, for inputs, the bytes uploaded into it.
pub(crate) struct Buffer<'a> {
    /// A multiple of 4.
    pub bytes: usize,
    pub init: Option<Cow<'a, [u8]>>,
}

/// One kernel launch over a `threads[0]` × `threads[1]` grid.
pub(crate) struct Pass {
    pub stage: Stage,
    pub entry: &'static str,
    /// Binding 0: the kernel's parameters, as words.
    pub params: Vec<u32>,
    /// Bindings 1.. (the kernel's arguments after `p`, in order): (binding, buffer).
    pub bindings: Vec<(u32, BufferId)>,
    pub threads: [u32; 2],
}

/// A result to read back: 8-bit sRGB of `width`×`height`.
pub(crate) struct Output {
    pub buffer: BufferId,
    pub width: usize,
    pub height: usize,
}

/// One size and look of a frame, made from its shared mosaic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub demosaic: Demosaic,
    /// None: the demosaic's own size.
    pub long_edge: Option<usize>,
    /// Camera RGB to linear sRGB, the look's saturation folded in.
    pub cam_to_srgb: [[f32; 3]; 3],
    /// The look's tone table.
    pub tone: tone::Table,
}

impl Target {
    /// The frame's own colour and the default curve (the GPU self-test).
    pub(crate) fn plain(frame: &RawFrame, demosaic: Demosaic, long_edge: Option<usize>) -> Target {
        Target {
            demosaic,
            long_edge,
            cam_to_srgb: frame.cam_to_srgb,
            tone: tone::table(&ToneParams::default()),
        }
    }
}

pub(crate) struct Program<'a> {
    pub buffers: Vec<Buffer<'a>>,
    pub passes: Vec<Pass>,
    pub outputs: Vec<Output>,
}

impl<'a> Program<'a> {
    /// The passes that develop `frame` into each of `targets`, in order.
    pub(crate) fn build(frame: &'a RawFrame, targets: &[Target]) -> Program<'a> {
        let mut program = Program { buffers: Vec::new(), passes: Vec::new(), outputs: Vec::new() };
        let (_, _, width, height) = frame.crop;
        let mosaic = program.levels(frame);
        let cfa = frame.cfa.shifted(frame.crop.0, frame.crop.1);
        // Each demosaic method runs once per colour matrix (presets of one look share it).
        // (method, matrix) → (image, width, height)
        type Made = ((Demosaic, [[f32; 3]; 3]), (Rgb16, usize, usize));
        let mut demosaiced: Vec<Made> = Vec::new();
        for target in targets {
            let key = (demosaic::effective(target.demosaic, &cfa, width, height), target.cam_to_srgb);
            let (rgb, w, h) = match demosaiced.iter().find(|d| d.0 == key) {
                Some(&(_, made)) => made,
                None => {
                    let made = program.demosaic(key.0, mosaic, &cfa, key.1, width, height);
                    demosaiced.push((key, made));
                    made
                }
            };
            let (tw, th) = resize::fit(w, h, target.long_edge);
            let resized = program.resize(rgb, (w, h), (tw, th));
            let srgb8 = program.tone(resized, tw * th, &target.tone);
            program.outputs.push(Output { buffer: srgb8, width: tw, height: th });
        }
        program
    }

    /// Device memory the program allocates, for the budget on images in flight.
    pub(crate) fn device_bytes(&self) -> usize {
        self.buffers.iter().map(|b| b.bytes).sum()
    }

    fn buffer(&mut self, bytes: usize) -> BufferId {
        self.buffers.push(Buffer { bytes: bytes.next_multiple_of(4).max(4), init: None });
        self.buffers.len() - 1
    }

    fn rgb16(&mut self, pixels: usize) -> Rgb16 {
        Rgb16 { rg: self.buffer(4 * pixels), b: self.buffer(4 * pixels) }
    }

    fn input(&mut self, bytes: Cow<'a, [u8]>) -> BufferId {
        // Device copies move whole words: a buffer of an odd size is padded with zeros.
        let bytes = if bytes.len().is_multiple_of(4) && !bytes.is_empty() {
            bytes
        } else {
            let mut padded = bytes.into_owned();
            padded.resize(padded.len().next_multiple_of(4).max(4), 0);
            Cow::Owned(padded)
        };
        self.buffers.push(Buffer { bytes: bytes.len(), init: Some(bytes) });
        self.buffers.len() - 1
    }

    fn pass(
        &mut self,
        stage: Stage,
        (_, entry): (Module, &'static str),
        params: Vec<u32>,
        bindings: &[(u32, BufferId)],
        threads: (usize, usize),
    ) {
        let threads = [threads.0 as u32, threads.1 as u32];
        self.passes.push(Pass { stage, entry, params, bindings: bindings.to_vec(), threads });
    }

    /// Levels, white balance and highlights (one pass): the crop's sensor rows in, the
    /// normalised mosaic out.
    fn levels(&mut self, frame: &'a RawFrame) -> BufferId {
        let (x0, y0, width, height) = frame.crop;
        let rows = y0 * frame.sensor_width..(y0 + height) * frame.sensor_width;
        let (sensor, is_float): (&[u8], u32) = match &frame.data {
            SensorData::U16(v) => (bytemuck::cast_slice(&v[rows]), 0),
            SensorData::F32(v) => (bytemuck::cast_slice(&v[rows]), 1),
        };
        let sensor = self.input(Cow::Borrowed(sensor));
        let (tile_w, tile_h, table) = level_table(frame);
        let table = self.input(Cow::Owned(bytemuck::cast_slice(&table).to_vec()));
        let mosaic = self.buffer(4 * width * height);
        let params =
            vec![width as u32, height as u32, frame.sensor_width as u32, x0 as u32, is_float, tile_w, tile_h];
        self.pass(
            Stage::Levels,
            (Module::Levels, "levels"),
            params,
            &[(1, sensor), (2, table), (3, mosaic)],
            (width, height),
        );
        mosaic
    }

    /// The demosaic `method` (already the one that applies to this CFA) with the colour
    /// matrix: 16-bit linear sRGB and its size.
    fn demosaic(
        &mut self,
        method: Demosaic,
        mosaic: BufferId,
        cfa: &Cfa,
        cam_to_srgb: [[f32; 3]; 3],
        width: usize,
        height: usize,
    ) -> (Rgb16, usize, usize) {
        let mut params = vec![width as u32, height as u32];
        params.extend(cam_to_srgb.iter().flatten().map(|v| v.to_bits()));
        params.extend([cfa.width as u32, cfa.height as u32]);
        params.extend(cfa.colors.iter().map(|&c| u32::from(c)));
        let (w, h) = if method == Demosaic::Half { (width / 2, height / 2) } else { (width, height) };
        let rgb = self.rgb16(w * h);
        let out = [(2, rgb.rg), (3, rgb.b)];
        let stage = Stage::Demosaic;
        let whole = |entry| (Module::Demosaic, entry);
        match method {
            Demosaic::Rcd => {
                let window = (width + 2 * RCD_PAD, height + 2 * RCD_PAD);
                let plane = 4 * window.0 * window.1;
                let [win, hp_a, hp_b, lpf, vh, pq, green, red, blue] =
                    std::array::from_fn(|_| self.buffer(plane));
                let steps: [(&'static str, &[(u32, BufferId)]); 7] = [
                    ("rcd_window", &[(1, mosaic), (4, win)]),
                    ("rcd_gradients", &[(4, win), (5, hp_a), (6, hp_b), (7, lpf)]),
                    ("rcd_vh", &[(5, hp_a), (6, hp_b), (8, vh)]),
                    ("rcd_green", &[(4, win), (7, lpf), (8, vh), (10, green)]),
                    ("rcd_diagonals", &[(4, win), (5, hp_a), (6, hp_b)]),
                    ("rcd_pq", &[(5, hp_a), (6, hp_b), (9, pq)]),
                    ("rcd_chroma", &[(4, win), (9, pq), (10, green), (11, red), (12, blue)]),
                ];
                for (entry, bindings) in steps {
                    self.pass(stage, whole(entry), params.clone(), bindings, window);
                }
                let finish = [out[0], out[1], (8, vh), (10, green), (11, red), (12, blue)];
                self.pass(stage, whole("rcd_finish"), params, &finish, (width, height));
            }
            Demosaic::Mhc | Demosaic::Half | Demosaic::Neighbour => {
                let entry = match method {
                    Demosaic::Mhc => "demosaic_mhc",
                    Demosaic::Half => "demosaic_half",
                    _ => "demosaic_neighbour",
                };
                self.pass(stage, whole(entry), params, &[(1, mosaic), out[0], out[1]], (w, h));
            }
        }
        (rgb, w, h)
    }

    /// Rows, then columns, as the CPU path's resizer does; a dimension that keeps its size
    /// has no pass.
    fn resize(&mut self, rgb: Rgb16, from: (usize, usize), to: (usize, usize)) -> Rgb16 {
        let mut current = (rgb, from.0, from.1);
        if to.0 != from.0 {
            let weights = resize::lanczos3_weights(from.0, to.0);
            let out = self.rgb16(to.0 * from.1);
            let table = self.input(Cow::Owned(weights_table(&weights)));
            let params =
                vec![from.0 as u32, from.1 as u32, to.0 as u32, from.1 as u32, weights.window as u32];
            let bindings = [(1, current.0.rg), (2, current.0.b), (3, out.rg), (4, out.b), (5, table)];
            self.pass(Stage::Resize, (Module::Resize, "resize_rows"), params, &bindings, (to.0, from.1));
            current = (out, to.0, from.1);
        }
        if to.1 != from.1 {
            let weights = resize::lanczos3_weights(from.1, to.1);
            let out = self.rgb16(to.0 * to.1);
            let table = self.input(Cow::Owned(weights_table(&weights)));
            let params = vec![
                current.1 as u32,
                current.2 as u32,
                current.1 as u32,
                to.1 as u32,
                weights.window as u32,
            ];
            let bindings = [(1, current.0.rg), (2, current.0.b), (3, out.rg), (4, out.b), (5, table)];
            self.pass(Stage::Resize, (Module::Resize, "resize_columns"), params, &bindings, (to.0, to.1));
            current = (out, to.0, to.1);
        }
        current.0
    }

    /// The tone curve through the CPU path's table, packed into 8-bit sRGB.
    fn tone(&mut self, rgb: Rgb16, pixels: usize, table: &[u8]) -> BufferId {
        let lut = self.input(Cow::Owned(table.to_vec()));
        let words = (3 * pixels).div_ceil(4);
        let out = self.buffer(4 * words);
        // A grid rather than one long row: a dispatch has at most 65,535 groups a side.
        let row = 4096.min(words).max(1);
        let params = vec![pixels as u32, row as u32];
        let bindings = [(1, rgb.rg), (2, rgb.b), (3, lut), (4, out)];
        self.pass(Stage::Tone, (Module::Tone, "tone"), params, &bindings, (row, words.div_ceil(row)));
        out
    }
}

/// The (black, scale) table of the levels kernel: one entry for each position of the
/// smallest tile that repeats both the black-level pattern and the crop's CFA, computed
/// as `stages/levels.rs` computes it.
fn level_table(frame: &RawFrame) -> (u32, u32, Vec<f32>) {
    let (x0, y0, _, _) = frame.crop;
    let cfa = frame.cfa.shifted(x0, y0);
    let (bw, bh, ref levels) = frame.black;
    let (tile_w, tile_h) = (lcm(bw, cfa.width), lcm(bh, cfa.height));
    let mut table = Vec::with_capacity(2 * tile_w * tile_h);
    for ty in 0..tile_h {
        for tx in 0..tile_w {
            let black = levels[((ty + y0) % bh) * bw + (tx + x0) % bw];
            table.extend([black, frame.wb[cfa.color_at(tx, ty)] / (frame.white - black)]);
        }
    }
    (tile_w as u32, tile_h as u32, table)
}

/// [`Weights`] in the layout resize.wgsl reads: (first input, count) per output, then each
/// output's weights, `window` apart.
fn weights_table(weights: &Weights) -> Vec<u8> {
    let mut words: Vec<u32> =
        weights.bounds.iter().flat_map(|&(start, count)| [start as u32, count as u32]).collect();
    words.extend(weights.values.iter().map(|v| v.to_bits()));
    bytemuck::cast_slice(&words).to_vec()
}
