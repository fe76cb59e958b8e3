//! Embedder on candle: a BERT-family sentence-transformers model (all-MiniLM-L6-v2 by
//! default; bge-small, e5-small, gte-small load the same way) run on the CPU, with the
//! pooling and normalisation its sentence-transformers config asks for.
//!
//! Throughput matters (it is the slowest stage), so texts are sorted by token length and
//! grouped into forward passes of similar lengths; the passes run side by side, one per
//! core, on the embedder's own thread pool (a lone pass still gets every core: the matrix
//! products fork onto idle workers); and the forward pass runs without any padding: the
//! dense layers see all tokens of a group as one matrix and only attention is computed per
//! text (see [`bert`]), with element-wise work in fused kernels ([`kernels`]).

mod bert;
mod kernels;
mod matmul;

use std::sync::Arc;

use async_trait::async_trait;
use candle_core::Device;

use crate::ports::{EmbedError, Embedder, TextKind};
use crate::settings::EmbedKernel;
use crate::tokens::{ModelDir, Pooling};

pub use bert::BertModel;
use matmul::Kernel;

/// Tokens of one forward pass at most (several texts of similar length share it).
const TOKENS_PER_PASS: usize = 1024;
/// Texts in one forward pass at most.
const TEXTS_PER_PASS: usize = 16;

/// Fixes candle's thread count for the life of the process. candle asks for it on every
/// matrix product and, unless `RAYON_NUM_THREADS` is set, works it out afresh each time from
/// `/proc/cpuinfo`: some forty reads per query embedding, nearly a tenth of its time. This
/// sets the variable to candle's own answer, once, when it is not set already.
///
/// # Safety
/// It changes the process environment: call it before the process starts any other thread.
#[allow(unsafe_code)]
pub unsafe fn fix_thread_count() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let threads = candle_core::utils::get_num_threads();
        // SAFETY: the caller guarantees no other thread exists yet.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    }
}

pub struct CandleEmbedder {
    inner: Arc<Inner>,
}

struct Inner {
    model: BertModel,
    tokenizer: tokenizers::Tokenizer,
    info: ModelDir,
    pool: rayon::ThreadPool,
}

impl CandleEmbedder {
    /// Loads the model of a directory (`config.json`, `tokenizer.json`,
    /// `model.safetensors`, and the sentence-transformers files when present).
    ///
    /// # Errors
    /// Files missing or not a BERT-family model.
    pub fn load(info: ModelDir) -> Result<Self, EmbedError> {
        Self::load_with(info, EmbedKernel::Auto)
    }

    /// [`Self::load`] with the dense layers on `kernel` (`KB_EMBED_KERNEL`).
    ///
    /// # Errors
    /// Files missing, not a BERT-family model, or the CPU cannot run `kernel`.
    pub fn load_with(info: ModelDir, kernel: EmbedKernel) -> Result<Self, EmbedError> {
        let required = |wanted: Kernel, name: &str| {
            if wanted.available() {
                Ok(Some(wanted))
            } else {
                Err(EmbedError::Unavailable(format!(
                    "KB_EMBED_KERNEL={name}: this CPU does not have the instructions (use auto)"
                )))
            }
        };
        let kernel = match kernel {
            EmbedKernel::Auto => Kernel::detect(),
            EmbedKernel::Candle => None,
            EmbedKernel::Avx512 => required(Kernel::Avx512, "avx512")?,
            EmbedKernel::Avx2 => required(Kernel::Avx2, "avx2")?,
        };
        let tokenizer = info.tokenizer(true).map_err(|e| EmbedError::Unavailable(e.to_string()))?;
        let model = BertModel::load_with(&info.dir, &Device::Cpu, kernel).map_err(|e| {
            EmbedError::Unavailable(format!("loading {}: {e}", info.dir.join("model.safetensors").display()))
        })?;
        if model.hidden_size() != info.hidden_size {
            return Err(EmbedError::Unavailable(format!(
                "model weights have {} dimensions, config.json says {}",
                model.hidden_size(),
                info.hidden_size
            )));
        }
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("embed-{i}"))
            .build()
            .map_err(|e| EmbedError::Unavailable(format!("embedding threads: {e}")))?;
        Ok(Self { inner: Arc::new(Inner { model, tokenizer, info, pool }) })
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
        let mut groups: Vec<Vec<usize>> = Vec::new();
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
            groups.push(order[start..end].to_vec());
            start = end;
        }
        let vectors: Vec<candle_core::Result<Vec<Vec<f32>>>> = self.pool.install(|| {
            use rayon::prelude::*;
            groups
                .par_iter()
                .map(|group| {
                    let texts: Vec<&[u32]> = group.iter().map(|&i| ids[i].as_slice()).collect();
                    self.model.sentence_embeddings(&texts, self.info.pooling == Pooling::Cls, self.info.normalize)
                })
                .collect()
        });
        let mut out = vec![Vec::new(); ids.len()];
        for (group, result) in groups.iter().zip(vectors) {
            let result = result.map_err(|e| EmbedError::Failed(e.to_string()))?;
            for (&i, v) in group.iter().zip(result) {
                out[i] = v;
            }
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
