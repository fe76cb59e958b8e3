//! `recursive`: split on the largest markdown structure that fits (sections, blocks,
//! paragraphs, lines, sentences, words), with overlap between neighbours.

use text_splitter::{ChunkConfig, MarkdownSplitter};

use super::Piece;
use crate::domain::{ChunkingConfig, SizeUnit};
use crate::tokens::TokenCounter;

pub(crate) fn split(body: &str, config: &ChunkingConfig, tokens: &TokenCounter) -> Vec<Piece> {
    let size = config.chunk_size as usize;
    let overlap = (config.chunk_overlap as usize).min(size.saturating_sub(1));
    let collect = |iter: &mut dyn Iterator<Item = (usize, &str)>| {
        iter.map(|(start, text)| Piece { start, text: text.to_owned() }).collect::<Vec<_>>()
    };
    match config.size_unit {
        SizeUnit::Characters => {
            let chunk_config = ChunkConfig::new(size).with_overlap(overlap).expect("overlap is below the size");
            collect(&mut MarkdownSplitter::new(chunk_config).chunk_indices(body))
        }
        SizeUnit::Tokens => {
            let chunk_config = ChunkConfig::new(size)
                .with_overlap(overlap)
                .expect("overlap is below the size")
                .with_sizer(tokens.tokenizer().clone());
            collect(&mut MarkdownSplitter::new(chunk_config).chunk_indices(body))
        }
    }
}
