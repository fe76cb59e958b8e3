//! BERT encoder forward pass without padding. The token rows of every text in a pass are
//! stacked into one `[tokens, hidden]` matrix for the embeddings, the projections and the
//! feed-forward layers (the bulk of the work: a few large matrix products on candle); the
//! attention is computed per text on its own rows, so there is no attention mask and no
//! padded position. Element-wise work runs in fused kernels ([`super::kernels`]).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Result, Tensor};
use serde::Deserialize;

use super::kernels::{layer_norm_row, AddLayerNorm, BiasAdd, BiasGelu, ScaledSoftmax};

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

struct Layer {
    qkv: Linear,
    attention_out: Tensor,
    attention_norm: AddLayerNorm,
    intermediate: Linear,
    output: Tensor,
    output_norm: AddLayerNorm,
}

/// A loaded BERT-family encoder.
pub struct BertModel {
    word_embeddings: Vec<f32>,
    position_embeddings: Vec<f32>,
    max_positions: usize,
    token_type_row: Vec<f32>,
    embeddings_gamma: Vec<f32>,
    embeddings_beta: Vec<f32>,
    eps: f32,
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
    device: Device,
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

    fn vec(&self, name: &str) -> Result<Vec<f32>> {
        self.get(name)?.flatten_all()?.to_vec1()
    }

    fn transposed(&self, name: &str) -> Result<Tensor> {
        self.get(&format!("{name}.weight"))?.t()?.contiguous()
    }

    fn linear(&self, name: &str) -> Result<Linear> {
        Ok(Linear { weight_t: self.transposed(name)?, bias: self.get(&format!("{name}.bias"))? })
    }

    fn add_norm(&self, dense: &str, norm: &str, eps: f64) -> Result<AddLayerNorm> {
        Ok(AddLayerNorm {
            gamma: self.vec(&format!("{norm}.weight"))?,
            beta: self.vec(&format!("{norm}.bias"))?,
            bias: self.vec(&format!("{dense}.bias"))?,
            eps: eps as f32,
        })
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
        if matches!(config.hidden_act.as_deref(), Some(act) if act != "gelu") {
            return Err(candle_core::Error::Msg(format!(
                "unsupported activation {:?} (BERT-family models with exact GELU are supported)",
                config.hidden_act
            )));
        }
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
                attention_out: w.transposed(&format!("{p}.attention.output.dense"))?,
                attention_norm: w.add_norm(&format!("{p}.attention.output.dense"), &format!("{p}.attention.output.LayerNorm"), eps)?,
                intermediate: w.linear(&format!("{p}.intermediate.dense"))?,
                output: w.transposed(&format!("{p}.output.dense"))?,
                output_norm: w.add_norm(&format!("{p}.output.dense"), &format!("{p}.output.LayerNorm"), eps)?,
            });
        }
        let position_embeddings = w.get("embeddings.position_embeddings.weight")?;
        let max_positions = position_embeddings.dims()[0];
        let token_types = w.get("embeddings.token_type_embeddings.weight")?;
        Ok(Self {
            word_embeddings: w.vec("embeddings.word_embeddings.weight")?,
            position_embeddings: position_embeddings.flatten_all()?.to_vec1()?,
            max_positions,
            token_type_row: token_types.narrow(0, 0, 1)?.flatten_all()?.to_vec1()?,
            embeddings_gamma: w.vec("embeddings.LayerNorm.weight")?,
            embeddings_beta: w.vec("embeddings.LayerNorm.bias")?,
            eps: eps as f32,
            layers,
            heads: config.num_attention_heads,
            hidden: config.hidden_size,
            device: device.clone(),
        })
    }

    #[must_use]
    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Word + position + token-type embeddings, layer-normalised: `[tokens, hidden]`.
    fn embed_tokens(&self, texts: &[&[u32]]) -> Result<Tensor> {
        let h = self.hidden;
        let total: usize = texts.iter().map(|t| t.len()).sum();
        let vocab = self.word_embeddings.len() / h;
        let mut x = vec![0f32; total * h];
        let mut rows = x.chunks_exact_mut(h);
        for text in texts {
            if text.len() > self.max_positions {
                candle_core::bail!("{} tokens exceed the model's {} positions", text.len(), self.max_positions);
            }
            for (pos, &id) in text.iter().enumerate() {
                let id = id as usize;
                if id >= vocab {
                    candle_core::bail!("token id {id} outside the vocabulary of {vocab}");
                }
                let row = rows.next().expect("one row per token");
                let word = &self.word_embeddings[id * h..(id + 1) * h];
                let position = &self.position_embeddings[pos * h..(pos + 1) * h];
                for (i, r) in row.iter_mut().enumerate() {
                    *r = word[i] + position[i] + self.token_type_row[i];
                }
                layer_norm_row(row, &self.embeddings_gamma, &self.embeddings_beta, self.eps);
            }
        }
        Tensor::from_vec(x, (total, h), &self.device)
    }

    /// Token vectors of every text, stacked: `[sum of lengths, hidden]`.
    ///
    /// # Errors
    /// A tensor operation failed.
    pub fn forward(&self, texts: &[&[u32]]) -> Result<Tensor> {
        let lens: Vec<usize> = texts.iter().map(|t| t.len()).collect();
        let mut x = self.embed_tokens(texts)?;
        let head_dim = self.hidden / self.heads;
        let scale = 1.0 / (head_dim as f32).sqrt();
        for layer in &self.layers {
            let qkv = x.matmul(&layer.qkv.weight_t)?.apply_op2_no_bwd(&layer.qkv.bias, &BiasAdd)?;
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
                let probs = q.matmul(&k.t()?)?.apply_op1_no_bwd(&ScaledSoftmax(scale))?;
                let context = probs.matmul(&v)?.transpose(0, 1)?.reshape((n, self.hidden))?;
                contexts.push(context);
            }
            let context = Tensor::cat(&contexts, 0)?;
            let attended = context.matmul(&layer.attention_out)?.apply_op2_no_bwd(&x, &layer.attention_norm)?;
            let hidden = attended.matmul(&layer.intermediate.weight_t)?.apply_op2_no_bwd(&layer.intermediate.bias, &BiasGelu)?;
            x = hidden.matmul(&layer.output)?.apply_op2_no_bwd(&attended, &layer.output_norm)?;
        }
        Ok(x)
    }

    /// One vector per text: mean of its token vectors (or its first token's, `cls`),
    /// L2-normalised when `normalize`.
    ///
    /// # Errors
    /// A tensor operation failed.
    pub fn sentence_embeddings(&self, texts: &[&[u32]], cls: bool, normalize: bool) -> Result<Vec<Vec<f32>>> {
        let tokens: Vec<f32> = self.forward(texts)?.flatten_all()?.to_vec1()?;
        let h = self.hidden;
        let mut out = Vec::with_capacity(texts.len());
        let mut offset = 0;
        for t in texts {
            let rows = &tokens[offset * h..(offset + t.len()) * h];
            offset += t.len();
            let mut v = if cls || t.is_empty() {
                rows.get(..h).map_or_else(|| vec![0.0; h], <[f32]>::to_vec)
            } else {
                let mut sum = vec![0f32; h];
                for row in rows.chunks_exact(h) {
                    sum.iter_mut().zip(row).for_each(|(s, r)| *s += r);
                }
                let n = t.len() as f32;
                sum.iter_mut().for_each(|s| *s /= n);
                sum
            };
            if normalize {
                crate::ports::normalize(&mut v);
            }
            out.push(v);
        }
        Ok(out)
    }
}
