//! Markdown to chunks. Each strategy cuts the page's markdown into pieces; this module
//! then attaches what a citation needs (URL, title, heading path, anchor, offsets, token
//! count) and guarantees that no chunk, with its contextual header, exceeds the embedding
//! model's token limit (measured with the model's own tokenizer).

mod blocks;
mod by_heading;
mod fixed;
mod outline;
mod recursive;
mod semantic;

use crate::domain::{
    parse_document, plain_links, Chunk, ChunkId, ChunkStrategy, ChunkingConfig, KbId, PageId, SizeUnit, SourceId,
};
use crate::tokens::TokenCounter;

pub use semantic::BREAK_PERCENTILE;

pub use outline::{slugify, Outline};

/// Which page the chunks belong to.
#[derive(Clone, Copy, Debug)]
pub struct PageRef<'a> {
    pub kb_id: KbId,
    pub page_id: PageId,
    pub source_id: SourceId,
    pub url: &'a str,
    pub title: Option<&'a str>,
}

/// A piece of the markdown body: byte range and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub start: usize,
    pub text: String,
}

/// Tokens kept free below the model limit for the special tokens.
const SPECIAL_TOKENS: usize = 2;

/// Cuts pages into chunks.
#[derive(Clone)]
pub struct Chunker {
    tokens: TokenCounter,
}

impl Chunker {
    #[must_use]
    pub fn new(tokens: TokenCounter) -> Self {
        Self { tokens }
    }

    #[must_use]
    pub fn tokens(&self) -> &TokenCounter {
        &self.tokens
    }

    /// The texts the `semantic` strategy compares: embed them (as documents, in order) and
    /// pass the vectors to [`Chunker::chunk_document`]. Empty for the other strategies.
    #[must_use]
    pub fn similarity_units(&self, stored: &str, config: &ChunkingConfig) -> Vec<String> {
        if config.strategy != ChunkStrategy::Semantic {
            return Vec::new();
        }
        let body = &stored[parse_document(stored).1..];
        semantic::units(body).into_iter().map(|u| body[u.range].to_owned()).collect()
    }

    /// The chunks of a stored page document (metadata line + markdown). `unit_vectors` are
    /// the vectors of [`Chunker::similarity_units`] (semantic strategy only; without them
    /// it cuts at headings and at the size limit only).
    #[must_use]
    pub fn chunk_document(
        &self,
        stored: &str,
        page: PageRef<'_>,
        config: &ChunkingConfig,
        contextual_headers: bool,
        unit_vectors: &[Vec<f32>],
    ) -> Vec<Chunk> {
        let (meta, body_start) = parse_document(stored);
        let body = &stored[body_start..];
        let anchors = meta.map(|m| m.anchors).unwrap_or_default();
        let outline = Outline::parse(body, &anchors);
        let pieces = match config.strategy {
            ChunkStrategy::Recursive => recursive::split(body, config, &self.tokens),
            ChunkStrategy::ByHeading => by_heading::split(body, &outline, config, &self.tokens),
            ChunkStrategy::Semantic => semantic::split(body, &semantic::units(body), unit_vectors, config, &self.tokens),
            ChunkStrategy::Fixed => fixed::split(body, config, &self.tokens),
        };

        let mut chunks = Vec::new();
        for piece in pieces {
            let section = outline.at(piece.start);
            let heading_path = section.map(|s| s.path.clone()).unwrap_or_default();
            let header_tokens = if contextual_headers {
                let probe = header_text(page.title, &heading_path);
                if probe.is_empty() { 0 } else { self.tokens.count(&probe).saturating_sub(SPECIAL_TOKENS) + 1 }
            } else {
                0
            };
            let budget = self.tokens.max_tokens().saturating_sub(SPECIAL_TOKENS + header_tokens).max(16);
            for sub in self.fit(piece, budget) {
                if !has_content(&sub.text) {
                    continue;
                }
                let index = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
                let start = body_start + sub.start;
                let end = start + sub.text.len();
                let section = outline.at(sub.start);
                let mut chunk = Chunk {
                    id: ChunkId::derive(page.page_id, index, &sub.text),
                    kb_id: page.kb_id,
                    page_id: page.page_id,
                    source_id: page.source_id,
                    index,
                    text: sub.text,
                    url: page.url.to_owned(),
                    title: page.title.map(str::to_owned),
                    heading_path: section.map(|s| s.path.clone()).unwrap_or_default(),
                    anchor: section.map(|s| s.anchor.clone()),
                    start: u32::try_from(start).unwrap_or(u32::MAX),
                    end: u32::try_from(end).unwrap_or(u32::MAX),
                    token_count: 0,
                };
                chunk.token_count =
                    u32::try_from(self.tokens.count(&chunk.embedding_text(contextual_headers))).unwrap_or(u32::MAX);
                chunks.push(chunk);
            }
        }
        chunks
    }

    /// Splits a piece further (by tokens) until each part fits `budget` tokens.
    fn fit(&self, piece: Piece, budget: usize) -> Vec<Piece> {
        if model_tokens(&piece.text, &self.tokens) <= budget {
            return vec![piece];
        }
        // The splitter measures the markdown with its URLs: its parts are within the budget
        // with room to spare.
        let splitter = text_splitter::MarkdownSplitter::new(
            text_splitter::ChunkConfig::new(budget).with_sizer(self.tokens.tokenizer().clone()),
        );
        splitter
            .chunk_indices(&piece.text)
            .flat_map(|(offset, text)| {
                let sub = Piece { start: piece.start + offset, text: text.to_owned() };
                // A single token sequence the splitter cannot cut (no boundaries at all) is
                // cut by characters as a last resort.
                if model_tokens(&sub.text, &self.tokens) > budget {
                    hard_split(&sub, budget, &self.tokens)
                } else {
                    vec![sub]
                }
            })
            .collect()
    }
}

/// The length of `text` in `unit` (tokens: see [`model_tokens`]).
pub(crate) fn measure(text: &str, unit: SizeUnit, tokens: &TokenCounter) -> usize {
    match unit {
        SizeUnit::Characters => text.chars().count(),
        SizeUnit::Tokens => model_tokens(text, tokens),
    }
}

/// The tokens the model reads of a chunk's markdown: links reduced to their text, as
/// [`Chunk::embedding_text`] gives it, without the special tokens. A link's URL is never
/// embedded, so it must not count: otherwise the same page would split differently under
/// another host name or port (URL digits tokenize to varying lengths).
fn model_tokens(text: &str, tokens: &TokenCounter) -> usize {
    tokens.count(&plain_links(text)).saturating_sub(SPECIAL_TOKENS)
}

/// The header put before a chunk's text when it is embedded (see [`Chunk::embedding_text`]).
fn header_text(title: Option<&str>, heading_path: &[String]) -> String {
    let probe = Chunk {
        id: ChunkId(uuid::Uuid::nil()),
        kb_id: KbId(uuid::Uuid::nil()),
        page_id: PageId(uuid::Uuid::nil()),
        source_id: SourceId(uuid::Uuid::nil()),
        index: 0,
        text: String::new(),
        url: String::new(),
        title: title.map(str::to_owned),
        heading_path: heading_path.to_vec(),
        anchor: None,
        start: 0,
        end: 0,
        token_count: 0,
    };
    probe.embedding_text(true).trim().to_owned()
}

/// Cuts a piece into parts of at most `budget` tokens by halving, on character boundaries.
fn hard_split(piece: &Piece, budget: usize, tokens: &TokenCounter) -> Vec<Piece> {
    if piece.text.len() <= 1 || model_tokens(&piece.text, tokens) <= budget {
        return vec![piece.clone()];
    }
    let mut mid = piece.text.len() / 2;
    while !piece.text.is_char_boundary(mid) {
        mid += 1;
    }
    let left = Piece { start: piece.start, text: piece.text[..mid].to_owned() };
    let right = Piece { start: piece.start + mid, text: piece.text[mid..].to_owned() };
    let mut out = hard_split(&left, budget, tokens);
    out.extend(hard_split(&right, budget, tokens));
    out
}

/// Whether a piece has anything worth indexing (not only punctuation or markup).
fn has_content(text: &str) -> bool {
    text.chars().filter(|c| c.is_alphanumeric()).take(3).count() >= 3
}

#[cfg(test)]
mod tests;
