//! Fixture web sites served on 127.0.0.1 for the end-to-end tests and the benchmarks: a
//! generated documentation site with the boilerplate real sites have, and a server that
//! logs every request.

pub mod bench_site;
pub mod docs_site;
pub mod server;

pub use server::{FixtureServer, Response, Site};
