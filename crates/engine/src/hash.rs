use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The SHA-256 (hex) of a file's bytes, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The SHA-256 (hex) of bytes in memory: a camera file read whole, a rendition.
pub(crate) fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The SHA-256 (hex) of a file's picture: the bytes in `ranges` (its image data, see
/// [`wedsync_develop::image_data`]), in order, as far as the file holds them.
pub(crate) fn picture_sha256(bytes: &[u8], ranges: &[std::ops::Range<usize>]) -> String {
    let mut hasher = Sha256::new();
    for range in ranges {
        hasher
            .update(bytes.get(range.start.min(bytes.len())..range.end.min(bytes.len())).unwrap_or_default());
    }
    hex::encode(hasher.finalize())
}

/// A file's modification time in nanoseconds since 1970, as the journal records it (with
/// the size) to know a file unchanged without hashing it again; 0 where the system has none.
pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64)
}
