use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{Chunk, ChunkId, KbId, PageId, SearchMode, SourceId};
use crate::error::StoreError;

/// What is stored with each vector, enough to answer a search without the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkPayload {
    pub kb_id: KbId,
    pub source_id: SourceId,
    pub page_id: PageId,
    pub url: String,
    pub title: Option<String>,
    pub heading_path: Vec<String>,
    pub anchor: Option<String>,
    pub text: String,
    pub index: u32,
    pub start: u32,
    pub end: u32,
    pub token_count: u32,
}

impl From<&Chunk> for ChunkPayload {
    fn from(c: &Chunk) -> Self {
        Self {
            kb_id: c.kb_id,
            source_id: c.source_id,
            page_id: c.page_id,
            url: c.url.clone(),
            title: c.title.clone(),
            heading_path: c.heading_path.clone(),
            anchor: c.anchor.clone(),
            text: c.text.clone(),
            index: c.index,
            start: c.start,
            end: c.end,
            token_count: c.token_count,
        }
    }
}

/// One chunk's entry in the index: its dense vector, the text its keyword (BM25) vector is
/// made from, and its payload.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexPoint {
    pub id: ChunkId,
    pub vector: Vec<f32>,
    pub keyword_text: String,
    pub payload: ChunkPayload,
}

/// Restrictions on which chunks a search may return.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchFilter {
    /// Only chunks of these sources (any source when empty).
    #[serde(default)]
    pub source_ids: Vec<SourceId>,
    /// Only chunks whose page URL starts with this prefix.
    #[serde(default)]
    pub url_prefix: Option<String>,
}

/// A search over one knowledge base.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexQuery {
    pub kb_id: KbId,
    /// The query's dense vector (unused in `sparse` mode).
    pub vector: Vec<f32>,
    /// The query text (for the keyword index).
    pub text: String,
    pub mode: SearchMode,
    pub top_k: usize,
    pub score_threshold: Option<f32>,
    pub filter: SearchFilter,
}

/// How many candidates to gather to keep `top_k` after a second step filters or merges them
/// (each ranking of a hybrid fusion, the dense floor of a thresholded hybrid search, grouping
/// results by page): four per result kept, at least 50.
pub fn candidate_depth(top_k: usize) -> usize {
    (top_k * 4).max(50)
}

/// One search result.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexHit {
    pub id: ChunkId,
    pub score: f32,
    pub payload: ChunkPayload,
}

/// Vector (and keyword) index of chunks, partitioned by knowledge base. The point id of a
/// chunk is its chunk id, so writing a chunk twice overwrites it.
#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// Inserts or replaces points of `kb` (vectors of `dimension` floats).
    ///
    /// # Errors
    /// The index is unreachable or refuses the points (e.g. wrong dimension).
    async fn upsert(&self, kb: KbId, dimension: usize, points: Vec<IndexPoint>) -> Result<(), StoreError>;

    /// Best matches first. An unknown KB has no results.
    ///
    /// # Errors
    /// The index is unreachable.
    async fn search(&self, query: &IndexQuery) -> Result<Vec<IndexHit>, StoreError>;

    /// Number of points of `kb`.
    ///
    /// # Errors
    /// The index is unreachable.
    async fn count(&self, kb: KbId) -> Result<u64, StoreError>;

    /// Removes these points of `kb` (missing ones are ignored).
    ///
    /// # Errors
    /// The index is unreachable.
    async fn delete_points(&self, kb: KbId, ids: &[ChunkId]) -> Result<(), StoreError>;

    /// Removes every point of `kb`.
    ///
    /// # Errors
    /// The index is unreachable.
    async fn delete_kb(&self, kb: KbId) -> Result<(), StoreError>;

    /// Called once when `kb` is complete: build search structures, flush to disk.
    ///
    /// # Errors
    /// The index is unreachable.
    async fn finish_kb(&self, kb: KbId) -> Result<(), StoreError>;
}
