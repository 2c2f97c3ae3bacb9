//! Weights packed once, at load, for an AVX2 + FMA (and, where the CPU has it, AVX-512) matrix
//! kernel, as ONNX Runtime's MLAS packs its weights: a general matrix library (the `gemm` crate)
//! copies the weight into its panel layout on every call, a whole extra pass over the weight,
//! and for one image (50 rows) or a text query (a few rows) that copy costs as much as the
//! product.
//!
//! Layout: panels of 16 output columns; panel `p` holds, for every input feature `i` in order,
//! the 16 weights `W[i, 16p..16p + 16]` (zero beyond the last column). The AVX2 kernel keeps a
//! 6 × 16 tile of the output in twelve registers, streams the panel, and broadcasts one input
//! value per row and step, reading inputs in place; the AVX-512 kernel keeps a 14 × 16 tile, one
//! register a row, and reads a contiguous copy of the inputs' block (14 rows `k` apart would
//! evict each other from the first-level cache). Work is split into (row block, panel group)
//! tiles over rayon's threads, and the input dimension into blocks of [`KC`] so a panel's slice
//! stays in the first-level cache while every row of the tile reuses it; a single row tile (a
//! text query's tokens) reads each panel start to end in one pass instead.

#![allow(unsafe_code)]

use rayon::prelude::*;

/// Output columns per panel (two 8-float vectors).
const NR: usize = 16;
/// Rows per register tile.
const MR: usize = 6;
/// Input features per pass over a tile (a panel's slice: 16 KiB).
const KC: usize = 256;
/// Rows per task.
const MC: usize = 96;
/// Panels per task.
const PANELS: usize = 8;

/// A `[k, n]` weight packed for [`Packed::product`].
pub struct Packed {
    data: Vec<f32>,
    k: usize,
    n: usize,
    /// The CPU has AVX-512F: one 16-float register per tile row, 14 rows a tile.
    wide: bool,
}

impl Packed {
    /// Packs a row-major `[k, n]` weight; `None` when this CPU lacks AVX2 or FMA.
    pub fn new(weight: &[f32], k: usize, n: usize) -> Option<Self> {
        if !available() {
            return None;
        }
        assert_eq!(weight.len(), k * n, "weight is [k, n]");
        let panels = n.div_ceil(NR);
        let mut data = vec![0.0f32; panels * k * NR];
        for (p, panel) in data.chunks_exact_mut(k * NR).enumerate() {
            let (c0, c1) = (p * NR, (p * NR + NR).min(n));
            for (i, dst) in panel.chunks_exact_mut(NR).enumerate() {
                dst[..c1 - c0].copy_from_slice(&weight[i * n + c0..i * n + c1]);
            }
        }
        Some(Packed {
            data,
            k,
            n,
            wide: wide_available(),
        })
    }

    /// The weight back as a row-major `[k, n]` matrix (for tests).
    #[cfg(test)]
    pub fn unpacked(&self) -> Vec<f32> {
        let mut w = vec![0.0; self.k * self.n];
        for (p, panel) in self.data.chunks_exact(self.k * NR).enumerate() {
            let (c0, c1) = (p * NR, (p * NR + NR).min(self.n));
            for (i, src) in panel.chunks_exact(NR).enumerate() {
                w[i * self.n + c0..i * self.n + c1].copy_from_slice(&src[..c1 - c0]);
            }
        }
        w
    }

    /// `out (+)= x · W` for `x` `[rows, k]` and `out` `[rows, n]`, row-major.
    pub fn product(&self, x: &[f32], rows: usize, out: &mut [f32], accumulate: bool) {
        let (k, n) = (self.k, self.n);
        assert_eq!(x.len(), rows * k, "x is [rows, k]");
        assert_eq!(out.len(), rows * n, "out is [rows, n]");
        if rows == 0 || n == 0 {
            return;
        }
        if k == 0 {
            if !accumulate {
                out.fill(0.0);
            }
            return;
        }
        let panels = n.div_ceil(NR);
        let row_blocks = rows.div_ceil(MC);
        // Enough tasks for every thread even when there is one row block (one image).
        let per = PANELS.min(panels.div_ceil(4 * rayon::current_num_threads()).max(1));
        let groups = panels.div_ceil(per);
        let dst = Dst(out.as_mut_ptr());
        let tile = |t: usize| {
            let (rb, g) = (t / groups, t % groups);
            let rows = rb * MC..((rb + 1) * MC).min(rows);
            let panels = g * per..((g + 1) * per).min(panels);
            // SAFETY: the CPU has AVX2 and FMA (`new` checked), and AVX-512F where `wide`;
            // tiles cover disjoint rows × columns of `out`, whose shape was checked above, as
            // is `x`'s; the panels exist.
            unsafe {
                if self.wide {
                    x86::tile_wide(self, x, &dst, rows, panels, accumulate)
                } else {
                    x86::tile(self, x, &dst, rows, panels, accumulate)
                }
            };
        };
        if row_blocks * groups == 1 {
            tile(0);
        } else {
            (0..row_blocks * groups).into_par_iter().for_each(tile);
        }
    }
}

/// Whether the packed kernel can run here.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the 512-bit kernel can run here (AVX-512F, besides what [`available`] needs).
fn wide_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The output, shared by tiles that write disjoint parts of it.
struct Dst(*mut f32);
// SAFETY: only used to hand disjoint tiles of one `&mut [f32]` to rayon's threads, which all
// finish before the borrow ends.
unsafe impl Send for Dst {}
// SAFETY: as above.
unsafe impl Sync for Dst {}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use super::{Dst, Packed, KC, MR, NR};

    /// One task: rows × panels of the output, every input feature.
    ///
    /// # Safety
    /// AVX2 + FMA; `x` is `[rows, k]` and `dst` `[rows, n]` for `p`'s `k` and `n`; no other
    /// thread touches this tile of `dst` meanwhile.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tile(
        p: &Packed,
        x: &[f32],
        dst: &Dst,
        rows: Range<usize>,
        panels: Range<usize>,
        accumulate: bool,
    ) {
        let (k, n) = (p.k, p.n);
        // One row tile (a text query's tokens) reuses nothing across row tiles: each panel is
        // then read start to end in one pass, a plain stream for the prefetcher.
        let block = if rows.len() <= MR { k } else { KC };
        let mut k0 = 0;
        while k0 < k {
            let kc = block.min(k - k0);
            let first = k0 == 0 && !accumulate;
            for panel in panels.clone() {
                let b = &p.data[panel * k * NR + k0 * NR..panel * k * NR + (k0 + kc) * NR];
                let cols = NR.min(n - panel * NR);
                let mut r = rows.start;
                while r < rows.end {
                    let mr = MR.min(rows.end - r);
                    let a = &x[r * k + k0..];
                    // SAFETY: rows r..r + mr exist in `x` (k apart, kc read from k0) and in
                    // `dst` (n apart, columns panel·16..+cols); `b` holds kc steps of 16.
                    unsafe {
                        let c = dst.0.add(r * n + panel * NR);
                        match mr {
                            6 => micro::<6>(a, k, b, kc, c, n, cols, first),
                            5 => micro::<5>(a, k, b, kc, c, n, cols, first),
                            4 => micro::<4>(a, k, b, kc, c, n, cols, first),
                            3 => micro::<3>(a, k, b, kc, c, n, cols, first),
                            2 => micro::<2>(a, k, b, kc, c, n, cols, first),
                            _ => micro::<1>(a, k, b, kc, c, n, cols, first),
                        }
                    }
                    r += mr;
                }
            }
            k0 += kc;
        }
    }

    /// Rows per tile of the 512-bit kernel (14 accumulators, one panel row, one broadcast).
    const MR_WIDE: usize = 14;

    /// [`tile`] with the 512-bit kernel.
    ///
    /// # Safety
    /// As [`tile`], and the CPU has AVX-512F.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn tile_wide(
        p: &Packed,
        x: &[f32],
        dst: &Dst,
        rows: Range<usize>,
        panels: Range<usize>,
        accumulate: bool,
    ) {
        let (k, n) = (p.k, p.n);
        let block = if rows.len() <= MR_WIDE { k } else { KC };
        // The block of `x` copied contiguous: 14 rows read in place lie `k` apart, and at
        // k = 3,072 (12 KiB) they all fall into the same first-level cache sets and evict
        // each other.
        let mut copy = vec![0.0f32; rows.len() * block.min(k)];
        let mut k0 = 0;
        while k0 < k {
            let kc = block.min(k - k0);
            let first = k0 == 0 && !accumulate;
            for (dst, r) in copy.chunks_exact_mut(kc).zip(rows.clone()) {
                dst.copy_from_slice(&x[r * k + k0..r * k + k0 + kc]);
            }
            for panel in panels.clone() {
                let b = &p.data[panel * k * NR + k0 * NR..panel * k * NR + (k0 + kc) * NR];
                let cols = NR.min(n - panel * NR);
                let mut r = rows.start;
                while r < rows.end {
                    let mr = MR_WIDE.min(rows.end - r);
                    let a = &copy[(r - rows.start) * kc..];
                    // SAFETY: as in `tile`, with rows of `a` kc apart in `copy`.
                    unsafe {
                        let c = dst.0.add(r * n + panel * NR);
                        macro_rules! rows {
                            ($($m:literal)*) => {
                                match mr {
                                    $($m => micro_wide::<$m>(a, kc, b, kc, c, n, cols, first),)*
                                    _ => unreachable!("1 to 14 rows"),
                                }
                            };
                        }
                        rows!(1 2 3 4 5 6 7 8 9 10 11 12 13 14);
                    }
                    r += mr;
                }
            }
            k0 += kc;
        }
    }

    /// [`micro`] in 512-bit registers: one per tile row.
    ///
    /// # Safety
    /// As [`micro`], and the CPU has AVX-512F.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn micro_wide<const R: usize>(
        a: &[f32],
        lda: usize,
        b: &[f32],
        kc: usize,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        first: bool,
    ) {
        assert!(R <= MR_WIDE && b.len() >= kc * NR && a.len() > (R - 1) * lda + kc - 1);
        let mut acc = [_mm512_setzero_ps(); R];
        let (ap, bp) = (a.as_ptr(), b.as_ptr());
        for i in 0..kc {
            // SAFETY: i < kc, within `b` and within each of the R rows of `a`.
            unsafe {
                let bv = _mm512_loadu_ps(bp.add(i * NR));
                for (r, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm512_fmadd_ps(_mm512_set1_ps(*ap.add(r * lda + i)), bv, *acc);
                }
            }
        }
        let mask: __mmask16 = if cols == NR { !0 } else { (1u16 << cols) - 1 };
        for (r, acc) in acc.iter().enumerate() {
            // SAFETY: row r of the tile has `cols` writable values at c + r·ldc; the mask
            // keeps every load and store within them.
            unsafe {
                let row = c.add(r * ldc);
                let v = if first {
                    *acc
                } else {
                    _mm512_add_ps(*acc, _mm512_maskz_loadu_ps(mask, row))
                };
                _mm512_mask_storeu_ps(row, mask, v);
            }
        }
    }

    /// `C[R × cols] (+)= A[R × kc] · B[kc × 16]`, the tile in registers.
    ///
    /// # Safety
    /// AVX2 + FMA; `a` holds `R` rows `lda` apart with `kc` values each; `b` holds `kc · 16`
    /// values; `c` addresses `R` rows `ldc` apart with `cols` writable values each.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn micro<const R: usize>(
        a: &[f32],
        lda: usize,
        b: &[f32],
        kc: usize,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        first: bool,
    ) {
        assert!(R <= MR && b.len() >= kc * NR && a.len() > (R - 1) * lda + kc - 1);
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        let (ap, bp) = (a.as_ptr(), b.as_ptr());
        for i in 0..kc {
            // SAFETY: i < kc, within `b` and within each of the R rows of `a`.
            unsafe {
                let b0 = _mm256_loadu_ps(bp.add(i * NR));
                let b1 = _mm256_loadu_ps(bp.add(i * NR + 8));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av = _mm256_broadcast_ss(&*ap.add(r * lda + i));
                    acc[0] = _mm256_fmadd_ps(av, b0, acc[0]);
                    acc[1] = _mm256_fmadd_ps(av, b1, acc[1]);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            // SAFETY: row r of the tile has `cols` writable values at c + r·ldc.
            unsafe {
                let row = c.add(r * ldc);
                if cols == NR {
                    let (v0, v1) = if first {
                        (acc[0], acc[1])
                    } else {
                        (
                            _mm256_add_ps(acc[0], _mm256_loadu_ps(row)),
                            _mm256_add_ps(acc[1], _mm256_loadu_ps(row.add(8))),
                        )
                    };
                    _mm256_storeu_ps(row, v0);
                    _mm256_storeu_ps(row.add(8), v1);
                } else {
                    let mut t = [0.0f32; NR];
                    _mm256_storeu_ps(t.as_mut_ptr(), acc[0]);
                    _mm256_storeu_ps(t.as_mut_ptr().add(8), acc[1]);
                    for (j, v) in t.iter().take(cols).enumerate() {
                        let o = row.add(j);
                        *o = if first { *v } else { *o + v };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f32], w: &[f32], rows: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0.0; rows * n];
        for r in 0..rows {
            for j in 0..n {
                out[r * n + j] = (0..k).map(|i| x[r * k + i] * w[i * n + j]).sum();
            }
        }
        out
    }

    #[test]
    fn packed_products_match_the_definition() {
        if !available() {
            return;
        }
        // Partial row tiles, partial panels, several input blocks, one row, many tasks.
        for (rows, k, n) in [
            (1, 3, 5),
            (7, 300, 37),
            (13, 513, 16),
            (100, 64, 200),
            (2, 1, 1),
        ] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 7 % 19) as f32 - 9.0) / 9.0)
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 5 % 23) as f32 - 11.0) / 11.0)
                .collect();
            let mut packed = Packed::new(&w, k, n).expect("AVX2");
            assert_eq!(packed.unpacked(), w);
            let want = naive(&x, &w, rows, k, n);
            // The 512-bit kernel where the CPU has it, and the 256-bit one always.
            for wide in [wide_available(), false] {
                packed.wide = wide;
                let mut out = vec![f32::NAN; rows * n];
                packed.product(&x, rows, &mut out, false);
                let close = |got: &[f32], scale: f32| {
                    for (g, w) in got.iter().zip(&want) {
                        assert!(
                            (g - scale * w).abs() < 1e-3 * (1.0 + w.abs()),
                            "{rows}×{k}×{n}: {g} vs {}",
                            scale * w
                        );
                    }
                };
                close(&out, 1.0);
                packed.product(&x, rows, &mut out, true);
                close(&out, 2.0);
            }
        }
    }
}
