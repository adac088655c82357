//! The tus client against tus servers written by others, started on 127.0.0.1.

mod node_server;
mod schedule;
mod send;
mod support;
