#![no_main]
//! Every tus header parser on arbitrary bytes: no panics, and parsed metadata round-trips.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wedsync_ingest::fuzz_headers(data);
});
