//! Fused CPU kernels for the BERT forward pass, as candle custom ops: bias + GELU,
//! bias + residual + layer norm, and scaled softmax. Each is one pass over its rows with no
//! intermediate tensors, and runs on the calling thread (the embedder runs several forward
//! passes side by side, one per core, so per-op threading would only add synchronisation).
//! `exp` and `erf` are branch-free polynomial approximations (relative error ~1e-7) that
//! the compiler vectorises.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape};

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `e^x` (Cephes polynomial, relative error ~1e-7 over the float range).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let k = (x * LOG2E + 0.5).floor();
    let r = x - k * LN2_HI - k * LN2_LO;
    let mut p = 1.987_569_2e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_345e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let y = p * r * r + r + 1.0;
    #[allow(clippy::cast_possible_truncation)]
    let scale = f32::from_bits(((k as i32 + 127) as u32) << 23);
    y * scale
}

/// `erf(x)` (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = ((((1.061_405_4 * t - 1.453_152) * t + 1.421_413_8) * t - 0.284_496_74) * t + 0.254_829_6) * t;
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

/// Exact (erf) GELU.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

fn contiguous<'a>(storage: &'a CpuStorage, layout: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{what}: expected f32");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{what}: expected a contiguous tensor");
    };
    Ok(&data[start..end])
}

fn last_dim(layout: &Layout) -> usize {
    layout.shape().dims().last().copied().unwrap_or(1).max(1)
}

/// `gelu(x + bias)` over rows of `x`.
pub struct BiasGelu;

impl CustomOp2 for BiasGelu {
    fn name(&self) -> &'static str {
        "bias-gelu"
    }

    fn cpu_fwd(&self, x: &CpuStorage, xl: &Layout, b: &CpuStorage, bl: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, bias) = (contiguous(x, xl, "bias-gelu x")?, contiguous(b, bl, "bias-gelu bias")?);
        let n = last_dim(xl);
        if bias.len() != n {
            candle_core::bail!("bias-gelu: bias of {} for rows of {n}", bias.len());
        }
        let mut out = vec![0f32; x.len()];
        for (row, dst) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
            for ((d, &v), &b) in dst.iter_mut().zip(row).zip(bias) {
                *d = gelu(v + b);
            }
        }
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }
}

/// `x + bias` over rows of `x`.
pub struct BiasAdd;

impl CustomOp2 for BiasAdd {
    fn name(&self) -> &'static str {
        "bias-add"
    }

    fn cpu_fwd(&self, x: &CpuStorage, xl: &Layout, b: &CpuStorage, bl: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, bias) = (contiguous(x, xl, "bias-add x")?, contiguous(b, bl, "bias-add bias")?);
        let n = last_dim(xl);
        if bias.len() != n {
            candle_core::bail!("bias-add: bias of {} for rows of {n}", bias.len());
        }
        let mut out = vec![0f32; x.len()];
        for (row, dst) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
            for ((d, &v), &b) in dst.iter_mut().zip(row).zip(bias) {
                *d = v + b;
            }
        }
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }
}

/// `layer_norm(x + bias + residual) * gamma + beta` over rows.
pub struct AddLayerNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub bias: Vec<f32>,
    pub eps: f32,
}

/// Sum with eight independent accumulators (a vectorisable reduction).
#[inline]
fn sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Maximum with eight independent accumulators.
#[inline]
fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for c in chunks {
        for i in 0..8 {
            acc[i] = acc[i].max(c[i]);
        }
    }
    acc.iter().copied().fold(rest, f32::max)
}

/// Normalises one row in place.
#[inline]
pub fn layer_norm_row(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = sum(row) / n;
    let mut centered_sq = 0f32;
    let mut acc = [0f32; 8];
    let chunks = row.chunks_exact(8);
    for v in chunks.remainder() {
        centered_sq += (v - mean) * (v - mean);
    }
    for c in chunks {
        for i in 0..8 {
            acc[i] += (c[i] - mean) * (c[i] - mean);
        }
    }
    let var = (acc.iter().sum::<f32>() + centered_sq) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, &g), &b) in row.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * inv * g + b;
    }
}

impl CustomOp2 for AddLayerNorm {
    fn name(&self) -> &'static str {
        "add-layer-norm"
    }

    fn cpu_fwd(&self, x: &CpuStorage, xl: &Layout, r: &CpuStorage, rl: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, residual) = (contiguous(x, xl, "add-layer-norm x")?, contiguous(r, rl, "add-layer-norm residual")?);
        let n = last_dim(xl);
        if x.len() != residual.len() || self.gamma.len() != n || self.bias.len() != n {
            candle_core::bail!("add-layer-norm: shape mismatch");
        }
        let mut out = vec![0f32; x.len()];
        for ((row, res), dst) in x.chunks_exact(n).zip(residual.chunks_exact(n)).zip(out.chunks_exact_mut(n)) {
            for (((d, &v), &r), &b) in dst.iter_mut().zip(row).zip(res).zip(&self.bias) {
                *d = v + r + b;
            }
            layer_norm_row(dst, &self.gamma, &self.beta, self.eps);
        }
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }
}

/// `softmax(x * scale)` over the last dimension.
pub struct ScaledSoftmax(pub f32);

impl CustomOp1 for ScaledSoftmax {
    fn name(&self) -> &'static str {
        "scaled-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(storage, layout, "scaled-softmax")?;
        let n = last_dim(layout);
        let mut out = vec![0f32; x.len()];
        for (row, dst) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
            let top = max(row);
            for (d, &v) in dst.iter_mut().zip(row) {
                *d = exp((v - top) * self.0);
            }
            let inv = 1.0 / sum(dst);
            dst.iter_mut().for_each(|d| *d *= inv);
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
        a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    fn input(rows: usize, cols: usize) -> Tensor {
        let data: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919 % 1000) as f32 / 100.0) - 5.0).collect();
        Tensor::from_vec(data, (rows, cols), &Device::Cpu).unwrap()
    }

    #[test]
    fn exp_and_erf_are_accurate() {
        for i in -8000..8000 {
            let x = i as f32 / 100.0;
            let want = x.exp();
            assert!(((exp(x) - want) / want).abs() < 3e-7, "exp({x})");
        }
        for i in -600..600 {
            let x = f64::from(i) / 100.0;
            let want = libm_erf(x) as f32;
            assert!((erf(x as f32) - want).abs() < 5e-7, "erf({x}): {} vs {want}", erf(x as f32));
        }
    }

    /// erf in f64: Taylor series below 2.5, continued fraction of erfc above.
    fn libm_erf(x: f64) -> f64 {
        let a = x.abs();
        let y = if a < 2.5 {
            let (mut term, mut sum, mut n) = (a, a, 0.0);
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let mut f = a;
            for k in (1..=80).rev() {
                f = a + f64::from(k) / 2.0 / f;
            }
            1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / f
        };
        y.copysign(x)
    }

    #[test]
    fn fused_ops_match_candle() {
        let x = input(37, 64);
        let bias = Tensor::from_vec((0..64).map(|i| i as f32 / 64.0).collect::<Vec<_>>(), 64, &Device::Cpu).unwrap();
        let want = x.broadcast_add(&bias).unwrap().gelu_erf().unwrap();
        assert!(max_diff(&x.apply_op2_no_bwd(&bias, &BiasGelu).unwrap(), &want) < 1e-5);
        let want = x.broadcast_add(&bias).unwrap();
        assert!(max_diff(&x.apply_op2_no_bwd(&bias, &BiasAdd).unwrap(), &want) < 1e-6);

        let residual = input(37, 64).affine(0.5, 1.0).unwrap();
        let gamma: Vec<f32> = (0..64).map(|i| 1.0 + i as f32 / 100.0).collect();
        let beta: Vec<f32> = (0..64).map(|i| i as f32 / 1000.0).collect();
        let op = AddLayerNorm { gamma: gamma.clone(), beta: beta.clone(), bias: vec![0.25; 64], eps: 1e-12 };
        let g = Tensor::from_vec(gamma, 64, &Device::Cpu).unwrap();
        let b = Tensor::from_vec(beta, 64, &Device::Cpu).unwrap();
        let sum = (x.add(&residual).unwrap() + 0.25).unwrap();
        let want = candle_nn::ops::layer_norm(&sum, &g, &b, 1e-12).unwrap();
        assert!(max_diff(&x.apply_op2_no_bwd(&residual, &op).unwrap(), &want) < 1e-4);

        let scores = input(12, 50);
        let want = candle_nn::ops::softmax_last_dim(&(scores.clone() * 0.125).unwrap()).unwrap();
        assert!(max_diff(&scores.apply_op1_no_bwd(&ScaledSoftmax(0.125)).unwrap(), &want) < 1e-6);
    }
}
