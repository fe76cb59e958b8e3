//! Search over one knowledge base: embed the query with the KB's model, ask the vector
//! index (dense, keyword or hybrid), return citable results.

use serde::{Deserialize, Serialize};

use crate::domain::{ChunkId, KnowledgeBase, PageId, SearchMode, SourceId};
use crate::error::StoreError;
use crate::ports::{candidate_depth, IndexHit, IndexQuery, SearchFilter, TextKind};

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
    /// Each page once, with its best chunk (`None`: the knowledge base's default).
    #[serde(default)]
    pub group_by_page: Option<bool>,
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
    let group = req.group_by_page.unwrap_or(kb.config.vector_store.group_by_page);
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
    let mut index_query = IndexQuery {
        kb_id: kb.id,
        vector,
        text: query.to_owned(),
        mode,
        top_k: req.top_k,
        score_threshold: req.score_threshold,
        filter: req.filter.clone(),
    };
    if !group {
        return Ok(matching(ctx, &index_query).await?.hits.into_iter().map(SearchResult::from).collect());
    }
    // Grouped, the index is asked for more chunks than results so that `top_k` distinct
    // pages survive when the best pages have several matching chunks each; when they still
    // hold fewer pages (a few long pages match everywhere), it is asked again, deeper, until
    // `top_k` pages are found, the index has nothing more, or the depth reaches its bound.
    index_query.top_k = candidate_depth(req.top_k);
    loop {
        let found = matching(ctx, &index_query).await?;
        let pages = best_per_page(found.hits, req.top_k);
        if pages.len() == req.top_k || found.exhausted || index_query.top_k >= MAX_GROUP_DEPTH {
            return Ok(pages.into_iter().map(SearchResult::from).collect());
        }
        index_query.top_k = (index_query.top_k * 4).min(MAX_GROUP_DEPTH);
    }
}

/// Chunks asked from the index for a grouped search, at most.
pub const MAX_GROUP_DEPTH: usize = 3200;

/// The chunks an index query matches, best first, and whether the index had no more.
struct Matches {
    hits: Vec<IndexHit>,
    exhausted: bool,
}

async fn matching(ctx: &Context, query: &IndexQuery) -> Result<Matches, SearchError> {
    // `score_threshold` is a floor on the cosine similarity; fused (hybrid) scores are not
    // comparable to it, so the index applies it to the dense ranking before fusing
    // (`ports::fuse_hybrid`): a keyword-only match does not slip past it.
    let hits = ctx.index.search(query).await?;
    let exhausted = hits.len() < query.top_k;
    Ok(Matches { hits, exhausted })
}

impl From<IndexHit> for SearchResult {
    fn from(h: IndexHit) -> Self {
        Self {
            chunk_id: h.id,
            url: h.payload.url,
            title: h.payload.title,
            heading_path: h.payload.heading_path,
            anchor: h.payload.anchor,
            text: h.payload.text,
            score: h.score,
            source_id: h.payload.source_id,
            page_id: h.payload.page_id,
        }
    }
}

/// The first (best) hit of each page, in the order given, at most `top_k` of them.
fn best_per_page(hits: Vec<IndexHit>, top_k: usize) -> Vec<IndexHit> {
    let mut seen = std::collections::HashSet::new();
    hits.into_iter().filter(|h| seen.insert(h.payload.page_id)).take(top_k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::test_hit as hit;

    #[test]
    fn best_per_page_keeps_each_pages_first_hit_in_order_up_to_top_k() {
        let hits = vec![hit(1, 10, 0.9), hit(2, 10, 0.8), hit(3, 20, 0.7), hit(4, 10, 0.6), hit(5, 30, 0.5), hit(6, 40, 0.4)];
        let kept = |top_k| best_per_page(hits.clone(), top_k).iter().map(|h| h.id.0.as_u128()).collect::<Vec<_>>();
        assert_eq!(kept(10), [1, 3, 5, 6]);
        assert_eq!(kept(2), [1, 3]);
        assert_eq!(kept(1), [1]);
        assert!(best_per_page(Vec::new(), 5).is_empty());
    }
}
