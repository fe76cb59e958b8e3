//! Pages (one per crawled URL, uploaded file or pasted text) and the chunks cut from them.

use serde::{Deserialize, Serialize};

use super::{ChunkId, KbId, PageId, SourceId};

/// Where a page is in the pipeline. `indexed`, `failed` and `skipped` are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageStatus {
    /// Admitted into the crawl; waiting to be fetched.
    Queued,
    /// Markdown stored; waiting to be chunked.
    Fetched,
    /// Chunks stored; waiting for their embeddings.
    Chunked,
    Indexed,
    Failed,
    Skipped,
}

impl PageStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PageStatus::Queued => "queued",
            PageStatus::Fetched => "fetched",
            PageStatus::Chunked => "chunked",
            PageStatus::Indexed => "indexed",
            PageStatus::Failed => "failed",
            PageStatus::Skipped => "skipped",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => PageStatus::Queued,
            "fetched" => PageStatus::Fetched,
            "chunked" => PageStatus::Chunked,
            "indexed" => PageStatus::Indexed,
            "failed" => PageStatus::Failed,
            "skipped" => PageStatus::Skipped,
            _ => return None,
        })
    }

    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, PageStatus::Indexed | PageStatus::Failed | PageStatus::Skipped)
    }
}

/// A page as stored in the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub id: PageId,
    pub kb_id: KbId,
    pub source_id: SourceId,
    pub url: String,
    pub depth: u32,
    pub status: PageStatus,
    pub reason: Option<String>,
    pub title: Option<String>,
    pub chunk_count: u32,
    pub content_hash: Option<String>,
    /// In-scope links found on the page (canonical URLs), kept so a page reached later by a
    /// shorter path can be re-expanded without fetching it again.
    pub links: Vec<String>,
}

/// A page about to be admitted into the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPage {
    pub id: PageId,
    pub source_id: SourceId,
    pub url: String,
    pub depth: u32,
}

impl NewPage {
    #[must_use]
    pub fn new(kb: KbId, source_id: SourceId, url: String, depth: u32) -> Self {
        Self { id: PageId::derive(kb, &url), source_id, url, depth }
    }
}

/// What a page's processing produced, written with its status change.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageUpdate {
    pub reason: Option<String>,
    pub title: Option<String>,
    pub chunk_count: Option<u32>,
    pub content_hash: Option<String>,
    pub links: Option<Vec<String>>,
}

/// The blob-store key of a page's markdown.
#[must_use]
pub fn page_markdown_key(kb: KbId, page: PageId) -> String {
    format!("kb/{kb}/pages/{page}.md")
}

/// The blob-store prefix holding everything of a knowledge base.
#[must_use]
pub fn kb_blob_prefix(kb: KbId) -> String {
    format!("kb/{kb}/")
}

/// A chunk of a page, with what a citation needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub id: ChunkId,
    pub kb_id: KbId,
    pub page_id: PageId,
    pub source_id: SourceId,
    pub index: u32,
    pub text: String,
    pub url: String,
    pub title: Option<String>,
    pub heading_path: Vec<String>,
    /// Fragment id of the nearest heading, so a citation can link `url#anchor`.
    pub anchor: Option<String>,
    /// Byte offsets of the chunk in the page's markdown.
    pub start: u32,
    pub end: u32,
    pub token_count: u32,
}

impl Chunk {
    /// The text given to the embedder and the keyword index: the chunk prefixed with its
    /// title and heading path when `with_header` (so a chunk that says "it" still knows
    /// what it is about).
    #[must_use]
    pub fn embedding_text(&self, with_header: bool) -> String {
        if !with_header {
            return self.text.clone();
        }
        let mut header: Vec<&str> = Vec::new();
        if let Some(t) = self.title.as_deref().filter(|t| !t.is_empty()) {
            header.push(t);
        }
        for h in &self.heading_path {
            if header.last() != Some(&h.as_str()) {
                header.push(h);
            }
        }
        if header.is_empty() {
            self.text.clone()
        } else {
            format!("{}\n\n{}", header.join(" > "), self.text)
        }
    }
}
