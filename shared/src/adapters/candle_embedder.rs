//! Embedder on candle: a BERT-family sentence-transformers model (all-MiniLM-L6-v2 by
//! default; bge-small, e5-small, gte-small load the same way) run on the CPU, with the
//! pooling and normalisation its sentence-transformers config asks for.
//!
//! Throughput matters (it is the slowest stage), so texts are sorted by token length and
//! grouped into forward passes of similar lengths, and the forward pass runs without any
//! padding: the dense layers see all tokens of a group as one matrix and only attention is
//! computed per text (see [`bert`]).

mod bert;

use std::sync::Arc;

use async_trait::async_trait;
use candle_core::Device;

use crate::ports::{EmbedError, Embedder, TextKind};
use crate::tokens::{ModelDir, Pooling};

pub use bert::BertModel;

/// Tokens of one forward pass at most (several texts of similar length share it).
const TOKENS_PER_PASS: usize = 2048;
/// Texts in one forward pass at most.
const TEXTS_PER_PASS: usize = 32;

pub struct CandleEmbedder {
    inner: Arc<Inner>,
}

struct Inner {
    model: BertModel,
    tokenizer: tokenizers::Tokenizer,
    info: ModelDir,
}

impl CandleEmbedder {
    /// Loads the model of a directory (`config.json`, `tokenizer.json`,
    /// `model.safetensors`, and the sentence-transformers files when present).
    ///
    /// # Errors
    /// Files missing or not a BERT-family model.
    pub fn load(info: ModelDir) -> Result<Self, EmbedError> {
        let tokenizer = info.tokenizer(true).map_err(|e| EmbedError::Unavailable(e.to_string()))?;
        let model = BertModel::load(&info.dir, &Device::Cpu).map_err(|e| {
            EmbedError::Unavailable(format!("loading {}: {e}", info.dir.join("model.safetensors").display()))
        })?;
        if model.hidden_size() != info.hidden_size {
            return Err(EmbedError::Unavailable(format!(
                "model weights have {} dimensions, config.json says {}",
                model.hidden_size(),
                info.hidden_size
            )));
        }
        Ok(Self { inner: Arc::new(Inner { model, tokenizer, info }) })
    }

    /// Embeds synchronously (the caller is on a blocking thread).
    ///
    /// # Errors
    /// Tokenization or the forward pass failed.
    pub fn embed_blocking(&self, texts: &[String], kind: TextKind) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed(texts, kind)
    }
}

impl Inner {
    fn embed(&self, texts: &[String], kind: TextKind) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let prefix = match kind {
            TextKind::Query => &self.info.query_prefix,
            TextKind::Document => &self.info.document_prefix,
        };
        let inputs: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        let encodings = self
            .tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(|e| EmbedError::Failed(format!("tokenizing: {e}")))?;
        let ids: Vec<Vec<u32>> = encodings.iter().map(|e| e.get_ids().to_vec()).collect();

        // Longest first, so each pass groups texts of similar length.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut out = vec![Vec::new(); ids.len()];
        let mut start = 0;
        while start < order.len() {
            let mut end = start;
            let mut tokens = 0;
            while end < order.len() && end - start < TEXTS_PER_PASS {
                let n = ids[order[end]].len();
                if end > start && tokens + n > TOKENS_PER_PASS {
                    break;
                }
                tokens += n;
                end += 1;
            }
            let group: Vec<&[u32]> = order[start..end].iter().map(|&i| ids[i].as_slice()).collect();
            let vectors = self
                .model
                .sentence_embeddings(&group, self.info.pooling == Pooling::Cls, self.info.normalize)
                .map_err(|e| EmbedError::Failed(e.to_string()))?;
            for (&i, v) in order[start..end].iter().zip(vectors) {
                out[i] = v;
            }
            start = end;
        }
        Ok(out)
    }
}

#[async_trait]
impl Embedder for CandleEmbedder {
    fn model_id(&self) -> &str {
        &self.inner.info.name
    }

    fn dimension(&self) -> usize {
        self.inner.info.hidden_size
    }

    fn max_tokens(&self) -> usize {
        self.inner.info.max_tokens
    }

    async fn embed(&self, texts: &[String], kind: TextKind) -> Result<Vec<Vec<f32>>, EmbedError> {
        let inner = self.inner.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || inner.embed(&texts, kind))
            .await
            .map_err(|e| EmbedError::Failed(format!("embedding task: {e}")))?
    }
}

#[cfg(test)]
mod tests;
