//! Search over one knowledge base: embed the query with the KB's model, ask the vector
//! index (dense, keyword or hybrid), return citable results.

use serde::{Deserialize, Serialize};

use crate::domain::{ChunkId, KnowledgeBase, PageId, SearchMode, SourceId};
use crate::error::StoreError;
use crate::ports::{IndexQuery, SearchFilter, TextKind};

use super::Context;

/// Results returned at most.
pub const MAX_TOP_K: usize = 100;

/// A search request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    pub query: String,
    #[serde(default = "default_top_k")]
    pub top_k: usize,
    #[serde(default)]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub mode: Option<SearchMode>,
    #[serde(default, flatten)]
    pub filter: SearchFilter,
}

fn default_top_k() -> usize {
    5
}

/// One result, with what a chatbot needs to quote and cite it (also the API's result shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct SearchResult {
    #[cfg_attr(feature = "http", schema(value_type = String, format = Uuid))]
    pub chunk_id: ChunkId,
    pub url: String,
    pub title: Option<String>,
    pub heading_path: Vec<String>,
    pub anchor: Option<String>,
    pub text: String,
    pub score: f32,
    #[cfg_attr(feature = "http", schema(value_type = String, format = Uuid))]
    pub source_id: SourceId,
    #[cfg_attr(feature = "http", schema(value_type = String, format = Uuid))]
    pub page_id: PageId,
}

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("search is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Searches `kb`.
///
/// # Errors
/// Invalid request, no embedding model in this process, or a store failed.
pub async fn search(ctx: &Context, kb: &KnowledgeBase, req: &SearchRequest) -> Result<Vec<SearchResult>, SearchError> {
    let query = req.query.trim();
    if query.is_empty() {
        return Err(SearchError::Invalid { field: "query", message: "query must not be empty".into() });
    }
    if req.top_k == 0 || req.top_k > MAX_TOP_K {
        return Err(SearchError::Invalid { field: "top_k", message: format!("top_k must be between 1 and {MAX_TOP_K}") });
    }
    if req.score_threshold.is_some_and(|t| !t.is_finite()) {
        return Err(SearchError::Invalid { field: "score_threshold", message: "score_threshold must be a number".into() });
    }
    let mode = req.mode.unwrap_or(kb.config.vector_store.default_search_mode);
    let vector = if mode == SearchMode::Sparse {
        Vec::new()
    } else {
        let embedder = ctx.embedder.as_deref().ok_or_else(|| SearchError::Unavailable("no embedding model".into()))?;
        if embedder.model_id() != kb.config.embedding.model {
            return Err(SearchError::Unavailable(format!(
                "the knowledge base was built with model {:?}, this process runs {:?}",
                kb.config.embedding.model,
                embedder.model_id()
            )));
        }
        embedder
            .embed(&[query.to_owned()], TextKind::Query)
            .await
            .map_err(|e| SearchError::Unavailable(e.to_string()))?
            .pop()
            .unwrap_or_default()
    };
    let index_query = IndexQuery {
        kb_id: kb.id,
        vector,
        text: query.to_owned(),
        mode,
        top_k: req.top_k,
        score_threshold: req.score_threshold,
        filter: req.filter.clone(),
    };
    let mut hits = ctx.index.search(&index_query).await?;
    // `score_threshold` is a floor on the cosine similarity. Fused (RRF) scores are not
    // comparable to it, so in hybrid mode a result must also clear the floor in the dense
    // ranking: a keyword-only match does not slip past the threshold.
    if mode == SearchMode::Hybrid && req.score_threshold.is_some() {
        let dense = IndexQuery { mode: SearchMode::Dense, top_k: (req.top_k * 4).max(50), ..index_query };
        let allowed: std::collections::HashSet<ChunkId> = ctx.index.search(&dense).await?.into_iter().map(|h| h.id).collect();
        hits.retain(|h| allowed.contains(&h.id));
    }
    Ok(hits
        .into_iter()
        .map(|h| SearchResult {
            chunk_id: h.id,
            url: h.payload.url,
            title: h.payload.title,
            heading_path: h.payload.heading_path,
            anchor: h.payload.anchor,
            text: h.payload.text,
            score: h.score,
            source_id: h.payload.source_id,
            page_id: h.payload.page_id,
        })
        .collect())
}
