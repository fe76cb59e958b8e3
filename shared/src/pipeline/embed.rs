//! embed-batch: embed chunks with the local model, upsert them into the vector index (the
//! point id is the chunk id), mark them embedded, and complete the pages whose chunks are
//! all indexed.
//!
//! Several messages are embedded together (sorted by length inside the embedder), which is
//! what makes the model fast; each message still succeeds or fails as a whole.

use std::collections::{BTreeSet, HashMap};

use crate::domain::{KbId, PageId};
use crate::error::StageError;
use crate::messages::EmbedMsg;
use crate::ports::{ChunkPayload, IndexPoint, StoredChunk, TextKind};

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
        let texts: Vec<String> = pending.iter().map(|c| c.chunk.embedding_text(headers)).collect();
        let vectors = embedder.embed(&texts, TextKind::Document).await.map_err(|e| StageError::transient(e.to_string()))?;
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
