//! The dense layers' matrix products of the embedder on weights packed once, at load, into
//! panels of 32 columns. A query is a dozen tokens: a general matrix product (candle's
//! `gemm`) packs the whole weight matrix again on every call and computes tiles of 64 rows,
//! so for a few rows it spends most of its time on work it throws away (measured: 8-9 ms of
//! the ~9 ms a query embedding took on a 2-core Xeon, for 250 million multiply-adds). Here
//! each panel streams through once per block of rows, with every row's accumulators in
//! registers: AVX-512 (12 rows by 32 columns) or AVX2 + FMA (6 rows by 16 columns), chosen
//! at run time. A CPU with neither keeps candle's product ([`Kernel::detect`] says which).
//!
//! The panels of a product are shared out over the calling rayon pool's threads, so a lone
//! query uses every core; a batch of documents, whose forward passes already run one per
//! core, keeps each product on its own thread (rayon runs the tasks in place when no worker
//! is idle).
//!
//! A crate of its own so that test builds optimise it (`[profile.dev.package.kb-kernels]`):
//! unoptimised, these kernels are slower than the product they replace.

use rayon::prelude::*;

/// Columns of a panel.
const PANEL: usize = 32;
/// Panels one task computes at least: a panel of a query's product is a few microseconds.
const PANELS_PER_TASK: usize = 4;

/// The multiply-add kernel this CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Avx512,
    Avx2,
}

impl Kernel {
    /// The best kernel of this CPU, or `None` where candle's product is the better one.
    #[must_use]
    pub fn detect() -> Option<Self> {
        Self::available_all().into_iter().next()
    }

    /// Every kernel this CPU can run, the best first.
    #[must_use]
    pub fn available_all() -> Vec<Self> {
        [Self::Avx512, Self::Avx2].into_iter().filter(|k| k.available()).collect()
    }

    /// Whether this CPU can run the kernel.
    #[must_use]
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Self::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
                Self::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}

/// A `[k, n]` weight matrix (input by output) packed as `ceil(n / 32)` panels of `[k, 32]`,
/// the last one padded with zeros.
pub struct PackedMatrix {
    k: usize,
    n: usize,
    panels: Vec<f32>,
    kernel: Kernel,
}

impl PackedMatrix {
    /// Packs the row-major `[k, n]` matrix `w` for `kernel`.
    ///
    /// # Errors
    /// The shape is empty or does not match `w`, or the CPU cannot run `kernel`.
    pub fn new(w: &[f32], k: usize, n: usize, kernel: Kernel) -> Result<Self, String> {
        if !kernel.available() {
            return Err(format!("this CPU cannot run the {kernel:?} kernel"));
        }
        if k == 0 || n == 0 || w.len() != k * n {
            return Err(format!("a {k}x{n} weight matrix of {} values", w.len()));
        }
        let count = n.div_ceil(PANEL);
        let mut panels = vec![0f32; count * k * PANEL];
        for (p, panel) in panels.chunks_exact_mut(k * PANEL).enumerate() {
            let cols = PANEL.min(n - p * PANEL);
            for (row, dst) in panel.chunks_exact_mut(PANEL).enumerate() {
                let src = row * n + p * PANEL;
                dst[..cols].copy_from_slice(&w[src..src + cols]);
            }
        }
        Ok(Self { k, n, panels, kernel })
    }

    /// Rows of the weight matrix (the input width).
    #[must_use]
    pub fn rows(&self) -> usize {
        self.k
    }

    /// Columns of the weight matrix (the output width).
    #[must_use]
    pub fn columns(&self) -> usize {
        self.n
    }

    /// The product of the row-major `[m, k]` matrix `a` by the weights, row-major `[m, n]`.
    ///
    /// # Panics
    /// `a` does not hold `m` rows of `k`.
    #[must_use]
    pub fn product(&self, a: &[f32], m: usize) -> Vec<f32> {
        let k = self.k;
        assert_eq!(a.len(), m * k, "{m} rows of {k}");
        // Panel-major result, [panel][row][32]: each task writes whole panels of it.
        let mut staged = vec![0f32; self.panels.len() / k * m];
        if m > 0 {
            staged
                .par_chunks_mut(m * PANEL)
                .zip(self.panels.par_chunks(k * PANEL))
                .with_min_len(PANELS_PER_TASK)
                .for_each(|(dst, panel)| self.panel_product(a, m, panel, dst));
        }
        let mut out = vec![0f32; m * self.n];
        for (p, block) in staged.chunks_exact(m.max(1) * PANEL).enumerate() {
            let cols = PANEL.min(self.n - p * PANEL);
            for (row, src) in block.chunks_exact(PANEL).enumerate() {
                let at = row * self.n + p * PANEL;
                out[at..at + cols].copy_from_slice(&src[..cols]);
            }
        }
        out
    }

    /// One panel: `dst` (`[m, 32]`) = `a` (`[m, k]`) · `panel` (`[k, 32]`).
    fn panel_product(&self, a: &[f32], m: usize, panel: &[f32], dst: &mut [f32]) {
        let k = self.k;
        assert!(a.len() >= m * k && panel.len() == k * PANEL && dst.len() == m * PANEL);
        #[cfg(target_arch = "x86_64")]
        {
            let rows_per_block = match self.kernel {
                Kernel::Avx512 => 12,
                Kernel::Avx2 => 6,
            };
            let mut row = 0;
            while row < m {
                let rows = rows_per_block.min(m - row);
                let (a, dst) = (&a[row * k..(row + rows) * k], &mut dst[row * PANEL..(row + rows) * PANEL]);
                // SAFETY: `new` checked that the CPU has the kernel's instructions, and the
                // slices hold `rows` rows of `k` (a), `k` rows of 32 (panel) and `rows` rows
                // of 32 (dst), which is all the kernels read and write.
                #[allow(unsafe_code)]
                unsafe {
                    match self.kernel {
                        Kernel::Avx512 => x86::avx512_rows(rows, a, k, panel, dst),
                        Kernel::Avx2 => x86::avx2_rows(rows, a, k, panel, dst),
                    }
                }
                row += rows;
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (a, m, panel, dst, k);
            unreachable!("no packed kernel outside x86_64 (Kernel::detect returns None)");
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::{
        __m256, __m512, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
        _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
    };

    use super::PANEL;

    /// One kernel per vector width: `R` rows by two vectors of columns, with two
    /// accumulators per row and one broadcast of `a` per row and step of `k`; and the
    /// dispatcher of a block of rows to the kernel of that many rows, which covers the
    /// panel's 32 columns in as many calls as it takes.
    macro_rules! kernel {
        ($rows_fn:ident, $kernel:ident, $features:literal, $vector:ty, $lanes:literal,
         $zero:ident, $load:ident, $splat:ident, $fma:ident, $store:ident, [$($r:literal)*]) => {
            /// Dispatches a block of rows to the kernel of that many rows.
            ///
            /// # Safety
            /// The CPU has the kernel's instructions; `a` holds `rows * k` values, `panel`
            /// `k * 32`, `dst` `rows * 32`.
            pub(super) unsafe fn $rows_fn(rows: usize, a: &[f32], k: usize, panel: &[f32], dst: &mut [f32]) {
                for half in (0..PANEL).step_by(2 * $lanes) {
                    match rows {
                        // SAFETY: the caller's guarantees, for this row count; each call
                        // covers 2 * lanes columns of the panel from `half`.
                        $($r => unsafe { $kernel::<$r>(a.as_ptr(), k, panel.as_ptr().add(half), dst.as_mut_ptr().add(half)) },)*
                        _ => unreachable!("more rows than a block holds"),
                    }
                }
            }

            /// `R` rows by `2 * lanes` columns; `panel` and `dst` point at the first
            /// column, rows stay 32 apart.
            #[target_feature(enable = $features)]
            unsafe fn $kernel<const R: usize>(a: *const f32, k: usize, panel: *const f32, dst: *mut f32) {
                let mut acc: [[$vector; 2]; R] = [[$zero(); 2]; R];
                for step in 0..k {
                    // SAFETY: step < k, so these read within the panel (k rows of 32) and
                    // a (R rows of k).
                    unsafe {
                        let b0 = $load(panel.add(step * PANEL));
                        let b1 = $load(panel.add(step * PANEL + $lanes));
                        for (r, acc) in acc.iter_mut().enumerate() {
                            let x = $splat(*a.add(r * k + step));
                            acc[0] = $fma(x, b0, acc[0]);
                            acc[1] = $fma(x, b1, acc[1]);
                        }
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    // SAFETY: dst holds R rows, 32 apart, of which these write 2 * lanes columns.
                    unsafe {
                        $store(dst.add(r * PANEL), acc[0]);
                        $store(dst.add(r * PANEL + $lanes), acc[1]);
                    }
                }
            }
        };
    }

    kernel!(avx512_rows, avx512, "avx512f", __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_set1_ps,
        _mm512_fmadd_ps, _mm512_storeu_ps, [1 2 3 4 5 6 7 8 9 10 11 12]);
    kernel!(avx2_rows, avx2, "avx2,fma", __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_set1_ps,
        _mm256_fmadd_ps, _mm256_storeu_ps, [1 2 3 4 5 6]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The textbook product, in f64.
    fn reference(a: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|t| f64::from(a[i * k + t]) * f64::from(w[t * n + j])).sum::<f64>() as f32;
            }
        }
        out
    }

    #[test]
    fn packed_products_match_the_textbook_product_for_every_shape_and_kernel() {
        let kernels = Kernel::available_all();
        if kernels.is_empty() {
            eprintln!("NOTICE: this CPU has neither AVX-512 nor AVX2: the embedder uses candle's product, nothing to compare");
            assert_eq!(Kernel::detect(), None);
            return;
        }
        // Row counts around the blocks (6, 12) and column counts that leave a partial panel.
        for &(m, k, n) in &[(1, 384, 1152), (5, 7, 40), (6, 384, 384), (7, 33, 64), (12, 384, 1536), (13, 1536, 384), (29, 100, 97), (64, 384, 1152)] {
            let a = values(m * k, 1);
            let w = values(k * n, 2);
            let want = reference(&a, &w, m, k, n);
            for &kernel in &kernels {
                let packed = PackedMatrix::new(&w, k, n, kernel).unwrap();
                assert_eq!((packed.rows(), packed.columns()), (k, n));
                let got = packed.product(&a, m);
                assert_eq!(got.len(), m * n);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{kernel:?} {m}x{k}x{n} at {i}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn bad_shapes_are_refused() {
        let Some(kernel) = Kernel::detect() else {
            eprintln!("NOTICE: no packed kernel on this CPU");
            return;
        };
        let w = values(8 * 40, 3);
        assert_eq!(PackedMatrix::new(&w, 8, 41, kernel).err().unwrap(), "a 8x41 weight matrix of 320 values");
        assert!(PackedMatrix::new(&[], 0, 40, kernel).is_err());
        let packed = PackedMatrix::new(&w, 8, 40, kernel).unwrap();
        assert!(packed.product(&[], 0).is_empty());
        let err = std::panic::catch_unwind(|| packed.product(&values(9, 4), 1)).unwrap_err();
        let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("1 rows of 8"), "{message}");
    }
}
