//! The embedding model's directory (sentence-transformers or Hugging Face layout) and its
//! tokenizer, which the chunker uses to keep every chunk within the model's token limit.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokenizers::Tokenizer;

/// Why a model directory cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("embedding model at {dir}: {message}")]
pub struct ModelError {
    pub dir: PathBuf,
    pub message: String,
}

/// How token vectors become one sentence vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    Mean,
    Cls,
}

/// What the files of a model directory say about the model.
#[derive(Clone, Debug)]
pub struct ModelDir {
    pub dir: PathBuf,
    pub name: String,
    pub hidden_size: usize,
    /// Longest input in tokens, special tokens included.
    pub max_tokens: usize,
    pub pooling: Pooling,
    pub normalize: bool,
    pub query_prefix: String,
    pub document_prefix: String,
}

#[derive(Deserialize)]
struct HfConfig {
    hidden_size: usize,
    max_position_embeddings: usize,
}

#[derive(Deserialize)]
struct SbertConfig {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

#[derive(Deserialize, Default)]
struct StConfig {
    #[serde(default)]
    prompts: std::collections::HashMap<String, String>,
}

impl ModelDir {
    /// Reads `config.json`, and the sentence-transformers files when present
    /// (`sentence_bert_config.json`, `modules.json`, the pooling config, prompts). A bare
    /// Hugging Face directory gets mean pooling and normalisation.
    ///
    /// # Errors
    /// A required file is missing or unreadable.
    pub fn open(dir: &Path) -> Result<Self, ModelError> {
        let err = |message: String| ModelError { dir: dir.to_path_buf(), message };
        for required in ["config.json", "tokenizer.json", "model.safetensors"] {
            if !dir.join(required).is_file() {
                return Err(err(format!(
                    "{required} is missing (set KB_MODEL_DIR to a sentence-transformers model directory, \
                     or run scripts/setup.sh to install the default model)"
                )));
            }
        }
        let read = |name: &str| std::fs::read_to_string(dir.join(name));
        let config: HfConfig = serde_json::from_str(&read("config.json").map_err(|e| err(e.to_string()))?)
            .map_err(|e| err(format!("config.json: {e}")))?;
        let sbert: Option<SbertConfig> =
            read("sentence_bert_config.json").ok().and_then(|s| serde_json::from_str(&s).ok());
        let max_tokens = sbert
            .and_then(|s| s.max_seq_length)
            .unwrap_or(config.max_position_embeddings)
            .min(config.max_position_embeddings);
        let modules: Vec<Module> = read("modules.json").ok().and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
        let normalize = modules.is_empty() || modules.iter().any(|m| m.kind.ends_with("Normalize"));
        let pooling_path = modules
            .iter()
            .find(|m| m.kind.ends_with("Pooling"))
            .map_or_else(|| "1_Pooling".to_owned(), |m| m.path.clone());
        let pooling = read(&format!("{pooling_path}/config.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<PoolingConfig>(&s).ok())
            .map_or(Pooling::Mean, |p| {
                if p.pooling_mode_cls_token && !p.pooling_mode_mean_tokens { Pooling::Cls } else { Pooling::Mean }
            });
        let st: StConfig = read("config_sentence_transformers.json")
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        let prompt = |keys: &[&str]| keys.iter().find_map(|k| st.prompts.get(*k).cloned()).unwrap_or_default();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n != "model")
            .or_else(|| dir.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "model".to_owned());
        Ok(Self {
            dir: dir.to_path_buf(),
            name,
            hidden_size: config.hidden_size,
            max_tokens,
            pooling,
            normalize,
            query_prefix: prompt(&["query"]),
            document_prefix: prompt(&["document", "passage", "corpus"]),
        })
    }

    /// The model's tokenizer with truncation at the model's limit and no padding (the
    /// shipped `tokenizer.json` of some models truncates and pads at 128, which would
    /// silently cut chunks).
    ///
    /// # Errors
    /// `tokenizer.json` cannot be loaded.
    pub fn tokenizer(&self, truncate: bool) -> Result<Tokenizer, ModelError> {
        let err = |message: String| ModelError { dir: self.dir.clone(), message };
        let mut tokenizer =
            Tokenizer::from_file(self.dir.join("tokenizer.json")).map_err(|e| err(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);
        let truncation = truncate.then(|| tokenizers::TruncationParams {
            max_length: self.max_tokens,
            ..Default::default()
        });
        tokenizer.with_truncation(truncation).map_err(|e| err(format!("tokenizer truncation: {e}")))?;
        Ok(tokenizer)
    }
}

/// Counts tokens the way the embedder will see them.
#[derive(Clone)]
pub struct TokenCounter {
    tokenizer: Tokenizer,
    max_tokens: usize,
}

impl TokenCounter {
    /// # Errors
    /// The model directory has no usable tokenizer.
    pub fn open(model: &ModelDir) -> Result<Self, ModelError> {
        Ok(Self { tokenizer: model.tokenizer(false)?, max_tokens: model.max_tokens })
    }

    /// Tokens of `text` with the model's special tokens.
    #[must_use]
    pub fn count(&self, text: &str) -> usize {
        self.tokenizer.encode(text, true).map_or(usize::MAX, |e| e.len())
    }

    /// Longest input of the model, special tokens included.
    #[must_use]
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The tokenizer without truncation (for token-sized splitting).
    #[must_use]
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
}
