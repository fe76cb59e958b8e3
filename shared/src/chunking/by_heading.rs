//! `by_heading`: one chunk per heading section. A section smaller than a quarter of
//! `chunk_size` is merged with the sections after it (while the whole fits), a section
//! longer than `chunk_size` is cut by the recursive splitter inside its own bounds, so no
//! chunk spans two sections unless one of them was too small to stand alone. Every chunk
//! keeps its section's heading path (and, with contextual headers, embeds it).

use std::ops::Range;

use super::{blocks, measure, recursive, Outline, Piece};
use crate::domain::ChunkingConfig;
use crate::tokens::TokenCounter;

pub(crate) fn split(body: &str, outline: &Outline, config: &ChunkingConfig, tokens: &TokenCounter) -> Vec<Piece> {
    let size = config.chunk_size as usize;
    let small = size / 4;
    let len = |r: &Range<usize>| measure(&body[r.clone()], config.size_unit, tokens);

    let mut starts: Vec<usize> = outline.sections().iter().map(|s| s.start).collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    starts.push(body.len());
    let sections = starts.windows(2).map(|w| w[0]..w[1]).filter(|r| !body[r.clone()].trim().is_empty());

    // Small sections join the sections that follow them.
    let mut groups: Vec<Range<usize>> = Vec::new();
    for section in sections {
        match groups.last_mut() {
            Some(last) if len(last) < small && len(&(last.start..section.end)) <= size => last.end = section.end,
            _ => groups.push(section),
        }
    }
    // A small last section joins the one before it.
    if groups.len() >= 2 {
        let n = groups.len();
        if len(&groups[n - 1]) < small && len(&(groups[n - 2].start..groups[n - 1].end)) <= size {
            groups[n - 2].end = groups[n - 1].end;
            groups.pop();
        }
    }

    let atomic = blocks::atomic_ranges(body);
    let mut pieces = Vec::new();
    for group in groups {
        if len(&group) <= size {
            let raw = &body[group.clone()];
            let lead = raw.len() - raw.trim_start().len();
            pieces.push(Piece { start: group.start + lead, text: raw.trim().to_owned() });
        } else {
            pieces.extend(recursive::split_range(body, group, &atomic, config, tokens));
        }
    }
    pieces
}
