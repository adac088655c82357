//! Camera RGB to linear sRGB through the camera's colour matrix.

/// XYZ (D65) to linear sRGB's inverse: linear sRGB to XYZ, IEC 61966-2-1.
const SRGB_TO_XYZ: [[f32; 3]; 3] = [
    [0.412_456_4, 0.357_576_1, 0.180_437_5],
    [0.212_672_9, 0.715_152_2, 0.072_175],
    [0.019_333_9, 0.119_192, 0.950_304_1],
];

/// The matrix from white-balanced camera RGB to linear sRGB, as dcraw derives it: camera ←
/// sRGB is `xyz_to_cam · SRGB_TO_XYZ`, each row normalised to sum 1 (so a white-balanced
/// neutral stays neutral), then inverted. None if the matrix is singular.
pub fn camera_to_srgb(xyz_to_cam: &[[f32; 3]; 3]) -> Option<[[f32; 3]; 3]> {
    let mut cam_from_srgb = [[0.0f64; 3]; 3];
    for (i, row) in cam_from_srgb.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| xyz_to_cam[i][k] as f64 * SRGB_TO_XYZ[k][j] as f64).sum();
        }
        let sum: f64 = row.iter().sum();
        if sum.abs() < 1e-9 {
            return None;
        }
        row.iter_mut().for_each(|v| *v /= sum);
    }
    invert3(&cam_from_srgb).map(|m| m.map(|row| row.map(|v| v as f32)))
}

pub(crate) fn invert3(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if det.abs() < 1e-12 || !det.is_finite() {
        return None;
    }
    let mut inv = [[0.0; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            // Cofactor of element (j, i) gives the adjugate's (i, j).
            let (r0, r1) = ((j + 1) % 3, (j + 2) % 3);
            let (c0, c1) = ((i + 1) % 3, (i + 2) % 3);
            *v = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
        }
    }
    Some(inv)
}

/// Camera RGB to 16-bit linear sRGB, pixel by pixel. The demosaic methods apply it as they
/// write each pixel, so the full-size floating-point camera image (12 bytes a pixel) is
/// never stored: this stage costs no pass over memory of its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToSrgb16(pub [[f32; 3]; 3]);

impl ToSrgb16 {
    /// Leaves the colours as they are: camera RGB, quantised (for tests of the demosaic).
    pub const IDENTITY: ToSrgb16 = ToSrgb16([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);

    /// Applies the matrix and quantises; out-of-gamut values (below 0, above 1) clip.
    #[inline]
    pub fn pixel(&self, r: f32, g: f32, b: f32) -> [u16; 3] {
        let m = &self.0;
        let q = |v: f32| (v.clamp(0.0, 1.0) * 65535.0 + 0.5) as u16;
        // Written out rather than with `[T; N]::map`, which does not inline here and cost 10×.
        [
            q(m[0][0] * r + m[0][1] * g + m[0][2] * b),
            q(m[1][0] * r + m[1][1] * g + m[1][2] * b),
            q(m[2][0] * r + m[2][1] * g + m[2][2] * b),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_stays_neutral_and_inverse_is_exact() {
        let xyz_to_cam = [[0.6, 0.1, -0.05], [-0.3, 1.2, 0.1], [-0.05, 0.2, 0.6]];
        let m = camera_to_srgb(&xyz_to_cam).expect("invertible");
        for row in &m {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{row:?}");
        }
        for v in ToSrgb16(m).pixel(0.5, 0.5, 0.5) {
            assert!(v.abs_diff(32768) <= 2, "{v}");
        }
    }

    #[test]
    fn singular_matrix_is_rejected() {
        assert!(camera_to_srgb(&[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 1.0]]).is_none());
    }
}
