//! A photographer's quick edits in Lightroom or Adobe Camera Raw, from the `crs:` settings
//! of the file's XMP sidecar: the crop (with its angle), the exposure and the white balance
//! (as shot, or a temperature and tint), so that they reach the gallery. Which settings
//! matter and how they map follows darktable's Lightroom import (`src/develop/lightroom.c`).
//! Any other setting the sidecar changes is listed, never silently dropped.

use std::path::{Path, PathBuf};

use crate::image::Rgb8;
use crate::xmp;

/// The Camera Raw settings namespace.
const CRS: &[u8] = b"http://ns.adobe.com/camera-raw-settings/1.0/";

/// A crop as Camera Raw stores it: edges as fractions of the image in its stored
/// orientation, and the angle (degrees) the rectangle is turned by about its centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crop {
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
    pub angle: f32,
}

/// What a sidecar asks of the development.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Edits {
    pub sidecar: PathBuf,
    pub crop: Option<Crop>,
    /// Stops (`crs:Exposure2012`).
    pub exposure_ev: f32,
    /// A temperature (K) and tint; None: as shot.
    pub white_balance: Option<(f32, f32)>,
    /// `Name=value` of every other setting the sidecar changes from its default.
    pub unsupported: Vec<String>,
}

/// Settings that describe the file or the editor rather than change the picture.
const INFORMATIONAL: [&str; 12] = [
    "Version",
    "ProcessVersion",
    "RawFileName",
    "HasSettings",
    "HasCrop",
    "AlreadyApplied",
    "CameraProfile",
    "CameraProfileDigest",
    "LookName",
    "CropConstrainToWarp",
    "CropUnit",
    "CropWidth",
];

impl Edits {
    /// The edits in the sidecar beside `photo`, if it has one that changes anything.
    pub fn beside(photo: &Path) -> Option<Edits> {
        let (sidecar, text) = xmp::sidecar_of(photo)?;
        let edits = Edits::parse(&text, sidecar);
        (edits != Edits { sidecar: edits.sidecar.clone(), ..Edits::default() }).then_some(edits)
    }

    pub fn parse(xmp: &str, sidecar: PathBuf) -> Edits {
        let mut edits = Edits { sidecar, ..Edits::default() };
        let (mut has_crop, mut custom_wb) = (false, false);
        let mut crop = Crop { left: 0.0, top: 0.0, right: 1.0, bottom: 1.0, angle: 0.0 };
        let (mut temperature, mut tint) = (None, 0.0);
        xmp::properties(xmp, CRS, |name, value| {
            let name = String::from_utf8_lossy(name);
            let number = value.trim_start_matches('+').parse::<f32>().ok().filter(|v| v.is_finite());
            match (name.as_ref(), number) {
                ("HasCrop", _) => has_crop = value.eq_ignore_ascii_case("true"),
                ("CropLeft", Some(v)) => crop.left = v,
                ("CropTop", Some(v)) => crop.top = v,
                ("CropRight", Some(v)) => crop.right = v,
                ("CropBottom", Some(v)) => crop.bottom = v,
                ("CropAngle", Some(v)) => crop.angle = v,
                ("Exposure2012" | "Exposure", Some(v)) => edits.exposure_ev = v.clamp(-5.0, 5.0),
                ("WhiteBalance", _) => custom_wb = !value.eq_ignore_ascii_case("As Shot"),
                ("Temperature", Some(v)) => temperature = Some(v),
                ("Tint", Some(v)) => tint = v,
                (other, _) => {
                    let default = matches!(value, "" | "0" | "0.0" | "0.00" | "False" | "false");
                    if !default && !INFORMATIONAL.contains(&other) && !other.starts_with("Crop") {
                        edits.unsupported.push(format!("{other}={value}"));
                    }
                }
            }
        });
        let sane = |c: &Crop| {
            (0.0..1.0).contains(&c.left)
                && (0.0..1.0).contains(&c.top)
                && c.right <= 1.0
                && c.bottom <= 1.0
                && c.right - c.left > 0.01
                && c.bottom - c.top > 0.01
                && c.angle.abs() <= 45.0
        };
        let whole = crop.left == 0.0
            && crop.top == 0.0
            && crop.right == 1.0
            && crop.bottom == 1.0
            && crop.angle == 0.0;
        if has_crop && !whole {
            if sane(&crop) {
                edits.crop = Some(crop);
            } else {
                edits.unsupported.push(format!("a crop out of range ({crop:?})"));
            }
        }
        if let (true, Some(t)) = (custom_wb, temperature) {
            edits.white_balance = Some((t.clamp(2000.0, 25_000.0), tint.clamp(-150.0, 150.0)));
        }
        edits
    }

    /// What was taken from the sidecar, and what was not, for the file's line.
    pub fn said(&self) -> String {
        let name = self.sidecar.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut taken = Vec::new();
        if let Some(c) = &self.crop {
            let turned = if c.angle != 0.0 { format!(", turned {:.2}°", c.angle) } else { String::new() };
            taken.push(format!("crop {:.3}–{:.3} × {:.3}–{:.3}{turned}", c.left, c.right, c.top, c.bottom));
        }
        if self.exposure_ev != 0.0 {
            taken.push(format!("exposure {:+.2} EV", self.exposure_ev));
        }
        if let Some((t, tint)) = self.white_balance {
            taken.push(format!("white balance {t:.0} K, tint {tint:+.0}"));
        }
        let mut said =
            format!("{name}: {}", if taken.is_empty() { "nothing applied".into() } else { taken.join(", ") });
        if !self.unsupported.is_empty() {
            said += &format!("; not applied: {}", self.unsupported.join(", "));
        }
        said
    }
}

/// Camera multipliers (R, G, B; the smallest 1) that make a light of `temperature` K and
/// `tint` neutral, through the camera's XYZ→camera matrix. The light's chromaticity is on
/// the Planckian locus (Kim et al.'s cubic fit), moved off it by the tint as Adobe does:
/// perpendicular to the locus in CIE 1960 uv, 1/3000 per unit, positive towards magenta.
pub fn multipliers(temperature: f32, tint: f32, xyz_to_cam: &[[f32; 3]; 3]) -> Option<[f32; 3]> {
    let uv_at = |t: f64| -> (f64, f64) {
        let (x, y) = planckian(t);
        let d = -2.0 * x + 12.0 * y + 3.0;
        (4.0 * x / d, 6.0 * y / d)
    };
    let t = f64::from(temperature);
    let (u, v) = uv_at(t);
    // The normal to the locus, pointing to green (higher v).
    let (u1, v1) = uv_at(t * 1.01);
    let (du, dv) = (u1 - u, v1 - v);
    let length = du.hypot(dv);
    let (mut nu, mut nv) = (-dv / length, du / length);
    if nv < 0.0 {
        (nu, nv) = (-nu, -nv);
    }
    let offset = -f64::from(tint) / 3000.0;
    let (u, v) = (u + nu * offset, v + nv * offset);
    let d = 2.0 * u - 8.0 * v + 4.0;
    let (x, y) = (3.0 * u / d, 2.0 * v / d);
    let white = [x / y, 1.0, (1.0 - x - y) / y];
    let neutral: [f64; 3] =
        std::array::from_fn(|i| (0..3).map(|j| f64::from(xyz_to_cam[i][j]) * white[j]).sum());
    if neutral.iter().any(|n| !n.is_finite() || *n <= 0.0) {
        return None;
    }
    let m = neutral.map(|n| 1.0 / n);
    let least = m.iter().copied().fold(f64::INFINITY, f64::min);
    Some(m.map(|v| (v / least) as f32))
}

/// The chromaticity of a black body at `t` K (1667–25000).
fn planckian(t: f64) -> (f64, f64) {
    let t = t.clamp(1667.0, 25_000.0);
    let x = if t <= 4000.0 {
        -0.266_123_9e9 / t.powi(3) - 0.234_358_9e6 / t.powi(2) + 0.877_695_6e3 / t + 0.179_910
    } else {
        -3.025_846_9e9 / t.powi(3) + 2.107_037_9e6 / t.powi(2) + 0.222_634_7e3 / t + 0.240_390
    };
    let y = if t <= 2222.0 {
        -1.106_381_4 * x.powi(3) - 1.348_110_20 * x.powi(2) + 2.185_558_32 * x - 0.202_196_83
    } else if t <= 4000.0 {
        -0.954_947_6 * x.powi(3) - 1.374_185_93 * x.powi(2) + 2.091_370_15 * x - 0.167_488_67
    } else {
        3.081_758_0 * x.powi(3) - 5.873_386_70 * x.powi(2) + 3.751_129_97 * x - 0.370_014_83
    };
    (x, y)
}

/// The crop's part of `image` (the whole frame developed, in its stored orientation),
/// turned by the crop's angle: bilinear, in the image's own 8-bit values.
pub fn crop(image: &Rgb8, crop: &Crop) -> Rgb8 {
    let (w, h) = (image.width as f32, image.height as f32);
    let out_w = (((crop.right - crop.left) * w).round() as usize).max(1);
    let out_h = (((crop.bottom - crop.top) * h).round() as usize).max(1);
    let centre = ((crop.left + crop.right) / 2.0 * w, (crop.top + crop.bottom) / 2.0 * h);
    let (sin, cos) = crop.angle.to_radians().sin_cos();
    let mut data = vec![0u8; out_w * out_h * 3];
    for oy in 0..out_h {
        for ox in 0..out_w {
            let (dx, dy) = (ox as f32 + 0.5 - out_w as f32 / 2.0, oy as f32 + 0.5 - out_h as f32 / 2.0);
            let (sx, sy) = (centre.0 + dx * cos - dy * sin - 0.5, centre.1 + dx * sin + dy * cos - 0.5);
            let (x0, y0) = (sx.floor().clamp(0.0, w - 1.0), sy.floor().clamp(0.0, h - 1.0));
            let (fx, fy) = ((sx - x0).clamp(0.0, 1.0), (sy - y0).clamp(0.0, 1.0));
            let (x0, y0) = (x0 as usize, y0 as usize);
            let (x1, y1) = ((x0 + 1).min(image.width - 1), (y0 + 1).min(image.height - 1));
            let at = |x: usize, y: usize, c: usize| image.data[(y * image.width + x) * 3 + c] as f32;
            for c in 0..3 {
                let top = at(x0, y0, c) * (1.0 - fx) + at(x1, y0, c) * fx;
                let bottom = at(x0, y1, c) * (1.0 - fx) + at(x1, y1, c) * fx;
                data[(oy * out_w + ox) * 3 + c] = (top * (1.0 - fy) + bottom * fy + 0.5) as u8;
            }
        }
    }
    Rgb8 { width: out_w, height: out_h, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIDECAR: &str = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
      <rdf:Description xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
        crs:Version="15.0" crs:WhiteBalance="Custom" crs:Temperature="3200" crs:Tint="+12"
        crs:Exposure2012="+1.00" crs:Contrast2012="+25" crs:Clarity2012="0"
        crs:HasCrop="True" crs:CropLeft="0.1" crs:CropTop="0.2" crs:CropRight="0.9" crs:CropBottom="0.8" crs:CropAngle="1.5">
        <crs:Vibrance>+10</crs:Vibrance>
      </rdf:Description></rdf:RDF></x:xmpmeta>"#;

    #[test]
    fn a_lightroom_sidecar_gives_crop_exposure_and_white_balance_and_lists_the_rest() {
        let edits = Edits::parse(SIDECAR, PathBuf::from("IMG_0001.xmp"));
        assert_eq!(edits.crop, Some(Crop { left: 0.1, top: 0.2, right: 0.9, bottom: 0.8, angle: 1.5 }));
        assert_eq!(edits.exposure_ev, 1.0);
        assert_eq!(edits.white_balance, Some((3200.0, 12.0)));
        assert_eq!(edits.unsupported, vec!["Contrast2012=+25".to_string(), "Vibrance=+10".to_string()]);
        let said = edits.said();
        assert!(
            said.contains("exposure +1.00 EV") && said.contains("not applied: Contrast2012=+25"),
            "{said}"
        );
    }

    #[test]
    fn as_shot_and_no_crop_change_nothing() {
        let xmp = SIDECAR.replace("Custom", "As Shot").replace("True", "False").replace("+1.00", "0");
        let edits = Edits::parse(&xmp, PathBuf::from("x.xmp"));
        assert_eq!((edits.crop, edits.white_balance, edits.exposure_ev), (None, None, 0.0));
    }

    #[test]
    fn a_warmer_light_asks_for_more_blue() {
        // sRGB's own XYZ→RGB as a stand-in camera: a neutral D65 camera.
        let xyz_to_rgb = [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]];
        let daylight = multipliers(6500.0, 0.0, &xyz_to_rgb).expect("daylight");
        let tungsten = multipliers(3000.0, 0.0, &xyz_to_rgb).expect("tungsten");
        assert!(tungsten[2] / tungsten[0] > 2.0 * daylight[2] / daylight[0], "{daylight:?} {tungsten:?}");
        let magenta = multipliers(6500.0, 50.0, &xyz_to_rgb).expect("tint");
        assert!(
            magenta[1] > daylight[1] * 1.05 || magenta[0] < daylight[0],
            "a magenta light asks for more green"
        );
    }

    #[test]
    fn a_crop_has_the_size_it_says() {
        let image = Rgb8 { width: 200, height: 100, data: vec![128; 200 * 100 * 3] };
        let c = Crop { left: 0.1, top: 0.2, right: 0.9, bottom: 0.8, angle: 2.0 };
        let out = crop(&image, &c);
        assert_eq!((out.width, out.height), (160, 60));
        assert!(out.data.iter().all(|&v| v == 128));
    }
}
