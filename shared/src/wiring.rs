//! Chooses the adapter behind every port from the settings, once per process.

use std::sync::Arc;

use crate::chunking::Chunker;
use crate::settings::Settings;
use crate::tokens::{ModelDir, TokenCounter};

/// Why a process could not start.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Model(#[from] crate::tokens::ModelError),
    #[error("{0}")]
    Store(#[from] crate::error::StoreError),
    #[error("{0}")]
    Embedder(#[from] crate::ports::EmbedError),
    #[error("{0}")]
    Fetcher(#[from] crate::ports::FetchError),
}

/// Which roles this process plays (each loads only what it needs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Roles {
    pub chunker: bool,
    pub embedder: bool,
}

impl Roles {
    pub const ALL: Roles = Roles { chunker: true, embedder: true };
}

/// The catalog of the embedded deployment.
///
/// # Errors
/// The SQLite file cannot be opened.
#[cfg(feature = "sqlite")]
pub async fn embedded_catalog(settings: &Settings) -> Result<Arc<dyn crate::ports::Catalog>, WiringError> {
    let path = settings.sqlite_path();
    Ok(Arc::new(crate::adapters::sql_catalog::SqliteCatalog::open(path.to_string_lossy().as_ref()).await?))
}

/// The vector index of the embedded deployment.
///
/// # Errors
/// Another process holds it, or it cannot be opened.
#[cfg(feature = "edge")]
pub fn embedded_index(settings: &Settings) -> Result<Arc<dyn crate::ports::VectorIndex>, WiringError> {
    Ok(Arc::new(crate::adapters::edge_index::EdgeVectorIndex::open(settings.vector_dir())?))
}

/// The embedding model of `settings`.
///
/// # Errors
/// The model directory is missing or unusable.
#[cfg(feature = "candle")]
pub fn embedder(settings: &Settings) -> Result<Arc<dyn crate::ports::Embedder>, WiringError> {
    let info = ModelDir::open(&settings.model_dir)?;
    Ok(Arc::new(crate::adapters::candle_embedder::CandleEmbedder::load(info)?))
}

/// The chunker (it needs the model's tokenizer, not the model).
///
/// # Errors
/// The model directory is missing or unusable.
pub fn chunker(settings: &Settings) -> Result<Arc<Chunker>, WiringError> {
    let info = ModelDir::open(&settings.model_dir)?;
    Ok(Arc::new(Chunker::new(TokenCounter::open(&info)?)))
}

/// A one-process context on the embedded adapters: local directory blobs, in-process
/// queues and key-value store, SQLite catalog, qdrant-edge index, local model.
///
/// # Errors
/// An adapter could not be opened.
#[cfg(all(feature = "sqlite", feature = "edge", feature = "candle"))]
pub async fn embedded_context(settings: Settings, roles: Roles) -> Result<crate::pipeline::Context, WiringError> {
    use crate::adapters::{
        http_fetcher::HttpFetcher, local_blob::LocalDirBlobStore, memory_kv::InMemoryKv, memory_queue::InProcessQueue,
    };
    let settings = Arc::new(settings);
    let catalog = embedded_catalog(&settings).await?;
    let index = embedded_index(&settings)?;
    Ok(crate::pipeline::Context {
        blobs: Arc::new(LocalDirBlobStore::open(settings.blob_dir())?),
        queue: Arc::new(InProcessQueue::new(settings.visibility_timeout, settings.max_receives)),
        catalog,
        kv: Arc::new(InMemoryKv::new()),
        index,
        fetcher: Arc::new(HttpFetcher::new(&settings.user_agent)?),
        chunker: if roles.chunker { Some(chunker(&settings)?) } else { None },
        embedder: if roles.embedder { Some(embedder(&settings)?) } else { None },
        settings,
    })
}
