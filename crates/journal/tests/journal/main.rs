//! The journal against a real SQLite file: the life of an upload, dedup, refused
//! transitions, migrations, kill -9 at random instants, and regressions (issue 14).

mod crash;
mod lifecycle;
mod regressions;
mod support;
