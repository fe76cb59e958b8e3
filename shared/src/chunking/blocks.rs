//! The top-level blocks of a markdown body with their byte ranges. Code blocks and tables
//! are atomic: no strategy but `fixed` cuts inside one that fits the size limit.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag};

/// What a top-level block is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockKind {
    Heading,
    Code,
    Table,
    /// Paragraphs, lists, quotes, HTML, rules.
    Text,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Block {
    pub range: Range<usize>,
    pub kind: BlockKind,
}

/// The top-level blocks of `markdown`, in order.
pub(crate) fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    for (event, range) in Parser::new_ext(markdown, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                if depth == 0 {
                    let kind = match tag {
                        Tag::Heading { .. } => BlockKind::Heading,
                        Tag::CodeBlock(_) => BlockKind::Code,
                        Tag::Table(_) => BlockKind::Table,
                        _ => BlockKind::Text,
                    };
                    out.push(Block { range: trim_end(markdown, range), kind });
                }
                depth += 1;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Rule | Event::Html(_) | Event::Text(_) if depth == 0 => {
                out.push(Block { range: trim_end(markdown, range), kind: BlockKind::Text });
            }
            _ => {}
        }
    }
    out
}

/// The ranges of the code blocks and tables of `markdown`.
pub(crate) fn atomic_ranges(markdown: &str) -> Vec<Range<usize>> {
    blocks(markdown).into_iter().filter(|b| matches!(b.kind, BlockKind::Code | BlockKind::Table)).map(|b| b.range).collect()
}

/// Whether byte `pos` lies strictly inside one of the sorted, disjoint `ranges` (a cut there
/// would split the block).
pub(crate) fn inside(ranges: &[Range<usize>], pos: usize) -> bool {
    let i = ranges.partition_point(|r| r.start < pos);
    i.checked_sub(1).is_some_and(|i| pos < ranges[i].end)
}

fn trim_end(markdown: &str, range: Range<usize>) -> Range<usize> {
    let end = range.start + markdown[range.clone()].trim_end().len();
    range.start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_ranges() {
        let md = "# Title\n\nSome text.\n\n```rust\nfn main() {\n\n    x();\n}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two\n";
        let b = blocks(md);
        let kinds: Vec<_> = b.iter().map(|b| b.kind).collect();
        assert_eq!(kinds, [BlockKind::Heading, BlockKind::Text, BlockKind::Code, BlockKind::Table, BlockKind::Text]);
        assert_eq!(&md[b[2].range.clone()], "```rust\nfn main() {\n\n    x();\n}\n```");
        assert!(md[b[3].range.clone()].ends_with("| 1 | 2 |"));
        let atomic = atomic_ranges(md);
        assert_eq!(atomic.len(), 2);
        // The blank line inside the code block is not a place to cut.
        let blank = md.find("{\n\n").unwrap() + 2;
        assert!(inside(&atomic, blank));
        assert!(!inside(&atomic, atomic[0].start));
        assert!(!inside(&atomic, 0));
    }
}
