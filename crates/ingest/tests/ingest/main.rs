//! The ingestion server over real sockets: one module per verb, then concatenation, the
//! admin endpoints, limits, and clients written by others (tus-js-client, tuspy).

mod admin;
mod bucket;
mod concat;
mod defects;
mod delete;
mod get;
mod head;
mod limits;
mod options;
mod patch;
mod peers;
mod post;
mod postgres;
// Shared with tests/hostile.rs and tests/cluster.rs, which use helpers this binary does not.
#[allow(dead_code)]
mod support;
