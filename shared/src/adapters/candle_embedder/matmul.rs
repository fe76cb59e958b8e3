//! The dense layers' products on packed weights ([`kb_kernels`]), as candle tensors.

use candle_core::{Device, Result, Tensor};
pub use kb_kernels::Kernel;

/// A weight matrix packed for this CPU's kernel.
pub struct PackedMatrix(kb_kernels::PackedMatrix);

impl PackedMatrix {
    /// Packs a `[k, n]` f32 tensor for `kernel`.
    ///
    /// # Errors
    /// The tensor is not two-dimensional f32, or the CPU cannot run `kernel`.
    pub fn new(w: &Tensor, kernel: Kernel) -> Result<Self> {
        let (k, n) = w.dims2()?;
        let data: Vec<f32> = w.flatten_all()?.to_vec1()?;
        kb_kernels::PackedMatrix::new(&data, k, n, kernel).map(Self).map_err(candle_core::Error::Msg)
    }

    /// `x · W` for `x` of `[m, k]`: `[m, n]`.
    ///
    /// # Errors
    /// `x` is not `[m, k]` f32.
    pub fn matmul(&self, x: &Tensor) -> Result<Tensor> {
        let (m, k) = x.dims2()?;
        if k != self.0.rows() {
            candle_core::bail!("matmul: {k} input columns for a {}-row weight matrix", self.0.rows());
        }
        let a: Vec<f32> = x.flatten_all()?.to_vec1()?;
        Tensor::from_vec(self.0.product(&a, m), (m, self.0.columns()), &Device::Cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_products_match_candle_and_a_wrong_width_is_refused() {
        let Some(kernel) = Kernel::detect() else {
            eprintln!("NOTICE: no packed kernel on this CPU: the embedder runs candle's product");
            return;
        };
        let (m, k, n) = (13, 384, 100);
        let a = Tensor::from_vec((0..m * k).map(|i| ((i * 7) % 11) as f32 / 11.0 - 0.5).collect::<Vec<f32>>(), (m, k), &Device::Cpu).unwrap();
        let w = Tensor::from_vec((0..k * n).map(|i| ((i * 5) % 13) as f32 / 13.0 - 0.5).collect::<Vec<f32>>(), (k, n), &Device::Cpu).unwrap();
        let want: Vec<f32> = a.matmul(&w).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let packed = PackedMatrix::new(&w, kernel).unwrap();
        let got = packed.matmul(&a).unwrap();
        assert_eq!(got.dims(), &[m, n]);
        let got: Vec<f32> = got.flatten_all().unwrap().to_vec1().unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "at {i}: {g} vs {w}");
        }
        let err = packed.matmul(&a.narrow(1, 0, 9).unwrap().contiguous().unwrap()).unwrap_err().to_string();
        assert!(err.contains("9 input columns for a 384-row weight matrix"), "{err}");
        let empty = packed.matmul(&Tensor::zeros((0, k), candle_core::DType::F32, &Device::Cpu).unwrap()).unwrap();
        assert_eq!(empty.dims(), &[0, n]);
    }
}
