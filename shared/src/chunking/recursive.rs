//! `recursive`: the classic recursive character splitter (the seeds' default). Split on the
//! first separator of `["\n\n", "\n", " ", ""]` present in the text, merge neighbouring
//! pieces up to `chunk_size`, carry `chunk_overlap` over from one chunk to the next, and
//! recurse with the next separator into pieces still too long. Sizes are measured in
//! characters, or in tokens on request. Unlike the classic splitter, it never cuts inside a
//! code block or a table that fits `chunk_size`.

use std::ops::Range;

use super::{blocks, measure, Piece};
use crate::domain::{ChunkingConfig, SizeUnit};
use crate::tokens::TokenCounter;

const SEPARATORS: [&str; 4] = ["\n\n", "\n", " ", ""];

struct Splitter<'a> {
    size: usize,
    overlap: usize,
    unit: SizeUnit,
    tokens: &'a TokenCounter,
    /// Code blocks and tables that fit: never cut inside.
    protected: Vec<Range<usize>>,
}

impl Splitter<'_> {
    fn len(&self, text: &str) -> usize {
        measure(text, self.unit, self.tokens)
    }

    /// Pieces of `text[range]` cut before each occurrence of `sep` (the separator stays at
    /// the start of the following piece); `""` cuts between characters. No cut falls inside
    /// a protected block.
    fn cut(&self, text: &str, start: usize, end: usize, sep: &str) -> Vec<(usize, usize)> {
        let slice = &text[start..end];
        let cuts: Vec<usize> = if sep.is_empty() {
            slice.char_indices().map(|(i, _)| start + i).collect()
        } else {
            slice.match_indices(sep).map(|(i, _)| start + i).collect()
        };
        let mut out = Vec::new();
        let mut last = start;
        for at in cuts {
            if at > last && !blocks::inside(&self.protected, at) {
                out.push((last, at));
                last = at;
            }
        }
        if last < end {
            out.push((last, end));
        }
        out
    }

    fn split(&self, text: &str, start: usize, end: usize, level: usize, out: &mut Vec<(usize, usize)>) {
        let slice = &text[start..end];
        let level = (level..SEPARATORS.len())
            .find(|&l| SEPARATORS[l].is_empty() || slice.contains(SEPARATORS[l]))
            .unwrap_or(SEPARATORS.len() - 1);
        let pieces = self.cut(text, start, end, SEPARATORS[level]);
        let mut good: Vec<(usize, usize)> = Vec::new();
        for (s, e) in pieces {
            if self.len(&text[s..e]) < self.size {
                good.push((s, e));
            } else {
                if !good.is_empty() {
                    self.merge(text, &good, out);
                    good.clear();
                }
                if level + 1 >= SEPARATORS.len() {
                    out.push((s, e));
                } else {
                    self.split(text, s, e, level + 1, out);
                }
            }
        }
        if !good.is_empty() {
            self.merge(text, &good, out);
        }
    }

    /// Merges contiguous pieces into chunks of at most `size`, each starting with up to
    /// `overlap` of the previous chunk's end.
    fn merge(&self, text: &str, pieces: &[(usize, usize)], out: &mut Vec<(usize, usize)>) {
        let mut current: std::collections::VecDeque<(usize, usize, usize)> = std::collections::VecDeque::new();
        let mut total = 0;
        for &(s, e) in pieces {
            let len = self.len(&text[s..e]);
            if total + len > self.size && !current.is_empty() {
                out.push((current.front().expect("non-empty").0, current.back().expect("non-empty").1));
                while total > self.overlap || (total + len > self.size && total > 0) {
                    let (_, _, l) = current.pop_front().expect("total > 0 means pieces remain");
                    total -= l;
                }
            }
            current.push_back((s, e, len));
            total += len;
        }
        if let (Some(first), Some(last)) = (current.front(), current.back()) {
            out.push((first.0, last.1));
        }
    }
}

pub(crate) fn split(body: &str, config: &ChunkingConfig, tokens: &TokenCounter) -> Vec<Piece> {
    split_range(body, 0..body.len(), &blocks::atomic_ranges(body), config, tokens)
}

/// The pieces of `body[range]`; `atomic` are the code blocks and tables of the body.
pub(crate) fn split_range(
    body: &str,
    range: Range<usize>,
    atomic: &[Range<usize>],
    config: &ChunkingConfig,
    tokens: &TokenCounter,
) -> Vec<Piece> {
    let size = config.chunk_size as usize;
    let unit = config.size_unit;
    let splitter = Splitter {
        size,
        overlap: (config.chunk_overlap as usize).min(size.saturating_sub(1)),
        unit,
        tokens,
        protected: atomic
            .iter()
            .filter(|r| r.start < range.end && r.end > range.start && measure(&body[(*r).clone()], unit, tokens) < size)
            .cloned()
            .collect(),
    };
    let mut ranges = Vec::new();
    splitter.split(body, range.start, range.end, 0, &mut ranges);
    ranges
        .into_iter()
        .filter_map(|(s, e)| {
            let raw = &body[s..e];
            let text = raw.trim();
            (!text.is_empty()).then(|| Piece { start: s + (raw.len() - raw.trim_start().len()), text: text.to_owned() })
        })
        .collect()
}
