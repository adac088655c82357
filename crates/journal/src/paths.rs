//! Paths stored losslessly. A card formatted by an old camera may name files in Latin-1;
//! converting such a name to UTF-8 with replacement characters loses it (the file is never
//! found again) and makes two names one. Paths are stored as BLOBs: the bytes of the name
//! on Unix, and on Windows its UTF-16 as WTF-8 (UTF-8 that also carries unpaired
//! surrogates). Both are plain UTF-8 for any name that is valid Unicode, so journals
//! written before paths were BLOBs convert by a cast (migration 004).

use std::path::{Path, PathBuf};

#[cfg(unix)]
pub(crate) fn to_blob(path: &Path) -> Vec<u8> {
    std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec()
}

#[cfg(unix)]
pub(crate) fn from_blob(bytes: &[u8]) -> PathBuf {
    PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes))
}

// Untested here (only Linux builds on these machines): WTF-8 by hand, since the standard
// library's own encoded bytes are documented as unfit for storage.
#[cfg(windows)]
pub(crate) fn to_blob(path: &Path) -> Vec<u8> {
    use std::os::windows::ffi::OsStrExt;
    let mut out = Vec::new();
    for unit in char::decode_utf16(path.as_os_str().encode_wide()) {
        let code = match unit {
            Ok(c) => c as u32,
            Err(e) => u32::from(e.unpaired_surrogate()),
        };
        // Generalised UTF-8: three bytes for a lone surrogate, as for any BMP code point.
        match code {
            0..=0x7f => out.push(code as u8),
            0x80..=0x7ff => out.extend([0xc0 | (code >> 6) as u8, 0x80 | (code & 0x3f) as u8]),
            0x800..=0xffff => out.extend([
                0xe0 | (code >> 12) as u8,
                0x80 | ((code >> 6) & 0x3f) as u8,
                0x80 | (code & 0x3f) as u8,
            ]),
            _ => out.extend([
                0xf0 | (code >> 18) as u8,
                0x80 | ((code >> 12) & 0x3f) as u8,
                0x80 | ((code >> 6) & 0x3f) as u8,
                0x80 | (code & 0x3f) as u8,
            ]),
        }
    }
    out
}

#[cfg(windows)]
pub(crate) fn from_blob(bytes: &[u8]) -> PathBuf {
    use std::os::windows::ffi::OsStringExt;
    let mut wide = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (len, init) = match b {
            0..=0x7f => (1, u32::from(b)),
            0xc0..=0xdf => (2, u32::from(b & 0x1f)),
            0xe0..=0xef => (3, u32::from(b & 0x0f)),
            _ => (4, u32::from(b & 0x07)),
        };
        let code = bytes[i + 1..(i + len).min(bytes.len())]
            .iter()
            .fold(init, |c, &b| (c << 6) | u32::from(b & 0x3f));
        if code >= 0x1_0000 {
            let c = code - 0x1_0000;
            wide.extend([0xd800 | (c >> 10) as u16, 0xdc00 | (c & 0x3ff) as u16]);
        } else {
            wide.push(code as u16);
        }
        i += len;
    }
    PathBuf::from(std::ffi::OsString::from_wide(&wide))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_latin1_name_comes_back_byte_for_byte() {
        let raw: &[u8] = b"/media/card/DCIM/F\xf6hn_\xe9t\xe9.CR2";
        let path = from_blob(raw);
        assert_eq!(to_blob(&path), raw);
        assert_eq!(to_blob(Path::new("/media/card/Ünïcode.CR2")), "/media/card/Ünïcode.CR2".as_bytes());
    }
}
