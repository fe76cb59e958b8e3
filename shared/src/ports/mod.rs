//! Ports: the traits handlers and stages see. Adapters (in [`crate::adapters`]) implement
//! them for one technology each; which adapter stands behind a port is decided once, when a
//! process starts.

mod blob;
mod catalog;
mod embedder;
mod fetcher;
mod kv;
#[cfg(test)]
pub(crate) mod kv_contract;
mod queue;
mod vector;

pub use blob::*;
pub use catalog::*;
pub use embedder::*;
pub use fetcher::*;
pub use kv::*;
pub use queue::*;
pub use vector::*;
