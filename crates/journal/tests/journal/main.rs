//! The journal against a real SQLite file: the life of an upload, dedup, refused
//! transitions, migrations, and kill -9 at random instants.

mod crash;
mod lifecycle;
mod support;
