//! Knowledge bases and their sources.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CrawlConfig, KbConfig, KbId, PipelineId, SourceId};

/// Lifecycle of a knowledge base. Moves forward only: `processing` to one final state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KbStatus {
    Processing,
    Ready,
    ReadyWithWarnings,
    Failed,
}

impl KbStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            KbStatus::Processing => "processing",
            KbStatus::Ready => "ready",
            KbStatus::ReadyWithWarnings => "ready_with_warnings",
            KbStatus::Failed => "failed",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "processing" => KbStatus::Processing,
            "ready" => KbStatus::Ready,
            "ready_with_warnings" => KbStatus::ReadyWithWarnings,
            "failed" => KbStatus::Failed,
            _ => return None,
        })
    }

    #[must_use]
    pub fn is_final(self) -> bool {
        self != KbStatus::Processing
    }
}

/// A knowledge base as stored in the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeBase {
    pub id: KbId,
    pub workspace_id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: KbStatus,
    pub config: KbConfig,
    pub pipeline_id: PipelineId,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What a source is. Text content and uploaded files travel through the blob store; the
/// catalog keeps only their description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceSpec {
    Web {
        url: String,
        #[serde(default)]
        crawl: CrawlConfig,
    },
    Text {
        title: String,
        /// Present in drafts; moved to the blob store when the KB is created.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        content: String,
    },
    File {
        filename: String,
        content_type: String,
        size_bytes: u64,
        /// Where the original upload is kept.
        blob_key: String,
        /// Where the extracted markdown is kept.
        markdown_key: String,
    },
}

impl SourceSpec {
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            SourceSpec::Web { .. } => "web",
            SourceSpec::Text { .. } => "text",
            SourceSpec::File { .. } => "file",
        }
    }
}

/// One source of a knowledge base.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub id: SourceId,
    #[serde(flatten)]
    pub spec: SourceSpec,
    pub created_at: DateTime<Utc>,
}
