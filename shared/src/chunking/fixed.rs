//! `fixed`: windows of `chunk_size` tokens (or characters) moving by `chunk_size -
//! chunk_overlap`, regardless of structure.

use super::Piece;
use crate::domain::{ChunkingConfig, SizeUnit};
use crate::tokens::TokenCounter;

pub(crate) fn split(body: &str, config: &ChunkingConfig, tokens: &TokenCounter) -> Vec<Piece> {
    let size = config.chunk_size as usize;
    let step = size - (config.chunk_overlap as usize).min(size - 1);
    // Byte offsets where each unit (token or character) starts and ends.
    let spans: Vec<(usize, usize)> = match config.size_unit {
        SizeUnit::Characters => body.char_indices().map(|(i, c)| (i, i + c.len_utf8())).collect(),
        SizeUnit::Tokens => match tokens.tokenizer().encode(body, false) {
            Ok(enc) => enc.get_offsets().iter().copied().filter(|(s, e)| e > s).collect(),
            Err(_) => return Vec::new(),
        },
    };
    let mut pieces = Vec::new();
    let mut first = 0;
    while first < spans.len() {
        let last = (first + size).min(spans.len()) - 1;
        let (start, end) = (spans[first].0, spans[last].1);
        let text = body[start..end].trim();
        if !text.is_empty() {
            let lead = body[start..end].len() - body[start..end].trim_start().len();
            pieces.push(Piece { start: start + lead, text: text.to_owned() });
        }
        if last + 1 == spans.len() {
            break;
        }
        first += step;
    }
    pieces
}
