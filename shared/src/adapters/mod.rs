//! Adapters: one implementation of a port per technology. The embedded set (local
//! directory, in-process queue and key-value store, SQLite, qdrant-edge) needs no service;
//! the cloud set is compiled in with its cargo feature.

pub mod http_fetcher;
pub mod local_blob;
pub mod memory_kv;
pub mod memory_queue;

#[cfg(feature = "candle")]
pub mod candle_embedder;
#[cfg(feature = "edge")]
pub mod edge_index;
#[cfg(feature = "sqlite")]
pub mod sql_catalog;
