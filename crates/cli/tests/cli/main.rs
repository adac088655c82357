//! End-to-end tests of the `wedsync` binary.

mod develop;
mod presets;
mod serve;
