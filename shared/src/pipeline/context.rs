//! Everything a handler needs, built once per process from the settings.

use std::sync::Arc;

use crate::chunking::Chunker;
use crate::error::StageError;
use crate::ports::{BlobStore, Catalog, Embedder, KeyValueStore, PageFetcher, PageRenderer, VectorIndex, WorkQueue};
use crate::settings::Settings;

/// The adapters behind every port, shared by all handlers of a process.
#[derive(Clone)]
pub struct Context {
    pub settings: Arc<Settings>,
    pub blobs: Arc<dyn BlobStore>,
    pub queue: Arc<dyn WorkQueue>,
    pub catalog: Arc<dyn Catalog>,
    pub kv: Arc<dyn KeyValueStore>,
    pub index: Arc<dyn VectorIndex>,
    pub fetcher: Arc<dyn PageFetcher>,
    /// Renders pages that need JavaScript (`render`: `browser`, or `auto` on an empty shell).
    pub renderer: Arc<dyn PageRenderer>,
    /// Absent in processes that never chunk (the crawl function).
    pub chunker: Option<Arc<Chunker>>,
    /// Absent in processes that never embed.
    pub embedder: Option<Arc<dyn Embedder>>,
}

impl Context {
    /// # Errors
    /// This process was started without a chunker.
    pub fn chunker(&self) -> Result<&Chunker, StageError> {
        self.chunker.as_deref().ok_or_else(|| StageError::permanent("this process has no chunker configured"))
    }

    /// # Errors
    /// This process was started without an embedding model.
    pub fn embedder(&self) -> Result<&dyn Embedder, StageError> {
        self.embedder.as_deref().ok_or_else(|| StageError::permanent("this process has no embedding model configured"))
    }
}
