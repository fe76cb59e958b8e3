//! Adapters: one implementation of a port per technology. The embedded set (local
//! directory, in-process queue and key-value store, SQLite, qdrant-edge) needs no service;
//! the cloud set is compiled in with its cargo feature.

pub mod http_fetcher;
pub mod local_blob;
pub mod memory_kv;
pub mod memory_queue;
pub mod no_browser;
pub mod payload;

/// The tests every vector-index adapter passes (used by the adapters built in).
#[cfg(all(test, any(feature = "edge", feature = "qdrant", feature = "postgres")))]
pub(crate) mod vector_contract;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "postgres")]
pub mod pgvector_index;
#[cfg(feature = "qdrant")]
pub mod qdrant_index;
#[cfg(feature = "redis")]
pub mod redis_kv;

#[cfg(feature = "browser")]
pub mod browser;
#[cfg(feature = "candle")]
pub mod candle_embedder;
#[cfg(feature = "edge")]
pub mod edge_index;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod sql_catalog;
