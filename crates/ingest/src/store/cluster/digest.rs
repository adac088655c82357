//! A SHA-256 that stops after any whole number of 64-byte blocks and goes on later, in
//! another process: its state (eight words and the count of bytes) is kept with each part,
//! so the whole file's digest is ready when the last byte arrives, without reading the
//! object back from the bucket. The `sha2` crate does the compression; this keeps the
//! state and does the final padding (FIPS 180-4, 5.1.1).

use sha2::digest::generic_array::GenericArray;

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const INITIAL: [u32; 8] =
    [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// The state after some whole blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running {
    words: [u32; 8],
    /// Bytes hashed so far, a multiple of 64.
    len: u64,
}

impl Default for Running {
    fn default() -> Self {
        Running { words: INITIAL, len: 0 }
    }
}

impl Running {
    /// The 40 bytes that store it: the words big-endian, then the length.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        for w in self.words {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out.extend_from_slice(&self.len.to_be_bytes());
        out
    }

    /// Reads what [`Running::to_bytes`] wrote; `None` if it is not that.
    pub fn from_bytes(bytes: &[u8]) -> Option<Running> {
        if bytes.len() != 40 {
            return None;
        }
        let mut words = [0u32; 8];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_be_bytes(chunk.try_into().ok()?);
        }
        let len = u64::from_be_bytes(bytes[32..].try_into().ok()?);
        len.is_multiple_of(64).then_some(Running { words, len })
    }

    /// Hashes `data`, whose length must be a multiple of 64 (a part's size is).
    pub fn update(&mut self, data: &[u8]) {
        debug_assert!(data.len().is_multiple_of(64), "whole blocks only");
        // In batches: `compress256` is fastest given many blocks at a time (its SHA-NI path
        // keeps the state in registers across them).
        let mut batch = [GenericArray::default(); 64];
        for blocks in data.chunks(64 * 64) {
            let n = blocks.len() / 64;
            for (slot, block) in batch.iter_mut().zip(blocks.chunks_exact(64)) {
                slot.copy_from_slice(block);
            }
            sha2::compress256(&mut self.words, &batch[..n]);
        }
        self.len += (data.len() / 64 * 64) as u64;
    }

    /// The digest of everything hashed, followed by `rest` (any length).
    pub fn finish(mut self, rest: &[u8]) -> [u8; 32] {
        let whole = rest.len() / 64 * 64;
        self.update(&rest[..whole]);
        let total_bits = (self.len + (rest.len() - whole) as u64) * 8;
        let mut last = rest[whole..].to_vec();
        last.push(0x80);
        while last.len() % 64 != 56 {
            last.push(0);
        }
        last.extend_from_slice(&total_bits.to_be_bytes());
        self.update(&last);
        let mut out = [0u8; 32];
        for (chunk, w) in out.chunks_exact_mut(4).zip(self.words) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn stopping_and_going_on_gives_sha256() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        // Every way a tail can end against the padding: empty, 55, 56, 63, 64+ bytes.
        for split in [0, 64, 128, 640, 9_984] {
            for end in [split, split + 1, split + 55, split + 56, split + 63, split + 64, split + 119, 10_000]
            {
                let end = end.min(data.len());
                let mut running = Running::default();
                running.update(&data[..split]);
                let stored = Running::from_bytes(&running.to_bytes()).expect("round trip");
                assert_eq!(stored, running);
                let want: [u8; 32] = Sha256::digest(&data[..end]).into();
                assert_eq!(stored.finish(&data[split..end]), want, "split {split}, end {end}");
            }
        }
    }

    /// What keeping the digest costs the writer: one pass over each part as it goes to the
    /// bucket, against the `sha2` crate's own streaming hasher over the same bytes (printed;
    /// `cargo test --release -p wedsync-ingest digest -- --nocapture`).
    #[test]
    fn the_running_digest_costs_what_sha256_costs() {
        let part = 8 << 20;
        let data: Vec<u8> =
            (0..4 * part as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
        // Fastest of three each, alternating, so neither gets the warm cache alone.
        let (mut ours_s, mut theirs_s) = (f64::MAX, f64::MAX);
        for _ in 0..3 {
            let start = std::time::Instant::now();
            let mut running = Running::default();
            for chunk in data.chunks(part) {
                running =
                    Running::from_bytes(&running.to_bytes()).expect("stored and read back, as per part");
                running.update(chunk);
            }
            let ours = running.finish(&[]);
            ours_s = ours_s.min(start.elapsed().as_secs_f64());
            let start = std::time::Instant::now();
            let theirs: [u8; 32] = Sha256::digest(&data).into();
            theirs_s = theirs_s.min(start.elapsed().as_secs_f64());
            assert_eq!(ours, theirs);
        }
        let mb = data.len() as f64 / 1e6;
        eprintln!(
            "running SHA-256 over 4 parts of 8 MiB: {:.0} MB/s; sha2's hasher: {:.0} MB/s ({:.2}x)",
            mb / ours_s,
            mb / theirs_s,
            theirs_s / ours_s
        );
    }

    #[test]
    fn a_state_that_is_not_one_is_refused() {
        assert!(Running::from_bytes(&[0; 39]).is_none());
        let mut odd = Running::default().to_bytes();
        odd[39] = 1;
        assert!(Running::from_bytes(&odd).is_none(), "a length that is not whole blocks");
    }
}
