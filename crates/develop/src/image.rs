//! Pixel containers shared by the stages. Rows are stored top to bottom without padding.

/// A colour filter array pattern: `colors[(y % height) * width + x % width]` is 0 (red),
/// 1 (green) or 2 (blue) for the photosite at (x, y) of the mosaic it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cfa {
    pub width: usize,
    pub height: usize,
    pub colors: Vec<u8>,
}

impl Cfa {
    pub fn color_at(&self, x: usize, y: usize) -> usize {
        self.colors[(y % self.height) * self.width + x % self.width] as usize
    }

    /// The pattern as seen from a crop that starts at (x, y).
    pub fn shifted(&self, x: usize, y: usize) -> Cfa {
        let mut colors = Vec::with_capacity(self.colors.len());
        for row in 0..self.height {
            for col in 0..self.width {
                colors.push(self.color_at(col + x, row + y) as u8);
            }
        }
        Cfa { width: self.width, height: self.height, colors }
    }

    /// A 2×2 pattern with one red, two greens and one blue.
    pub fn is_bayer(&self) -> bool {
        let mut counts = [0; 3];
        for &c in &self.colors {
            counts[c as usize % 3] += 1;
        }
        self.width == 2 && self.height == 2 && counts == [1, 2, 1]
    }

    pub fn rggb() -> Cfa {
        Cfa { width: 2, height: 2, colors: vec![0, 1, 1, 2] }
    }
}

/// A single-channel sensor image in linear light, 0 = black, 1 = clip.
#[derive(Debug, Clone)]
pub struct Mosaic {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
    pub cfa: Cfa,
}

/// Interleaved linear RGB in floating point.
#[derive(Debug, Clone)]
pub struct RgbF32 {
    pub width: usize,
    pub height: usize,
    pub data: Vec<[f32; 3]>,
}

/// Interleaved linear RGB at 16 bits, 0..=65535 for 0..=1: what resize and tone take.
/// Sixteen bits are what the tone stage resolves anyway, and integer pixels let the
/// resizer use SIMD, where floating-point RGB has only scalar code.
#[derive(Debug, Clone)]
pub struct Rgb16 {
    pub width: usize,
    pub height: usize,
    pub data: Vec<[u16; 3]>,
}

impl Rgb16 {
    pub fn to_f32(&self) -> RgbF32 {
        let data = self.data.iter().map(|p| p.map(|v| f32::from(v) / 65535.0)).collect();
        RgbF32 { width: self.width, height: self.height, data }
    }
}

/// Interleaved 8-bit RGB, what the JPEG encoder takes.
#[derive(Debug, Clone)]
pub struct Rgb8 {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}
