//! Stand-in camera files for tests that send originals only: `IMG_0000.JPG`… of pseudo-
//! random bytes (xorshift), different from call to call only through `count` and `len`.
//! Shared by the engine's tests and the app's benchmark (std only, so either can include it).

use std::path::{Path, PathBuf};

/// `count` files of `len` bytes in `dir` (created), named `IMG_0000.JPG` on.
pub fn files(dir: &Path, count: usize, len: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..count)
        .map(|i| {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let path = dir.join(format!("IMG_{i:04}.JPG"));
            std::fs::write(&path, bytes).expect("write");
            path
        })
        .collect()
}
