//! BERT encoder forward pass without padding. The token rows of every text in a pass are
//! stacked into one `[tokens, hidden]` matrix for the embeddings, the projections and the
//! feed-forward layers (the bulk of the work, as a few large matrix products); attention is
//! computed per text on its own rows, so no attention mask and no padded position exists.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Result, Tensor};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    hidden_size: usize,
    num_attention_heads: usize,
    num_hidden_layers: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default)]
    hidden_act: Option<String>,
}

fn default_eps() -> f64 {
    1e-12
}

struct Linear {
    /// Transposed weight, `[in, out]`, contiguous.
    weight_t: Tensor,
    bias: Tensor,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight_t)?.broadcast_add(&self.bias)
    }
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A loaded BERT-family encoder.
pub struct BertModel {
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    token_type_row: Tensor,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
    exact_gelu: bool,
}

struct Weights {
    tensors: HashMap<String, Tensor>,
    prefix: &'static str,
}

impl Weights {
    fn get(&self, name: &str) -> Result<Tensor> {
        let key = format!("{}{name}", self.prefix);
        let t = self
            .tensors
            .get(&key)
            .or_else(|| {
                // Old checkpoints name LayerNorm parameters gamma / beta.
                let alt = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta");
                self.tensors.get(&alt)
            })
            .ok_or_else(|| candle_core::Error::Msg(format!("weight {key} not found")))?;
        t.to_dtype(DType::F32)
    }

    fn linear(&self, name: &str) -> Result<Linear> {
        Ok(Linear { weight_t: self.get(&format!("{name}.weight"))?.t()?.contiguous()?, bias: self.get(&format!("{name}.bias"))? })
    }

    fn norm(&self, name: &str, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm { weight: self.get(&format!("{name}.weight"))?, bias: self.get(&format!("{name}.bias"))?, eps: eps as f32 })
    }
}

impl BertModel {
    /// Loads `config.json` and `model.safetensors` of a model directory.
    ///
    /// # Errors
    /// Files missing, or weights not of a BERT encoder.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config: Config = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json"))?)
            .map_err(|e| candle_core::Error::Msg(format!("config.json: {e}")))?;
        let data = std::fs::read(dir.join("model.safetensors"))?;
        let tensors = candle_core::safetensors::load_buffer(&data, device)?;
        let prefix = if tensors.contains_key("bert.embeddings.word_embeddings.weight") { "bert." } else { "" };
        let w = Weights { tensors, prefix };
        let eps = config.layer_norm_eps;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let q = w.linear(&format!("{p}.attention.self.query"))?;
            let k = w.linear(&format!("{p}.attention.self.key"))?;
            let v = w.linear(&format!("{p}.attention.self.value"))?;
            let qkv = Linear {
                weight_t: Tensor::cat(&[&q.weight_t, &k.weight_t, &v.weight_t], 1)?.contiguous()?,
                bias: Tensor::cat(&[&q.bias, &k.bias, &v.bias], 0)?,
            };
            layers.push(Layer {
                qkv,
                attention_out: w.linear(&format!("{p}.attention.output.dense"))?,
                attention_norm: w.norm(&format!("{p}.attention.output.LayerNorm"), eps)?,
                intermediate: w.linear(&format!("{p}.intermediate.dense"))?,
                output: w.linear(&format!("{p}.output.dense"))?,
                output_norm: w.norm(&format!("{p}.output.LayerNorm"), eps)?,
            });
        }
        let token_types = w.get("embeddings.token_type_embeddings.weight")?;
        Ok(Self {
            word_embeddings: w.get("embeddings.word_embeddings.weight")?,
            position_embeddings: w.get("embeddings.position_embeddings.weight")?,
            token_type_row: token_types.narrow(0, 0, 1)?,
            embeddings_norm: w.norm("embeddings.LayerNorm", eps)?,
            layers,
            heads: config.num_attention_heads,
            hidden: config.hidden_size,
            exact_gelu: !matches!(config.hidden_act.as_deref(), Some("gelu_new" | "gelu_pytorch_tanh")),
        })
    }

    #[must_use]
    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Token vectors of every text, stacked: `[sum of lengths, hidden]`.
    ///
    /// # Errors
    /// A tensor operation failed.
    pub fn forward(&self, texts: &[&[u32]]) -> Result<Tensor> {
        let device = self.word_embeddings.device();
        let lens: Vec<usize> = texts.iter().map(|t| t.len()).collect();
        let total: usize = lens.iter().sum();
        let ids: Vec<u32> = texts.iter().flat_map(|t| t.iter().copied()).collect();
        let positions: Vec<u32> = lens.iter().flat_map(|&n| 0..n as u32).collect();
        let ids = Tensor::from_vec(ids, total, device)?;
        let positions = Tensor::from_vec(positions, total, device)?;
        let x = self
            .word_embeddings
            .embedding(&ids)?
            .add(&self.position_embeddings.embedding(&positions)?)?
            .broadcast_add(&self.token_type_row)?;
        let mut x = self.embeddings_norm.forward(&x)?;

        let head_dim = self.hidden / self.heads;
        let scale = 1.0 / (head_dim as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?;
            let mut contexts = Vec::with_capacity(lens.len());
            let mut offset = 0;
            for &n in &lens {
                let rows = qkv.narrow(0, offset, n)?;
                offset += n;
                let split = |i: usize| -> Result<Tensor> {
                    rows.narrow(1, i * self.hidden, self.hidden)?
                        .reshape((n, self.heads, head_dim))?
                        .transpose(0, 1)?
                        .contiguous()
                };
                let (q, k, v) = (split(0)?, split(1)?, split(2)?);
                let scores = (q.matmul(&k.t()?)? * scale)?;
                let probs = candle_nn::ops::softmax_last_dim(&scores)?;
                let context = probs.matmul(&v)?.transpose(0, 1)?.reshape((n, self.hidden))?;
                contexts.push(context);
            }
            let context = Tensor::cat(&contexts, 0)?;
            let attended = layer.attention_norm.forward(&layer.attention_out.forward(&context)?.add(&x)?)?;
            let hidden = layer.intermediate.forward(&attended)?;
            let hidden = if self.exact_gelu { hidden.gelu_erf()? } else { hidden.gelu()? };
            x = layer.output_norm.forward(&layer.output.forward(&hidden)?.add(&attended)?)?;
        }
        Ok(x)
    }

    /// One vector per text: mean of its token vectors (or its first token's, `cls`),
    /// L2-normalised when `normalize`.
    ///
    /// # Errors
    /// A tensor operation failed.
    pub fn sentence_embeddings(&self, texts: &[&[u32]], cls: bool, normalize: bool) -> Result<Vec<Vec<f32>>> {
        let tokens = self.forward(texts)?;
        let mut out = Vec::with_capacity(texts.len());
        let mut offset = 0;
        for t in texts {
            let n = t.len();
            let rows = tokens.narrow(0, offset, n)?;
            offset += n;
            let pooled = if cls { rows.narrow(0, 0, 1)?.squeeze(0)? } else { rows.mean(0)? };
            let mut v: Vec<f32> = pooled.to_vec1()?;
            if normalize {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                v.iter_mut().for_each(|x| *x /= norm);
            }
            out.push(v);
        }
        Ok(out)
    }
}
