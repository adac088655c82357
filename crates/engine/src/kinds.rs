//! Which camera files a source takes. A card or a tethering folder holds RAW files, the
//! camera JPEGs shot with them (RAW+JPEG mode), JPEGs shot alone, videos, and editors'
//! XMP sidecars (read for ratings, never taken on their own).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Video clips a camera writes beside its photos.
const VIDEO_EXTENSIONS: [&str; 9] = ["MOV", "MP4", "M4V", "AVI", "MTS", "M2TS", "MXF", "CRM", "3GP"];

/// What a camera file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Raw,
    Jpeg,
    Video,
}

impl Kind {
    /// By its extension; None for what is not a camera file (sidecars, catalogues, …).
    pub fn of(path: &Path) -> Option<Kind> {
        let ext = path.extension()?.to_str()?.to_ascii_uppercase();
        if ext == "JPG" || ext == "JPEG" {
            Some(Kind::Jpeg)
        } else if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
            Some(Kind::Video)
        } else if wedsync_develop::is_supported_extension(path) {
            Some(Kind::Raw)
        } else {
            None
        }
    }
}

/// Whether a file is one a source looks at (and a card's safety counts).
pub fn is_camera_file(path: &Path) -> bool {
    Kind::of(path).is_some()
}

/// Which photos a source takes (`files` in `config.toml`, `--files`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Files {
    /// RAW files only.
    #[serde(rename = "raw")]
    Raw,
    /// RAW files, each with the camera JPEG shot with it.
    #[serde(rename = "raw+jpeg")]
    RawJpeg,
    /// Every photo: also JPEGs shot without a RAW.
    #[default]
    #[serde(rename = "all")]
    All,
}

impl std::str::FromStr for Files {
    type Err = String;
    fn from_str(s: &str) -> Result<Files, String> {
        match s {
            "raw" => Ok(Files::Raw),
            "raw+jpeg" => Ok(Files::RawJpeg),
            "all" => Ok(Files::All),
            other => Err(format!("`{other}` is not a choice of files: raw, raw+jpeg or all")),
        }
    }
}

impl Files {
    /// Why a file of `kind` is left out (`grouped`: a JPEG shot with a RAW), if it is.
    pub fn leaves_out(self, kind: Kind, grouped: bool, videos: bool) -> Option<&'static str> {
        match (kind, self) {
            (Kind::Video, _) if !videos => Some("a video (this source leaves videos out)"),
            (Kind::Jpeg, Files::Raw) => Some("a JPEG (this source takes RAW files only)"),
            (Kind::Jpeg, Files::RawJpeg) if !grouped => {
                Some("a JPEG shot without a RAW (this source takes RAW files and their JPEGs)")
            }
            _ => None,
        }
    }
}

/// The RAW file beside a JPEG that may have been shot with it: in the same folder, with the
/// same name (any case) and a RAW extension.
pub fn raw_beside(jpeg: &Path) -> Option<PathBuf> {
    let stem = jpeg.file_stem()?.to_str()?;
    let folder = jpeg.parent()?;
    let mut found: Vec<PathBuf> = std::fs::read_dir(folder)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_stem().and_then(|s| s.to_str()).is_some_and(|s| s.eq_ignore_ascii_case(stem)))
        .filter(|p| Kind::of(p) == Some(Kind::Raw) && p.is_file())
        .collect();
    found.sort();
    found.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_extension_and_what_each_choice_takes() {
        assert_eq!(Kind::of(Path::new("a/IMG_1.CR2")), Some(Kind::Raw));
        assert_eq!(Kind::of(Path::new("a/IMG_1.jpg")), Some(Kind::Jpeg));
        assert_eq!(Kind::of(Path::new("a/MVI_1.MOV")), Some(Kind::Video));
        assert_eq!(Kind::of(Path::new("a/IMG_1.xmp")), None);
        assert_eq!(Files::All.leaves_out(Kind::Jpeg, false, false), None);
        assert!(Files::RawJpeg.leaves_out(Kind::Jpeg, false, false).is_some());
        assert_eq!(Files::RawJpeg.leaves_out(Kind::Jpeg, true, false), None);
        assert!(Files::Raw.leaves_out(Kind::Jpeg, true, false).is_some());
        assert!(Files::All.leaves_out(Kind::Video, false, false).is_some());
        assert_eq!(Files::Raw.leaves_out(Kind::Video, false, true), None);
        assert_eq!(Files::All.leaves_out(Kind::Raw, false, false), None);
        assert_eq!("raw+jpeg".parse::<Files>(), Ok(Files::RawJpeg));
        assert!("jpeg".parse::<Files>().expect_err("not a choice").contains("raw, raw+jpeg or all"));
    }

    #[test]
    fn the_raw_beside_a_jpeg_is_found_by_name_in_any_case() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["IMG_1.cr2", "IMG_1.JPG", "IMG_1.xmp", "IMG_2.JPG"] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        assert_eq!(raw_beside(&dir.path().join("IMG_1.JPG")), Some(dir.path().join("IMG_1.cr2")));
        assert_eq!(raw_beside(&dir.path().join("IMG_2.JPG")), None);
    }
}
