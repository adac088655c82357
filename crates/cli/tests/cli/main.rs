//! End-to-end tests of the `wedsync` binary.

mod backends;
mod backup;
mod cards;
mod deploy;
mod develop;
mod faults;
mod loadtest;
mod presets;
mod regressions;
mod serve;
mod support;
mod upload;
mod watch;
