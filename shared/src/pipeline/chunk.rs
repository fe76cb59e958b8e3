//! chunk: read a page's markdown from the blob store, cut it into chunks (the KB's
//! chunking config), store them in the catalog and enqueue them for embedding.
//!
//! Idempotent: chunk ids are derived from page, index and content, so a second run writes
//! nothing new; a repeated message for a page already chunked re-sends the embed messages
//! of the chunks not yet embedded.

use crate::chunking::{Chunker, PageRef};
use crate::domain::{page_markdown_key, ChunkId, ChunkingConfig, KnowledgeBase, Page, PageStatus, PageUpdate};
use crate::error::StageError;
use crate::messages::{ChunkMsg, EmbedMsg, QueueMessage};
use crate::ports::{Embedder, QueueName, TextKind};

use super::crawl::finish_page;
use super::Context;

/// Chunks per embed message.
pub const EMBED_BATCH: usize = 32;

/// Handles one chunk message.
///
/// # Errors
/// Transient failures to be retried; permanent ones to be recorded on the page.
pub async fn handle(ctx: &Context, msg: &ChunkMsg) -> Result<(), StageError> {
    let Some(kb) = ctx.catalog.get_kb(msg.kb_id).await? else { return Ok(()) };
    if kb.status.is_final() {
        return Ok(());
    }
    let Some(page) = ctx.catalog.get_page(kb.id, msg.page_id).await? else { return Ok(()) };
    match page.status {
        PageStatus::Fetched => chunk_page(ctx, &kb, &page).await,
        PageStatus::Chunked => send_pending(ctx, &page).await,
        _ => Ok(()),
    }
}

async fn chunk_page(ctx: &Context, kb: &KnowledgeBase, page: &Page) -> Result<(), StageError> {
    let key = page_markdown_key(kb.id, page.id);
    let Some(stored) = ctx.blobs.get(&key).await? else {
        return Err(StageError::permanent(format!("markdown missing at {key}")));
    };
    let stored = String::from_utf8(stored.to_vec()).map_err(|_| StageError::permanent("stored markdown is not UTF-8"))?;
    let chunker = ctx.chunker()?.clone();
    let config = kb.config.chunking.clone();
    let headers = kb.config.embedding.contextual_headers;
    let vectors = unit_vectors(ctx.embedder.as_deref(), &chunker, &stored, &config).await?;
    let (kb_id, page_id, source_id, url, title) =
        (kb.id, page.id, page.source_id, page.url.clone(), page.title.clone());
    let chunks = tokio::task::spawn_blocking(move || {
        let page = PageRef { kb_id, page_id, source_id, url: &url, title: title.as_deref() };
        chunker.chunk_document(&stored, page, &config, headers, &vectors)
    })
    .await
    .map_err(|e| StageError::transient(format!("chunking task: {e}")))?;

    if chunks.is_empty() {
        return finish_page(ctx, page, PageStatus::Skipped, "no_content: nothing to index".to_owned()).await;
    }
    let removed = ctx.catalog.put_chunks(kb.id, page.id, &chunks).await?;
    if !removed.is_empty() {
        ctx.index.delete_points(kb.id, &removed).await?;
    }
    let update = PageUpdate { chunk_count: Some(u32::try_from(chunks.len()).unwrap_or(u32::MAX)), ..Default::default() };
    if ctx.catalog.transition_page(kb.id, page.id, &[PageStatus::Fetched], PageStatus::Chunked, &update).await? {
        let ids: Vec<ChunkId> = chunks.iter().map(|c| c.id).collect();
        send_embeds(ctx, page, ids).await?;
    }
    Ok(())
}

/// The vectors the semantic strategy compares (none for the other strategies).
///
/// # Errors
/// Permanent when the strategy is semantic and this process has no embedding model;
/// transient when the model failed.
pub async fn unit_vectors(
    embedder: Option<&dyn Embedder>,
    chunker: &Chunker,
    stored: &str,
    config: &ChunkingConfig,
) -> Result<Vec<Vec<f32>>, StageError> {
    let units = chunker.similarity_units(stored, config);
    if units.is_empty() {
        return Ok(Vec::new());
    }
    let embedder = embedder
        .ok_or_else(|| StageError::permanent("the semantic chunking strategy needs the embedding model in this process"))?;
    embedder.embed(&units, TextKind::Document).await.map_err(|e| StageError::transient(e.to_string()))
}

async fn send_pending(ctx: &Context, page: &Page) -> Result<(), StageError> {
    let pending: Vec<ChunkId> = ctx
        .catalog
        .page_chunks(page.kb_id, page.id)
        .await?
        .into_iter()
        .filter(|c| !c.embedded)
        .map(|c| c.chunk.id)
        .collect();
    send_embeds(ctx, page, pending).await
}

async fn send_embeds(ctx: &Context, page: &Page, ids: Vec<ChunkId>) -> Result<(), StageError> {
    if ids.is_empty() {
        // Every chunk is embedded already: the page only waits for its final transition.
        ctx.catalog.complete_embedded_pages(page.kb_id, &[page.id]).await?;
        return Ok(());
    }
    let bodies = ids.chunks(EMBED_BATCH).map(|b| EmbedMsg::new(page.kb_id, b.to_vec()).encode()).collect();
    ctx.queue.send_batch(QueueName::Embed, bodies).await?;
    Ok(())
}
