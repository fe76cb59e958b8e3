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
    /// The text given to the embedder and the keyword index: the chunk with its links
    /// reduced to their text (a URL is noise to both, and costs tokens), prefixed with its
    /// title and heading path when `with_header` (so a chunk that says "it" still knows
    /// what it is about).
    #[must_use]
    pub fn embedding_text(&self, with_header: bool) -> String {
        let text = plain_links(&self.text);
        if !with_header {
            return text;
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
            text
        } else {
            format!("{}\n\n{text}", header.join(" > "))
        }
    }
}

/// Markdown links and images reduced to their text: `[text](url "title")` becomes `text`,
/// `![alt](src)` becomes `alt`; anything that is not a complete link stays as it is.
#[must_use]
pub fn plain_links(markdown: &str) -> String {
    let bytes = markdown.as_bytes();
    let mut out = String::with_capacity(markdown.len());
    let mut i = 0;
    while i < markdown.len() {
        let open = match bytes[i] {
            b'[' => Some(i),
            b'!' if bytes.get(i + 1) == Some(&b'[') => Some(i + 1),
            _ => None,
        };
        if let Some((label, end)) = open.and_then(|o| link_at(markdown, o)) {
            out.push_str(&plain_links(label));
            i = end;
            continue;
        }
        let c = markdown[i..].chars().next().expect("i is on a char boundary");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The label of the link whose `[` is at `open`, and the byte after its `)`.
fn link_at(markdown: &str, open: usize) -> Option<(&str, usize)> {
    let bytes = markdown.as_bytes();
    let mut depth = 0usize;
    let mut close = None;
    for (j, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(j);
                    break;
                }
            }
            b'\n' if bytes.get(j + 1) == Some(&b'\n') => return None,
            _ => {}
        }
    }
    let close = close?;
    if bytes.get(close + 1) != Some(&b'(') {
        return None;
    }
    let mut parens = 0usize;
    for (j, &b) in bytes.iter().enumerate().skip(close + 1) {
        match b {
            b'(' => parens += 1,
            b')' => {
                parens -= 1;
                if parens == 0 {
                    return Some((&markdown[open + 1..close], j + 1));
                }
            }
            b'\n' => return None,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod link_tests {
    use super::plain_links;

    #[test]
    fn links_become_their_text() {
        assert_eq!(
            plain_links("See [the TimeZone setting](http://h/runtime.html#GUC-TIMEZONE \"Chapter 20\") and ![a chart](img.png)."),
            "See the TimeZone setting and a chart."
        );
        assert_eq!(plain_links("[![logo](l.png)](https://h/)"), "logo");
        assert_eq!(plain_links("[a (b)](https://h/x_(y))!"), "a (b)!");
        // Not links: left alone.
        for s in ["a [bracket] here", "[open](no close", "x ] y [ z", "[a]\n(b)", "東京 [ok](u) 日本"] {
            let expected = if s.starts_with("東京") { "東京 ok 日本" } else { s };
            assert_eq!(plain_links(s), expected);
        }
    }
}
