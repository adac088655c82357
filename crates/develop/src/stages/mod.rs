//! The develop stages. Each stage lives in `stages/<name>.rs` (parameters and the CPU
//! implementation, the reference), and later in `kernels/<name>.cu` and
//! `shaders/<name>.wgsl` under the same name.

pub mod color;
pub mod demosaic;
pub mod highlights;
pub mod levels;
pub mod resize;
pub mod tone;

/// One develop stage, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Levels,
    Highlights,
    Demosaic,
    Resize,
    Tone,
}

/// The order the stages run in, written once.
/// - `levels` first: every later stage assumes 0 = black, 1 = clip, white-balanced.
/// - `highlights` before `demosaic`, so interpolation never mixes a clipped channel with an
///   unclipped one (the source of magenta highlights on a white dress). On the CPU both
///   apply as the demosaic reads each band of rows (`levels::Levels`), so their time is
///   counted in `demosaic`'s and the whole float mosaic is never stored.
/// - `color` (the camera matrix, [`color::ToSrgb16`]) is not a pass of its own: `demosaic`
///   applies it as it writes each pixel. That ends the floating-point part before `resize`,
///   clipping to the sRGB gamut and quantising to 16 bits, so the resizer runs on integers
///   with SIMD (several times faster than on floats) at the precision the tone curve
///   resolves anyway, and the full-size floating-point RGB image is never stored.
/// - `resize` in linear light, which keeps fine bright detail (lace, veils) from darkening.
/// - `tone` last, because it leaves linear light.
pub const ORDER: [Stage; 5] = [Stage::Levels, Stage::Highlights, Stage::Demosaic, Stage::Resize, Stage::Tone];

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Levels => "levels",
            Stage::Highlights => "highlights",
            Stage::Demosaic => "demosaic",
            Stage::Resize => "resize",
            Stage::Tone => "tone",
        }
    }
}

/// Rows per rayon task: enough work per task to amortise scheduling, small enough to balance.
pub(crate) const ROWS_PER_TASK: usize = 16;
