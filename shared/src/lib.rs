//! The knowledge-base builder's library: domain types, ports (traits), the adapters behind
//! them and the pipeline stages. Every function binary and the local runner link this crate
//! and choose their adapters once, at start-up, from [`settings::Settings`].

pub mod adapters;
#[cfg(feature = "http")]
pub mod api;
#[cfg(feature = "qdrant")]
pub mod bm25;
pub mod chunking;
pub mod crawl;
pub mod domain;
pub mod drivers;
pub mod error;
#[cfg(feature = "files")]
pub mod files;
pub mod messages;
pub mod pipeline;
pub mod ports;
pub mod settings;
pub mod tokens;
pub mod wiring;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
