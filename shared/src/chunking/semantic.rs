//! `semantic`: cut where the meaning changes. The body is read as a sequence of units
//! (sentences of paragraphs and list items; a whole code block or table; a heading), each
//! unit is embedded, and a chunk ends where the cosine distance between neighbouring units
//! is among the largest of the page (above the [`BREAK_PERCENTILE`]th percentile) or at a
//! heading, once the chunk holds at least a quarter of `chunk_size`; it always ends before
//! it would exceed `chunk_size`. `chunk_overlap` does not apply: chunks are cut at topic
//! boundaries, and repeating text across a boundary would blur them.

use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

use super::blocks::{self, BlockKind};
use super::{measure, recursive, Piece};
use crate::domain::ChunkingConfig;
use crate::tokens::TokenCounter;

/// Distances above this percentile of a page's neighbour distances are topic boundaries.
pub const BREAK_PERCENTILE: f32 = 80.0;

/// Sentences shorter than this (in bytes) are joined to the next one: "See below." or a
/// list bullet alone carries no topic of its own.
const MIN_UNIT: usize = 40;

/// A unit of meaning: its byte range in the body and whether it is a heading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unit {
    pub range: Range<usize>,
    pub heading: bool,
}

/// The units of `body`, in order (what gets embedded).
pub(crate) fn units(body: &str) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::new();
    for block in blocks::blocks(body) {
        match block.kind {
            BlockKind::Heading => out.push(Unit { range: block.range, heading: true }),
            BlockKind::Code | BlockKind::Table => out.push(Unit { range: block.range, heading: false }),
            BlockKind::Text => {
                let text = &body[block.range.clone()];
                let mut pending: Option<Range<usize>> = None;
                for (i, sentence) in text.split_sentence_bound_indices() {
                    let start = block.range.start + i;
                    let end = start + sentence.trim_end().len();
                    if end <= start {
                        continue;
                    }
                    let range = pending.take().map_or(start..end, |p| p.start..end);
                    if range.len() < MIN_UNIT {
                        pending = Some(range);
                    } else {
                        out.push(Unit { range, heading: false });
                    }
                }
                if let Some(rest) = pending {
                    out.push(Unit { range: rest, heading: false });
                }
            }
        }
    }
    out
}

/// The pieces of `body` given its `units` and one normalised vector per unit.
pub(crate) fn split(
    body: &str,
    units: &[Unit],
    vectors: &[Vec<f32>],
    config: &ChunkingConfig,
    tokens: &TokenCounter,
) -> Vec<Piece> {
    let size = config.chunk_size as usize;
    let min = size / 4;
    let len = |r: &Range<usize>| measure(&body[r.clone()], config.size_unit, tokens);
    let distances: Vec<f32> = (1..units.len())
        .map(|i| match (vectors.get(i - 1), vectors.get(i)) {
            (Some(a), Some(b)) => 1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>(),
            _ => 0.0,
        })
        .collect();
    let threshold = percentile(&distances, BREAK_PERCENTILE);

    let atomic = blocks::atomic_ranges(body);
    let mut groups: Vec<Range<usize>> = Vec::new();
    let mut current: Option<(Range<usize>, usize)> = None;
    for (i, unit) in units.iter().enumerate() {
        let unit_len = len(&unit.range);
        let Some((range, current_len)) = current.as_mut() else {
            current = Some((unit.range.clone(), unit_len));
            continue;
        };
        let topic_changes = unit.heading || distances.get(i - 1).is_some_and(|d| *d > threshold);
        // Lengths add up (with the text between the units), which avoids measuring the
        // growing chunk again and again.
        let joined = *current_len + len(&(range.end..unit.range.start)) + unit_len;
        if joined > size || (topic_changes && *current_len >= min) {
            groups.push(range.clone());
            current = Some((unit.range.clone(), unit_len));
        } else {
            range.end = unit.range.end;
            *current_len = joined;
        }
    }
    if let Some((range, _)) = current {
        groups.push(range);
    }

    let mut pieces = Vec::new();
    for group in groups {
        if len(&group) <= size {
            pieces.push(Piece { start: group.start, text: body[group].to_owned() });
        } else {
            // A single unit longer than the limit (a long code block or sentence).
            pieces.extend(recursive::split_range(body, group, &atomic, config, tokens));
        }
    }
    pieces
}

/// The `p`th percentile of `values` (nearest rank); infinity when there are none, so an
/// empty page has no topic boundary.
fn percentile(values: &[f32], p: f32) -> f32 {
    if values.is_empty() {
        return f32::INFINITY;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((p / 100.0) * sorted.len() as f32).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles() {
        assert_eq!(percentile(&[], 80.0), f32::INFINITY);
        assert_eq!(percentile(&[0.5], 80.0), 0.5);
        let v: Vec<f32> = (1..=10).map(|i| i as f32 / 10.0).collect();
        assert_eq!(percentile(&v, 80.0), 0.8);
        assert_eq!(percentile(&v, 100.0), 1.0);
    }
}
