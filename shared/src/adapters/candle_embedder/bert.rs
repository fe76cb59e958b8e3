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
use super::matmul::{Kernel, PackedMatrix};

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

/// A dense layer's weight, `[in, out]`: packed for this CPU's kernel, or candle's tensor
/// where there is none (see [`super::matmul`]).
enum Weight {
    Packed(PackedMatrix),
    Tensor(Tensor),
}

impl Weight {
    fn new(transposed: Tensor, kernel: Option<Kernel>) -> Result<Self> {
        Ok(match kernel {
            Some(kernel) => Self::Packed(PackedMatrix::new(&transposed, kernel)?),
            None => Self::Tensor(transposed),
        })
    }

    /// `x · W`.
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Packed(packed) => packed.matmul(x),
            Self::Tensor(w) => x.matmul(w),
        }
    }
}

struct Linear {
    weight: Weight,
    bias: Tensor,
}

struct Layer {
    qkv: Linear,
    attention_out: Weight,
    attention_norm: AddLayerNorm,
    intermediate: Linear,
    output: Weight,
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

    /// A dense layer's transposed weight and its bias.
    fn linear(&self, name: &str) -> Result<(Tensor, Tensor)> {
        Ok((self.transposed(name)?, self.get(&format!("{name}.bias"))?))
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
    /// Loads `config.json` and `model.safetensors` of a model directory, the dense layers'
    /// products on `kernel` (candle's for `None`; [`Kernel::detect`] picks this CPU's best).
    ///
    /// # Errors
    /// Files missing, weights not of a BERT encoder, or the CPU cannot run `kernel`.
    pub fn load_with(dir: &Path, device: &Device, kernel: Option<Kernel>) -> Result<Self> {
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
                weight: Weight::new(Tensor::cat(&[&q.0, &k.0, &v.0], 1)?.contiguous()?, kernel)?,
                bias: Tensor::cat(&[&q.1, &k.1, &v.1], 0)?,
            };
            let (intermediate, intermediate_bias) = w.linear(&format!("{p}.intermediate.dense"))?;
            layers.push(Layer {
                qkv,
                attention_out: Weight::new(w.transposed(&format!("{p}.attention.output.dense"))?, kernel)?,
                attention_norm: w.add_norm(&format!("{p}.attention.output.dense"), &format!("{p}.attention.output.LayerNorm"), eps)?,
                intermediate: Linear { weight: Weight::new(intermediate, kernel)?, bias: intermediate_bias },
                output: Weight::new(w.transposed(&format!("{p}.output.dense"))?, kernel)?,
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
            let qkv = layer.qkv.weight.apply(&x)?.apply_op2_no_bwd(&layer.qkv.bias, &BiasAdd)?;
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
            let attended = layer.attention_out.apply(&context)?.apply_op2_no_bwd(&x, &layer.attention_norm)?;
            let hidden = layer.intermediate.weight.apply(&attended)?.apply_op2_no_bwd(&layer.intermediate.bias, &BiasGelu)?;
            x = layer.output.apply(&hidden)?.apply_op2_no_bwd(&attended, &layer.output_norm)?;
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
