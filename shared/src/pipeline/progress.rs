//! After every unit of work: refresh the live status and, when nothing is outstanding,
//! move the knowledge base to its final status (a conditional update: exactly one worker
//! wins and finishes the index).

use std::time::Duration;

use chrono::Utc;

use crate::domain::{FailedPage, KbId, KnowledgeBase, PipelineId, PipelineStatus};
use crate::error::StoreError;

use super::Context;

/// How long live pipeline status stays readable after its last update.
pub const STATUS_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Failed pages listed in a status at most.
const FAILED_PAGES_SHOWN: u32 = 100;

fn status_key(pipeline: PipelineId) -> String {
    format!("pipeline:{pipeline}:status")
}

/// Recomputes the status of `kb` from the catalog, finishes the KB when all its pages are
/// final, and stores the status for readers.
///
/// # Errors
/// A store failed.
pub async fn after_work(ctx: &Context, kb_id: KbId) -> Result<Option<PipelineStatus>, StoreError> {
    let Some(mut kb) = ctx.catalog.get_kb(kb_id).await? else { return Ok(None) };
    let stats = ctx.catalog.stats(kb_id).await?;
    if !kb.status.is_final() && stats.pages_outstanding() == 0 {
        let final_status = stats.final_status();
        if ctx.catalog.finish_kb(kb_id, final_status).await? {
            tracing::info!(kb = %kb_id, status = final_status.as_str(), "knowledge base finished");
            ctx.index.finish_kb(kb_id).await?;
        }
        kb = ctx.catalog.get_kb(kb_id).await?.unwrap_or(kb);
    }
    let status = compute(ctx, &kb).await?;
    let body = serde_json::to_vec(&status).expect("status serialises");
    ctx.kv.set(&status_key(kb.pipeline_id), body, Some(STATUS_TTL)).await?;
    Ok(Some(status))
}

/// The status of a KB's pipeline, computed from the catalog.
///
/// # Errors
/// A store failed.
pub async fn compute(ctx: &Context, kb: &KnowledgeBase) -> Result<PipelineStatus, StoreError> {
    let stats = ctx.catalog.stats(kb.id).await?;
    let failed = ctx
        .catalog
        .failed_pages(kb.id, FAILED_PAGES_SHOWN)
        .await?
        .into_iter()
        .map(|p| FailedPage { url: p.url, reason: p.reason.unwrap_or_default() })
        .collect();
    let now = if kb.status.is_final() { kb.finished_at.unwrap_or(kb.updated_at) } else { Utc::now() };
    Ok(PipelineStatus::from_stats(kb.pipeline_id, kb.id, kb.status, &stats, kb.created_at, now, failed))
}

/// The last stored status of a pipeline, falling back to the catalog when it expired.
///
/// # Errors
/// A store failed.
pub async fn read(ctx: &Context, kb: &KnowledgeBase) -> Result<PipelineStatus, StoreError> {
    if let Some(bytes) = ctx.kv.get(&status_key(kb.pipeline_id)).await? {
        if let Ok(status) = serde_json::from_slice::<PipelineStatus>(&bytes) {
            if status.kb_status == kb.status {
                return Ok(status);
            }
        }
    }
    compute(ctx, kb).await
}
