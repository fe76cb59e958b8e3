use std::collections::HashMap;

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

/// The rank constant of hybrid search's reciprocal-rank fusion.
pub const RRF_K: f32 = 20.0;
/// How much more a rank in the dense ranking counts than the same rank in the keyword one.
pub const RRF_DENSE_WEIGHT: f32 = 4.0;

/// Fuses a dense and a keyword ranking of chunks (ids, best first) by weighted reciprocal
/// rank: a chunk scores `RRF_DENSE_WEIGHT / (RRF_K + rank)` for its rank (1-based) in the
/// dense ranking plus `1 / (RRF_K + rank)` for its rank in the keyword one. With
/// `dense_only` (a thresholded search: the floor applies to the dense ranking) a chunk the
/// keywords alone found is left out. The `top_k` best with their fused scores, best first.
/// Dense leads and the keywords decide between chunks the model ranks alike (see "Retrieval
/// quality" in README.md for how the constants were chosen).
#[must_use]
pub fn fuse_hybrid(dense: &[ChunkId], keywords: &[ChunkId], dense_only: bool, top_k: usize) -> Vec<(ChunkId, f32)> {
    let mut fused: Vec<(ChunkId, f32)> = Vec::with_capacity(dense.len() + keywords.len());
    let mut at: HashMap<ChunkId, usize> = HashMap::with_capacity(fused.capacity());
    for (list, weight, adds) in [(dense, RRF_DENSE_WEIGHT, true), (keywords, 1.0, !dense_only)] {
        for (rank, &id) in list.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let score = weight / (RRF_K + rank as f32 + 1.0);
            match at.get(&id) {
                Some(&i) => fused[i].1 += score,
                None if !adds => {}
                None => {
                    at.insert(id, fused.len());
                    fused.push((id, score));
                }
            }
        }
    }
    fused.sort_by(|a, b| b.1.total_cmp(&a.1));
    fused.truncate(top_k);
    fused
}

/// A hybrid search run as a dense and a keyword search of `index`, each `candidate_depth`
/// deep, fused by [`fuse_hybrid`]. With a `score_threshold` (a floor on the cosine
/// similarity) only chunks that clear it in the dense ranking are kept, so a keyword-only
/// match does not slip past it.
///
/// # Errors
/// The index is unreachable.
pub async fn hybrid_search(index: &dyn VectorIndex, query: &IndexQuery) -> Result<Vec<IndexHit>, StoreError> {
    let depth = candidate_depth(query.top_k.max(1));
    let dense = index.search(&IndexQuery { mode: SearchMode::Dense, top_k: depth, ..query.clone() }).await?;
    let keywords = index.search(&IndexQuery { mode: SearchMode::Sparse, top_k: depth, ..query.clone() }).await?;
    let ids = |hits: &[IndexHit]| hits.iter().map(|h| h.id).collect::<Vec<_>>();
    let fused = fuse_hybrid(&ids(&dense), &ids(&keywords), query.score_threshold.is_some(), query.top_k.max(1));
    Ok(fused_hits(fused, keywords.into_iter().chain(dense).map(|h| (h.id, h.payload)).collect()))
}

/// The hits of a fusion ([`fuse_hybrid`]): each kept chunk with its fused score and payload,
/// in the fused order; a chunk without a payload in `payloads` is left out.
#[must_use]
pub fn fused_hits(fused: Vec<(ChunkId, f32)>, mut payloads: HashMap<ChunkId, ChunkPayload>) -> Vec<IndexHit> {
    fused
        .into_iter()
        .filter_map(|(id, score)| payloads.remove(&id).map(|payload| IndexHit { id, score, payload }))
        .collect()
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

/// A hit of chunk `chunk` on page `page` (at `https://example.com/{page}`), for tests.
#[cfg(test)]
pub(crate) fn test_hit(chunk: u128, page: u128, score: f32) -> IndexHit {
    use uuid::Uuid;
    let payload = ChunkPayload {
        kb_id: KbId(Uuid::nil()),
        source_id: SourceId(Uuid::nil()),
        page_id: PageId(Uuid::from_u128(page)),
        url: format!("https://example.com/{page}"),
        title: None,
        heading_path: Vec::new(),
        anchor: None,
        text: String::new(),
        index: 0,
        start: 0,
        end: 0,
        token_count: 0,
    };
    IndexHit { id: ChunkId(Uuid::from_u128(chunk)), score, payload }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(ns: &[u128]) -> Vec<ChunkId> {
        ns.iter().map(|&n| ChunkId(uuid::Uuid::from_u128(n))).collect()
    }

    fn order(fused: &[(ChunkId, f32)]) -> Vec<u128> {
        fused.iter().map(|(id, _)| id.0.as_u128()).collect()
    }

    #[test]
    fn fusion_follows_dense_and_lets_keywords_break_near_ties() {
        // 3 is third in the dense ranking and first in the keyword one: it overtakes 1 and 2;
        // 4, found by keywords alone, stays behind every dense match.
        let fused = fuse_hybrid(&ids(&[1, 2, 3]), &ids(&[3, 4]), false, 10);
        assert_eq!(order(&fused), [3, 1, 2, 4]);
        let want = RRF_DENSE_WEIGHT / (RRF_K + 3.0) + 1.0 / (RRF_K + 1.0);
        assert!((fused[0].1 - want).abs() < 1e-6, "{} != {want}", fused[0].1);
        // The keywords' first does not outrank the dense tenth.
        let dense: Vec<u128> = (1..=10).collect();
        let fused = fuse_hybrid(&ids(&dense), &ids(&[99]), false, 11);
        assert_eq!(order(&fused).last(), Some(&99));
        assert_eq!(order(&fuse_hybrid(&ids(&dense), &ids(&[99]), false, 3)), [1, 2, 3], "top_k kept");
        assert!(fuse_hybrid(&[], &[], false, 5).is_empty());
        assert_eq!(order(&fuse_hybrid(&[], &ids(&[7, 8]), false, 5)), [7, 8], "keywords alone when dense finds nothing");
    }

    #[test]
    fn thresholded_fusion_keeps_only_what_the_dense_ranking_found() {
        // 4 and 5 are keyword-only matches: left out; 3's keyword rank still counts.
        let fused = fuse_hybrid(&ids(&[1, 2, 3]), &ids(&[4, 3, 5]), true, 10);
        assert_eq!(order(&fused), [3, 1, 2]);
        assert!(fuse_hybrid(&[], &ids(&[7, 8]), true, 5).is_empty());
    }
}
