//! The pipeline status a user sees while a knowledge base is built.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{KbId, KbStatus, PipelineId};

/// Counts of a knowledge base's pages and chunks, read from the catalog.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbStats {
    pub pages_queued: u64,
    pub pages_fetched: u64,
    pub pages_chunked: u64,
    pub pages_indexed: u64,
    pub pages_failed: u64,
    pub pages_skipped: u64,
    pub chunks: u64,
    pub chunks_embedded: u64,
}

impl KbStats {
    #[must_use]
    pub fn pages_total(&self) -> u64 {
        self.pages_queued
            + self.pages_fetched
            + self.pages_chunked
            + self.pages_indexed
            + self.pages_failed
            + self.pages_skipped
    }

    /// Pages not yet in a final state.
    #[must_use]
    pub fn pages_outstanding(&self) -> u64 {
        self.pages_queued + self.pages_fetched + self.pages_chunked
    }

    /// Pages whose content was fetched (or read) successfully.
    #[must_use]
    pub fn pages_scraped(&self) -> u64 {
        self.pages_fetched + self.pages_chunked + self.pages_indexed
    }

    /// The final status these counts call for, once nothing is outstanding.
    #[must_use]
    pub fn final_status(&self) -> KbStatus {
        if self.pages_indexed == 0 {
            KbStatus::Failed
        } else if self.pages_failed > 0 {
            KbStatus::ReadyWithWarnings
        } else {
            KbStatus::Ready
        }
    }
}

/// Run state of a pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    Completed,
    Failed,
}

/// The stage most of the remaining work is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Crawling,
    Chunking,
    Embedding,
    Done,
}

/// The counters of the status model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineStats {
    pub pages_discovered: u64,
    pub pages_scraped: u64,
    pub pages_failed: u64,
    pub pages_skipped: u64,
    pub chunks_created: u64,
    pub embeddings_generated: u64,
    pub embeddings_remaining: u64,
    pub vectors_indexed: u64,
}

/// A page that failed, with why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedPage {
    pub url: String,
    pub reason: String,
}

/// `GET /api/v1/pipelines/{id}/status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineStatus {
    pub pipeline_id: PipelineId,
    pub kb_id: KbId,
    pub status: RunState,
    pub kb_status: KbStatus,
    pub current_stage: Stage,
    pub progress_percentage: f64,
    pub stats: PipelineStats,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub estimated_completion: Option<DateTime<Utc>>,
    pub failed_pages: Vec<FailedPage>,
}

impl PipelineStatus {
    /// The status these catalog counts describe.
    #[must_use]
    pub fn from_stats(
        pipeline_id: PipelineId,
        kb_id: KbId,
        kb_status: KbStatus,
        stats: &KbStats,
        started_at: DateTime<Utc>,
        now: DateTime<Utc>,
        failed_pages: Vec<FailedPage>,
    ) -> Self {
        let pipeline_stats = PipelineStats {
            pages_discovered: stats.pages_total(),
            pages_scraped: stats.pages_scraped(),
            pages_failed: stats.pages_failed,
            pages_skipped: stats.pages_skipped,
            chunks_created: stats.chunks,
            embeddings_generated: stats.chunks_embedded,
            embeddings_remaining: stats.chunks - stats.chunks_embedded.min(stats.chunks),
            vectors_indexed: stats.chunks_embedded,
        };
        let (status, stage) = match kb_status {
            KbStatus::Processing if stats.pages_total() == 0 => (RunState::Queued, Stage::Crawling),
            KbStatus::Processing => {
                let stage = if stats.pages_queued > 0 {
                    Stage::Crawling
                } else if stats.pages_fetched > 0 {
                    Stage::Chunking
                } else {
                    Stage::Embedding
                };
                (RunState::Running, stage)
            }
            KbStatus::Failed => (RunState::Failed, Stage::Done),
            KbStatus::Ready | KbStatus::ReadyWithWarnings => (RunState::Completed, Stage::Done),
        };
        // Each page goes through three steps (fetch, chunk, embed); a final page counts all three.
        let total = stats.pages_total().max(1) as f64;
        let done = (stats.pages_indexed + stats.pages_failed + stats.pages_skipped) as f64 * 3.0
            + stats.pages_chunked as f64 * 2.0
            + stats.pages_fetched as f64;
        let mut progress = if kb_status.is_final() { 100.0 } else { (done / (total * 3.0) * 100.0).min(99.0) };
        progress = (progress * 10.0).round() / 10.0;
        let estimated_completion = if kb_status.is_final() {
            None
        } else if progress > 0.0 {
            let elapsed = (now - started_at).num_milliseconds().max(0) as f64;
            let remaining = elapsed * (100.0 - progress) / progress;
            Some(now + chrono::Duration::milliseconds(remaining as i64))
        } else {
            None
        };
        Self {
            pipeline_id,
            kb_id,
            status,
            kb_status,
            current_stage: stage,
            progress_percentage: progress,
            stats: pipeline_stats,
            started_at,
            updated_at: now,
            estimated_completion,
            failed_pages,
        }
    }
}
