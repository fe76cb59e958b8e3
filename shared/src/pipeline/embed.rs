//! embed-batch: embed chunks with the local model, upsert them into the vector index (the
//! point id is the chunk id), mark them embedded, and complete the pages whose chunks are
//! all indexed.
//!
//! Several messages are embedded together (sorted by length inside the embedder), which is
//! what makes the model fast; each message still succeeds or fails as a whole.
//!
//! With a `neighbor_weight`, a chunk's vector also carries part of the vectors of the chunks
//! just before and after it on its page (embedded with it; a neighbour outside the batch is
//! read from the catalog and embedded too), so a chunk that says "it" or lists options
//! still points at what its page is about.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::domain::{Chunk, KbId, PageId};
use crate::error::StageError;
use crate::messages::EmbedMsg;
use crate::ports::{normalize, ChunkPayload, IndexPoint, StoredChunk, TextKind};

use super::Context;

/// Handles a group of embed messages together; returns one result per message, in order.
pub async fn handle_batch(ctx: &Context, msgs: &[EmbedMsg]) -> Vec<Result<(), StageError>> {
    let mut by_kb: HashMap<KbId, Vec<usize>> = HashMap::new();
    for (i, m) in msgs.iter().enumerate() {
        by_kb.entry(m.kb_id).or_default().push(i);
    }
    let mut results: Vec<Result<(), StageError>> = msgs.iter().map(|_| Ok(())).collect();
    for (kb, indices) in by_kb {
        let group: Vec<&EmbedMsg> = indices.iter().map(|&i| &msgs[i]).collect();
        if let Err(e) = embed_kb(ctx, kb, &group).await {
            let message = e.to_string();
            for i in indices {
                results[i] = Err(match &e {
                    StageError::Transient { retry_after, .. } => {
                        StageError::Transient { message: message.clone(), retry_after: *retry_after }
                    }
                    StageError::Permanent(_) => StageError::permanent(message.clone()),
                });
            }
        }
    }
    results
}

/// Handles one embed message.
///
/// # Errors
/// Transient failures to be retried; permanent ones to be recorded on the pages.
pub async fn handle(ctx: &Context, msg: &EmbedMsg) -> Result<(), StageError> {
    embed_kb(ctx, msg.kb_id, &[msg]).await
}

async fn embed_kb(ctx: &Context, kb_id: KbId, msgs: &[&EmbedMsg]) -> Result<(), StageError> {
    let Some(kb) = ctx.catalog.get_kb(kb_id).await? else { return Ok(()) };
    if kb.status.is_final() {
        return Ok(());
    }
    let ids: Vec<_> = msgs.iter().flat_map(|m| m.chunk_ids.iter().copied()).collect();
    let stored = ctx.catalog.get_chunks(kb_id, &ids).await?;
    let pages: BTreeSet<PageId> = stored.iter().map(|c| c.chunk.page_id).collect();
    let pending: Vec<&StoredChunk> = stored.iter().filter(|c| !c.embedded).collect();
    if !pending.is_empty() {
        let embedder = ctx.embedder()?;
        let headers = kb.config.embedding.contextual_headers;
        let weight = kb.config.embedding.neighbor_weight;
        let neighbours = if weight > 0.0 { missing_neighbours(ctx, kb_id, &pending).await? } else { Vec::new() };
        let mut texts: Vec<String> = pending.iter().map(|c| c.chunk.embedding_text(headers)).collect();
        let own = texts.len();
        texts.extend(neighbours.iter().map(|c| c.embedding_text(headers)));
        let vectors = embedder.embed(&texts, TextKind::Document).await.map_err(|e| StageError::transient(e.to_string()))?;
        texts.truncate(own);
        let keys: Vec<(PageId, u32)> =
            pending.iter().map(|c| &c.chunk).chain(&neighbours).map(|c| (c.page_id, c.index)).collect();
        let vectors = mix_neighbours(&keys, &vectors, own, weight);
        let points = pending
            .iter()
            .zip(texts)
            .zip(vectors)
            .map(|((c, text), vector)| IndexPoint {
                id: c.chunk.id,
                vector,
                keyword_text: text,
                payload: ChunkPayload::from(&c.chunk),
            })
            .collect();
        ctx.index.upsert(kb_id, embedder.dimension(), points).await?;
        let ids: Vec<_> = pending.iter().map(|c| c.chunk.id).collect();
        ctx.catalog.mark_embedded(kb_id, &ids).await?;
    }
    let pages: Vec<PageId> = pages.into_iter().collect();
    ctx.catalog.complete_embedded_pages(kb_id, &pages).await?;
    Ok(())
}

/// The neighbours (index - 1 and index + 1 on the same page) of the `pending` chunks that
/// are not pending themselves: they are embedded with them, for [`mix_neighbours`].
async fn missing_neighbours(ctx: &Context, kb: KbId, pending: &[&StoredChunk]) -> Result<Vec<Chunk>, StageError> {
    let have: HashSet<(PageId, u32)> = pending.iter().map(|c| (c.chunk.page_id, c.chunk.index)).collect();
    let wanted: BTreeSet<(PageId, u32)> = pending
        .iter()
        .flat_map(|c| [c.chunk.index.checked_sub(1), c.chunk.index.checked_add(1)].map(|i| i.map(|i| (c.chunk.page_id, i))))
        .flatten()
        .filter(|key| !have.contains(key))
        .collect();
    let pages: BTreeSet<PageId> = wanted.iter().map(|(page, _)| *page).collect();
    let mut out = Vec::new();
    for page in pages {
        // Most batches hold a whole page: the only neighbour they miss is the one after the
        // last chunk, which does not exist. The page's chunk count (a single row) says so
        // without reading the page's chunks.
        let count = ctx.catalog.get_page(kb, page).await?.map_or(0, |p| p.chunk_count);
        if !wanted.iter().any(|&(p, index)| p == page && index < count) {
            continue;
        }
        let chunks = ctx.catalog.page_chunks(kb, page).await?;
        out.extend(chunks.into_iter().map(|c| c.chunk).filter(|c| wanted.contains(&(c.page_id, c.index))));
    }
    Ok(out)
}

/// The vectors of the first `own` entries of `keys` (page, chunk index), each with `weight`
/// times the vectors of its neighbours (index ± 1 on the same page, wherever they are in
/// `keys`) added, then normalised to unit length. `vectors[i]` is the vector of `keys[i]`.
#[must_use]
pub fn mix_neighbours(keys: &[(PageId, u32)], vectors: &[Vec<f32>], own: usize, weight: f32) -> Vec<Vec<f32>> {
    let at: HashMap<(PageId, u32), usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    (0..own)
        .map(|i| {
            let mut v = vectors[i].clone();
            if weight > 0.0 {
                let (page, index) = keys[i];
                let neighbours = [index.checked_sub(1), index.checked_add(1)];
                for j in neighbours.into_iter().flatten().filter_map(|n| at.get(&(page, n))) {
                    for (x, y) in v.iter_mut().zip(&vectors[*j]) {
                        *x += weight * y;
                    }
                }
                normalize(&mut v);
            }
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn mixes_in_the_neighbours_on_the_same_page_only() {
        let (a, b) = (PageId(uuid::Uuid::from_u128(1)), PageId(uuid::Uuid::from_u128(2)));
        // Chunks 0, 1, 2 of page a (1 and 2 given out of order, 2 only as a neighbour),
        // chunk 3 of page b (its neighbour 2 is on another page).
        let keys = [(a, 0), (a, 2), (b, 3), (a, 1)];
        let vectors = vec![vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0], vec![0.6, 0.8, 0.0]];
        let mixed = mix_neighbours(&keys, &vectors, 3, 0.5);
        assert_eq!(mixed.len(), 3, "only the first `own` chunks get vectors");
        let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-6);
        // 0 has one neighbour (1); 2 has one (1); b's chunk has none and stays as it was.
        assert!(close(&mixed[0], &unit(&[1.0 + 0.3, 0.4, 0.0])), "{:?}", mixed[0]);
        assert!(close(&mixed[1], &unit(&[0.3, 1.0 + 0.4, 0.0])), "{:?}", mixed[1]);
        assert!(close(&mixed[2], &[0.0, 0.0, 1.0]), "{:?}", mixed[2]);
        // A chunk between two neighbours gets both; weight 0 changes nothing.
        let keys = [(a, 1), (a, 0), (a, 2)];
        let mixed = mix_neighbours(&keys, &vectors, 1, 1.0);
        assert!(close(&mixed[0], &unit(&[1.0, 1.0, 1.0])), "{:?}", mixed[0]);
        assert_eq!(mix_neighbours(&keys, &vectors, 3, 0.0), vectors[..3].to_vec());
    }
}
