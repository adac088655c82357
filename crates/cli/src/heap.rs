//! The heap of a one-shot `wedsync develop`. Each stage of a develop takes a fresh buffer
//! of tens of megabytes (the mosaic, the RGB image, the encoder's coefficients). By default
//! glibc serves each from fresh pages (mmap above 32 MiB) and hands it back when freed, so
//! a one-file run of the sample CR2 took 57,000 page faults at ~2.5 µs each on these VMs:
//! a third of its CPU time. Two changes, measured with `perf stat` (`--preset full`):
//! - every allocation from one heap that keeps what is freed, so later stages reuse the
//!   earlier ones' pages: 33,000 faults, ~470 → ~420 ms (fastest of three runs);
//! - that heap reserved up front and advised to use 2 MiB pages (transparent huge pages,
//!   which Linux distributions enable for advised memory by default), so a buffer faults
//!   once per 2 MiB instead of once per 4 KiB: 1,200 faults, ~330 ms.
//!
//! The long-running engine keeps glibc's defaults for now: its many threads (uploads, the
//! journal, the window) would contend for one arena, and it has not been measured with
//! these settings. Other platforms keep their allocators' defaults (untested there).

/// How much address space the heap reserves at once (virtual: pages are only used when
/// touched). A 45 MP frame's buffers fit; beyond it the heap grows as usual, without the
/// large-page advice.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const RESERVE: usize = 1 << 30;

/// Asks glibc to serve every allocation from one heap, keep freed memory there, and asks
/// Linux to back that heap with large pages. Call before any other thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters, to values glibc documents for each;
    // sbrk(0) only reads the program break; madvise only advises on pages of our own heap,
    // between the break before and after the heap grew, and a failure is harmless.
    unsafe {
        // One arena: the threads' own arenas are 64 MiB heaps that cannot hold these buffers.
        libc::mallopt(libc::M_ARENA_MAX, 1);
        // No mmap: large buffers come from the heap, and go back to it when freed.
        libc::mallopt(libc::M_MMAP_MAX, 0);
        // Never shrink the heap: the next stage, or file, needs the same buffers again.
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
        // Grow the heap once by the whole reserve, then advise the new range.
        libc::mallopt(libc::M_TOP_PAD, RESERVE as libc::c_int);
        let before = libc::sbrk(0) as usize;
        // black_box: the compiler may otherwise drop an allocation that is never used.
        libc::free(std::hint::black_box(libc::malloc(1 << 20)));
        let after = libc::sbrk(0) as usize;
        const HUGE: usize = 2 << 20;
        let start = before.div_ceil(HUGE) * HUGE;
        if after > start + HUGE {
            libc::madvise(start as *mut libc::c_void, (after - start) / HUGE * HUGE, libc::MADV_HUGEPAGE);
        }
        // Later growth comes in the usual steps.
        libc::mallopt(libc::M_TOP_PAD, 128 << 10);
    }
}

/// Other allocators (macOS, Windows, musl) keep their defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed_memory() {}
