//! Page-locked (pinned) host buffers for the CUDA backend's copies, kept between images.
//!
//! A copy from pageable memory makes the driver stage the bytes through pinned buffers of
//! its own, chunk by chunk, while the calling thread waits. From pinned memory a copy is
//! one DMA that the stream runs on its own: the job thread goes on queueing the kernels,
//! and the copy overlaps other images' kernels. Pinning is slow (the pages are locked one
//! by one) and takes memory the OS can no longer swap, so buffers are kept for the next
//! image of the same size (a shoot's frames all have one size) and their total is bounded.
//! Past the bound a copy goes from pageable memory: slower, never wrong.

use std::collections::HashMap;
use std::sync::Mutex;

/// Which way a buffer's bytes go. The host writes write-combined memory fast and the GPU
/// reads it fast, but the host reads it very slowly: only copies to the device use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Way {
    ToDevice,
    FromDevice,
}

/// How many bytes a pooled buffer holds.
pub(crate) trait Bytes {
    fn bytes(&self) -> usize;
}

/// Free buffers by way and exact size (a CUDA copy takes a pinned buffer whole), and the
/// bytes pinned in all, free or lent.
pub(crate) struct Pool<B> {
    limit: usize,
    state: Mutex<State<B>>,
}

struct State<B> {
    free: HashMap<(Way, usize), Vec<B>>,
    held: usize,
}

impl<B: Bytes> Pool<B> {
    /// A pool that pins at most `limit` bytes (0: every copy is pageable).
    pub(crate) fn new(limit: usize) -> Pool<B> {
        Pool { limit, state: Mutex::new(State { free: HashMap::new(), held: 0 }) }
    }

    /// A free buffer of `bytes`, else one from `pin` when the bound allows it (free buffers
    /// of other sizes are unpinned to make room). None: copy from pageable memory.
    pub(crate) fn take(&self, way: Way, bytes: usize, pin: impl FnOnce() -> Option<B>) -> Option<B> {
        if bytes == 0 || bytes > self.limit {
            return None;
        }
        {
            let mut state = self.state.lock().ok()?;
            if let Some(buffer) = state.free.get_mut(&(way, bytes)).and_then(Vec::pop) {
                return Some(buffer);
            }
            while state.held + bytes > self.limit {
                let unpinned = state.free.values_mut().find_map(Vec::pop)?;
                state.held -= unpinned.bytes();
            }
            state.held += bytes;
        }
        // Pinned outside the lock: it takes milliseconds per hundred megabytes.
        let buffer = pin();
        if buffer.is_none() {
            self.forget(bytes);
        }
        buffer
    }

    /// Takes back a buffer whose copies have all finished.
    pub(crate) fn give_back(&self, way: Way, buffer: B) {
        match self.state.lock() {
            Ok(mut state) => state.free.entry((way, buffer.bytes())).or_default().push(buffer),
            // Poisoned: the buffer is unpinned (dropped) and never counted again.
            Err(_) => drop(buffer),
        }
    }

    /// Counts out a lent buffer that was dropped rather than given back.
    pub(crate) fn forget(&self, bytes: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.held = state.held.saturating_sub(bytes);
        }
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.state.lock().map(|s| s.held).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    //! The pool's bookkeeping, with ordinary memory standing in for pinned memory: pinning
    //! needs a CUDA driver, which this machine lacks; the CUDA backend's use of the pool is
    //! covered by the CUDA parity tests where a GPU is present.
    use super::*;

    impl Bytes for Vec<u8> {
        fn bytes(&self) -> usize {
            self.len()
        }
    }

    fn pin(bytes: usize, count: &mut usize) -> Option<Vec<u8>> {
        *count += 1;
        Some(vec![0; bytes])
    }

    #[test]
    fn a_buffer_given_back_serves_the_next_copy_of_its_size_and_way() {
        let pool = Pool::new(1000);
        let mut pinned = 0;
        let a = pool.take(Way::ToDevice, 100, || pin(100, &mut pinned)).expect("pinned");
        pool.give_back(Way::ToDevice, a);
        // Another size, and the same size the other way, are pinned anew.
        let b = pool.take(Way::ToDevice, 101, || pin(101, &mut pinned)).expect("pinned");
        let c = pool.take(Way::FromDevice, 100, || pin(100, &mut pinned)).expect("pinned");
        assert_eq!(pinned, 3);
        let d = pool.take(Way::ToDevice, 100, || pin(100, &mut pinned)).expect("reused");
        assert_eq!((pinned, d.len()), (3, 100));
        assert_eq!(pool.held(), 301);
        drop((b, c));
    }

    #[test]
    fn the_bound_unpins_free_buffers_and_then_refuses() {
        let pool = Pool::new(250);
        let mut pinned = 0;
        let a = pool.take(Way::ToDevice, 100, || pin(100, &mut pinned)).expect("pinned");
        let b = pool.take(Way::FromDevice, 100, || pin(100, &mut pinned)).expect("pinned");
        // 100 + 100 + 100 > 250 and nothing is free: pageable.
        assert!(pool.take(Way::ToDevice, 100, || pin(100, &mut pinned)).is_none());
        assert_eq!(pinned, 2);
        // A free buffer of another size is unpinned to make room.
        pool.give_back(Way::FromDevice, b);
        let c = pool.take(Way::ToDevice, 120, || pin(120, &mut pinned)).expect("room made");
        assert_eq!((pinned, pool.held()), (3, 220));
        // Larger than the bound, or empty: never pinned.
        assert!(pool.take(Way::ToDevice, 251, || pin(251, &mut pinned)).is_none());
        assert!(pool.take(Way::ToDevice, 0, || pin(0, &mut pinned)).is_none());
        assert_eq!(pinned, 3);
        drop((a, c));
    }

    #[test]
    fn a_failed_pin_or_a_dropped_buffer_is_counted_out() {
        let pool: Pool<Vec<u8>> = Pool::new(200);
        assert!(pool.take(Way::ToDevice, 150, || None).is_none());
        assert_eq!(pool.held(), 0);
        let mut pinned = 0;
        let a = pool.take(Way::ToDevice, 150, || pin(150, &mut pinned)).expect("room again");
        pool.forget(a.len());
        assert_eq!(pool.held(), 0);
        // A limit of 0 (WEDSYNC_CUDA_PAGEABLE): every copy is pageable.
        let none: Pool<Vec<u8>> = Pool::new(0);
        assert!(none.take(Way::FromDevice, 1, || pin(1, &mut pinned)).is_none());
    }
}
