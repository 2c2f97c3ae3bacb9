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
//!
//! Reduced precision ([`Packed::new`] with `bf16`, where the CPU has AVX512_BF16): the panels
//! hold bf16 weights, two input features per 32-bit lane, and each product first rounds its
//! inputs to bf16 once (into a per-thread buffer, blocked as the kernel reads it). The kernel
//! is the 14 × 16 tile again, with `vdpbf16ps`: one instruction multiplies two input features
//! by a panel row pair and adds both products to the fp32 accumulators, twice the work of an
//! fp32 FMA, on half the bytes of weight. Sums stay fp32; only the factors are rounded
//! (8 significant bits), so a product's relative error stays near 2⁻⁹ per term and averages
//! out over the sum.

#![allow(unsafe_code)]

use std::ops::Range;

use rayon::prelude::*;

/// Output columns per panel (two 8-float vectors).
const NR: usize = 16;
/// Rows per register tile.
const MR: usize = 6;
/// Input features per pass over a tile (a panel's slice: 16 KiB).
const KC: usize = 256;
/// Input features per pass over a bf16 tile (a panel's slice: 12 KiB, a tile's inputs:
/// 10.5 KiB; 256 left the tile re-reading its outputs twice as often, 512 overflowed the
/// first-level cache).
const KC_BF16: usize = 384;
/// Rows per task.
const MC: usize = 96;
/// Panels per task.
const PANELS: usize = 8;

/// Which kernel a packed weight is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// fp32, 6 × 16 tiles in 256-bit registers.
    Avx2,
    /// fp32, 14 × 16 tiles, one 512-bit register a row.
    Avx512,
    /// bf16 factors, fp32 sums, 14 × 16 tiles (`vdpbf16ps`).
    Bf16,
}

/// A `[k, n]` weight packed for [`Packed::product`].
pub struct Packed {
    /// fp32 panels (the fp32 kernels).
    data: Vec<f32>,
    /// bf16 panels (the bf16 kernel): per input pair `2i, 2i + 1`, 16 lanes of
    /// `W[2i, c] | W[2i + 1, c] << 16` (zero past `k` and past `n`).
    pairs: Vec<u32>,
    k: usize,
    n: usize,
    kernel: Kernel,
}

impl Packed {
    /// Packs a row-major `[k, n]` weight, as bf16 when `bf16` and the CPU has AVX512_BF16
    /// ([`bf16_available`]); `None` when this CPU lacks AVX2 or FMA.
    pub fn new(weight: &[f32], k: usize, n: usize, bf16: bool) -> Option<Self> {
        if !available() {
            return None;
        }
        assert_eq!(weight.len(), k * n, "weight is [k, n]");
        let panels = n.div_ceil(NR);
        if bf16 && bf16_available() {
            let k2 = k.div_ceil(2);
            let mut pairs = vec![0u32; panels * k2 * NR];
            for (p, panel) in pairs.chunks_exact_mut(k2 * NR).enumerate() {
                let (c0, c1) = (p * NR, (p * NR + NR).min(n));
                for (i, dst) in panel.chunks_exact_mut(NR).enumerate() {
                    for (c, lane) in (c0..c1).zip(dst.iter_mut()) {
                        let even = to_bf16(weight[2 * i * n + c]);
                        let odd = if 2 * i + 1 < k {
                            to_bf16(weight[(2 * i + 1) * n + c])
                        } else {
                            0
                        };
                        *lane = u32::from(even) | u32::from(odd) << 16;
                    }
                }
            }
            return Some(Packed {
                data: Vec::new(),
                pairs,
                k,
                n,
                kernel: Kernel::Bf16,
            });
        }
        let mut data = vec![0.0f32; panels * k * NR];
        for (p, panel) in data.chunks_exact_mut(k * NR).enumerate() {
            let (c0, c1) = (p * NR, (p * NR + NR).min(n));
            for (i, dst) in panel.chunks_exact_mut(NR).enumerate() {
                dst[..c1 - c0].copy_from_slice(&weight[i * n + c0..i * n + c1]);
            }
        }
        Some(Packed {
            data,
            pairs: Vec::new(),
            k,
            n,
            kernel: if wide_available() {
                Kernel::Avx512
            } else {
                Kernel::Avx2
            },
        })
    }

    /// Whether products round their factors to bf16.
    #[cfg(test)]
    pub fn is_bf16(&self) -> bool {
        self.kernel == Kernel::Bf16
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
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no weight is packed off x86-64 (`available` is false there)");
        #[cfg(target_arch = "x86_64")]
        if self.kernel == Kernel::Bf16 {
            self.product_bf16(x, rows, out, accumulate);
            return;
        }
        #[cfg(target_arch = "x86_64")]
        let dst = Dst(out.as_mut_ptr());
        #[cfg(target_arch = "x86_64")]
        self.tiles(rows, MC, |rows, panels| {
            // SAFETY: the CPU has AVX2 and FMA (`new` checked), and AVX-512F for `Avx512`;
            // tiles cover disjoint rows × columns of `out`, whose shape was checked above, as
            // is `x`'s; the panels exist.
            unsafe {
                if self.kernel == Kernel::Avx512 {
                    x86::tile_wide(self, x, &dst, rows, panels, accumulate)
                } else {
                    x86::tile(self, x, &dst, rows, panels, accumulate)
                }
            };
        });
    }

    /// The bf16 product: `x` rounded to bf16 pairs once, into a per-thread buffer laid out as
    /// the kernel reads it, then the tiles. Layout: per block of input features, per tile of
    /// 14 rows (the last padded with zeros), per pair step the 14 rows' pairs side by side, so
    /// the kernel reads a whole tile through one pointer (14 row pointers would not fit in the
    /// general registers, and their spills cost a third of the kernel's time).
    #[cfg(target_arch = "x86_64")]
    fn product_bf16(&self, x: &[f32], rows: usize, out: &mut [f32], accumulate: bool) {
        let k = self.k;
        let tiles = rows.div_ceil(x86::MR_WIDE);
        // All rows in one tile (a text query): each panel read start to end in one pass.
        let block = if tiles == 1 { k } else { KC_BF16 };
        // Taken, not borrowed: a rayon thread waiting in one product may run a task of
        // another, which then finds the buffer gone and uses a fresh one.
        let mut halves = SCRATCH.with(std::cell::Cell::take);
        halves.clear();
        halves.resize(tiles * x86::MR_WIDE * k.div_ceil(2), 0);
        let mut k0 = 0;
        let mut rest = &mut halves[..];
        while k0 < k {
            let kc = block.min(k - k0);
            let kc2 = kc.div_ceil(2);
            let (region, tail) = rest.split_at_mut(tiles * x86::MR_WIDE * kc2);
            let convert = |(t, dst): (usize, &mut [u32])| {
                let mut pairs = vec![0u32; kc2];
                for r in 0..x86::MR_WIDE.min(rows - t * x86::MR_WIDE) {
                    let row = t * x86::MR_WIDE + r;
                    // SAFETY: `new` made `Bf16` panels only where the CPU has AVX512_BF16.
                    unsafe { x86::to_pairs(&x[row * k + k0..row * k + k0 + kc], &mut pairs) };
                    for (i, v) in pairs.iter().enumerate() {
                        dst[i * x86::MR_WIDE + r] = *v;
                    }
                }
            };
            let chunks = region.chunks_exact_mut(x86::MR_WIDE * kc2);
            if rows * kc < CONVERT_SPLIT {
                chunks.enumerate().for_each(convert);
            } else {
                region
                    .par_chunks_exact_mut(x86::MR_WIDE * kc2)
                    .enumerate()
                    .for_each(convert);
            }
            rest = tail;
            k0 += kc;
        }
        let dst = Dst(out.as_mut_ptr());
        let halves_ref = &halves;
        // Row blocks of whole 14-row tiles.
        self.tiles(rows, 7 * x86::MR_WIDE, |tile_rows, panels| {
            // SAFETY: as in `product`; the CPU has AVX512_BF16 (`Bf16` panels exist only
            // there), `halves` holds every tile's pairs as laid out above, and row blocks
            // start on tile boundaries.
            unsafe {
                x86::tile_bf16(
                    self, halves_ref, tiles, block, &dst, tile_rows, panels, accumulate,
                )
            };
        });
        SCRATCH.with(|s| s.set(halves));
    }

    #[cfg(target_arch = "x86_64")]
    /// Runs `tile(rows, panels)` over (block of `mc` rows, panel group) tasks on rayon's
    /// threads.
    fn tiles(&self, rows: usize, mc: usize, tile: impl Fn(Range<usize>, Range<usize>) + Sync) {
        let panels = self.n.div_ceil(NR);
        let row_blocks = rows.div_ceil(mc);
        // Enough tasks for every thread even when there is one row block (one image).
        let per = PANELS.min(panels.div_ceil(4 * rayon::current_num_threads()).max(1));
        let groups = panels.div_ceil(per);
        let task = |t: usize| {
            let (rb, g) = (t / groups, t % groups);
            tile(
                rb * mc..((rb + 1) * mc).min(rows),
                g * per..((g + 1) * per).min(panels),
            );
        };
        if row_blocks * groups == 1 {
            task(0);
        } else {
            (0..row_blocks * groups).into_par_iter().for_each(task);
        }
    }
}

/// Inputs converted at once on one thread below this many values (a text query).
#[cfg(target_arch = "x86_64")]
const CONVERT_SPLIT: usize = 1 << 16;

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// The bf16 input pairs of the product running on this thread.
    static SCRATCH: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// `x` rounded to the nearest bf16 (ties to even), as its top 16 bits; NaN stays NaN.
pub(crate) fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return (bits >> 16) as u16 | 0x40;
    }
    (bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

/// The f32 a bf16 stands for.
#[cfg(test)]
fn from_bf16(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
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

/// Whether the bf16 kernel can run here (AVX-512F and AVX512_BF16, besides what
/// [`available`] needs).
pub fn bf16_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        wide_available() && std::arch::is_x86_feature_detected!("avx512bf16")
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

    /// Rows per tile of the 512-bit kernels (14 accumulators, one panel row, one broadcast).
    pub const MR_WIDE: usize = 14;

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

    /// [`tile_wide`] on bf16 pairs: `halves` holds the input of all `tiles` row tiles as
    /// [`Packed::product_bf16`] lays it out, in blocks of `block` input features.
    ///
    /// # Safety
    /// As [`tile_wide`], and the CPU has AVX512_BF16; `p` holds bf16 panels; `rows` starts
    /// on a tile boundary.
    #[target_feature(enable = "avx512f,avx512bf16,avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn tile_bf16(
        p: &Packed,
        halves: &[u32],
        tiles: usize,
        block: usize,
        dst: &Dst,
        rows: Range<usize>,
        panels: Range<usize>,
        accumulate: bool,
    ) {
        let (k, n) = (p.k, p.n);
        let k2 = k.div_ceil(2);
        let span = tiles * MR_WIDE;
        let mut k0 = 0;
        while k0 < k {
            let kc = block.min(k - k0);
            let kc2 = kc.div_ceil(2);
            // Every block before this one is `block` wide, an even number.
            let region = &halves[span * (k0 / 2)..span * (k0 / 2) + span * kc2];
            let first = k0 == 0 && !accumulate;
            for panel in panels.clone() {
                let b = &p.pairs[panel * k2 * NR + (k0 / 2) * NR..][..kc2 * NR];
                let cols = NR.min(n - panel * NR);
                let mut r = rows.start;
                while r < rows.end {
                    let mr = MR_WIDE.min(rows.end - r);
                    let a = &region[(r / MR_WIDE) * MR_WIDE * kc2..][..MR_WIDE * kc2];
                    // SAFETY: the tile's kc2 pair steps of 14 are `a`, `dst`'s rows lie n
                    // apart (columns panel·16..+cols), `b` holds kc2 pair steps of 16.
                    unsafe {
                        let c = dst.0.add(r * n + panel * NR);
                        macro_rules! rows {
                            ($($m:literal)*) => {
                                match mr {
                                    $($m => micro_bf16::<$m>(a, b, kc2, c, n, cols, first),)*
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

    /// `C[R × cols] (+)= A[R × 2kc2] · B[2kc2 × 16]` on bf16 pairs, the tile in registers:
    /// each step broadcasts one input pair per row against one pair row of the panel.
    ///
    /// # Safety
    /// The CPU has AVX-512F and AVX512_BF16; `a` holds kc2 steps of 14 pairs (rows side by
    /// side), `b` kc2 steps of 16; `c` addresses `R` rows `ldc` apart with `cols` writable
    /// values each.
    #[target_feature(enable = "avx512f,avx512bf16,avx2,fma")]
    unsafe fn micro_bf16<const R: usize>(
        a: &[u32],
        b: &[u32],
        kc2: usize,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        first: bool,
    ) {
        assert!(R <= MR_WIDE && b.len() >= kc2 * NR && a.len() >= kc2 * MR_WIDE && kc2 > 0);
        let mut acc = [_mm512_setzero_ps(); R];
        let (ap, bp) = (a.as_ptr(), b.as_ptr());
        if R == MR_WIDE {
            // SAFETY: as below; the loop reads kc2 steps of 16 from `b` and of 14 from `a`.
            unsafe { full_tile_bf16(&mut acc, ap, bp, kc2) };
        } else {
            for i in 0..kc2 {
                // SAFETY: i < kc2, within `b` and `a`; both vector types are 64 bytes of plain
                // bits.
                unsafe {
                    let bv: __m512bh =
                        std::mem::transmute(_mm512_loadu_si512(bp.add(i * NR).cast()));
                    let step = ap.add(i * MR_WIDE);
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let av: __m512bh =
                            std::mem::transmute(_mm512_set1_epi32(*step.add(r) as i32));
                        *acc = _mm512_dpbf16_ps(*acc, av, bv);
                    }
                }
            }
        }
        let mask: __mmask16 = if cols == NR { !0 } else { (1u16 << cols) - 1 };
        for (r, acc) in acc.iter().enumerate() {
            // SAFETY: as in `micro_wide`.
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

    /// The steps of a whole 14-row bf16 tile, in assembly: each input pair is broadcast by
    /// the multiply itself (`{1to16}`), which the compiler does not emit for these
    /// intrinsics; a separate broadcast per row and step cost a quarter of the kernel's
    /// speed.
    ///
    /// # Safety
    /// The CPU has AVX-512F and AVX512_BF16; `acc` has 14 accumulators (a slice of any other
    /// length panics); `ap` addresses `kc2 · 14` and `bp` `kc2 · 16` readable values;
    /// `kc2 > 0`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn full_tile_bf16(acc: &mut [__m512], ap: *const u32, bp: *const u32, kc2: usize) {
        let [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13] = acc else {
            panic!("a full tile has 14 rows");
        };
        // SAFETY: the caller's contract; the loop runs kc2 ≥ 1 times, reading 56 bytes at
        // `ap` and 64 at `bp` per step, and writes only the named registers.
        unsafe {
            std::arch::asm!(
                "2:",
                "vmovups {b}, zmmword ptr [{bp}]",
                "vdpbf16ps {a0}, {b}, dword ptr [{ap}]{{1to16}}",
                "vdpbf16ps {a1}, {b}, dword ptr [{ap} + 4]{{1to16}}",
                "vdpbf16ps {a2}, {b}, dword ptr [{ap} + 8]{{1to16}}",
                "vdpbf16ps {a3}, {b}, dword ptr [{ap} + 12]{{1to16}}",
                "vdpbf16ps {a4}, {b}, dword ptr [{ap} + 16]{{1to16}}",
                "vdpbf16ps {a5}, {b}, dword ptr [{ap} + 20]{{1to16}}",
                "vdpbf16ps {a6}, {b}, dword ptr [{ap} + 24]{{1to16}}",
                "vdpbf16ps {a7}, {b}, dword ptr [{ap} + 28]{{1to16}}",
                "vdpbf16ps {a8}, {b}, dword ptr [{ap} + 32]{{1to16}}",
                "vdpbf16ps {a9}, {b}, dword ptr [{ap} + 36]{{1to16}}",
                "vdpbf16ps {a10}, {b}, dword ptr [{ap} + 40]{{1to16}}",
                "vdpbf16ps {a11}, {b}, dword ptr [{ap} + 44]{{1to16}}",
                "vdpbf16ps {a12}, {b}, dword ptr [{ap} + 48]{{1to16}}",
                "vdpbf16ps {a13}, {b}, dword ptr [{ap} + 52]{{1to16}}",
                "add {ap}, 56",
                "add {bp}, 64",
                "dec {n}",
                "jnz 2b",
                ap = inout(reg) ap => _,
                bp = inout(reg) bp => _,
                n = inout(reg) kc2 => _,
                b = out(zmm_reg) _,
                a0 = inout(zmm_reg) *a0,
                a1 = inout(zmm_reg) *a1,
                a2 = inout(zmm_reg) *a2,
                a3 = inout(zmm_reg) *a3,
                a4 = inout(zmm_reg) *a4,
                a5 = inout(zmm_reg) *a5,
                a6 = inout(zmm_reg) *a6,
                a7 = inout(zmm_reg) *a7,
                a8 = inout(zmm_reg) *a8,
                a9 = inout(zmm_reg) *a9,
                a10 = inout(zmm_reg) *a10,
                a11 = inout(zmm_reg) *a11,
                a12 = inout(zmm_reg) *a12,
                a13 = inout(zmm_reg) *a13,
                options(nostack, readonly),
            );
        }
    }

    /// `src` rounded to bf16 (ties to even) as pairs: `dst[i] = bf16(src[2i]) |
    /// bf16(src[2i + 1]) << 16`, zero past the end of `src`.
    ///
    /// # Safety
    /// The CPU has AVX-512F and AVX512_BF16.
    #[target_feature(enable = "avx512f,avx512bf16,avx2,fma")]
    pub unsafe fn to_pairs(src: &[f32], dst: &mut [u32]) {
        assert_eq!(dst.len(), src.len().div_ceil(2));
        let whole = src.len() / 32;
        for j in 0..whole {
            // SAFETY: 32 values from 32j are within `src`, 16 pairs from 16j within `dst`;
            // `cvtne2ps_pbh(hi, lo)` puts lo's 16 values first, then hi's, in order.
            unsafe {
                let lo = _mm512_loadu_ps(src.as_ptr().add(32 * j));
                let hi = _mm512_loadu_ps(src.as_ptr().add(32 * j + 16));
                let h: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                _mm512_storeu_si512(dst.as_mut_ptr().add(16 * j).cast(), h);
            }
        }
        for (i, d) in dst.iter_mut().enumerate().skip(16 * whole) {
            let even = super::to_bf16(src[2 * i]);
            let odd = src.get(2 * i + 1).map_or(0, |&v| super::to_bf16(v));
            *d = u32::from(even) | u32::from(odd) << 16;
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
            let mut packed = Packed::new(&w, k, n, false).expect("AVX2");
            assert_eq!(packed.unpacked(), w);
            let want = naive(&x, &w, rows, k, n);
            // The 512-bit kernel where the CPU has it, and the 256-bit one always.
            let kernels = if wide_available() {
                vec![Kernel::Avx512, Kernel::Avx2]
            } else {
                vec![Kernel::Avx2]
            };
            for kernel in kernels {
                packed.kernel = kernel;
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

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        assert_eq!(from_bf16(to_bf16(-2.5)), -2.5);
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even one, 1.
        assert_eq!(from_bf16(to_bf16(1.0 + 1.0 / 256.0)), 1.0);
        // Just above halfway rounds up.
        assert_eq!(
            from_bf16(to_bf16(1.0 + 1.0 / 256.0 + 1.0 / 4096.0)),
            1.0 + 1.0 / 128.0
        );
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
        assert_eq!(from_bf16(to_bf16(f32::INFINITY)), f32::INFINITY);
        assert_eq!(from_bf16(to_bf16(f32::MAX)), f32::INFINITY);
    }

    #[test]
    fn bf16_products_match_the_definition_on_rounded_factors() {
        if !bf16_available() {
            eprintln!("skipped: this CPU has no AVX512_BF16");
            return;
        }
        // Odd k (a half-empty last pair), partial tiles and panels, several input blocks,
        // one row (one pass), and many rows (blocked inputs, converted in parallel).
        for (rows, k, n) in [
            (1, 3, 5),
            (7, 301, 37),
            (13, 513, 16),
            (15, 300, 40),
            (100, 64, 200),
            (2, 1, 1),
            (230, 771, 33),
        ] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 7 % 19) as f32 - 9.0) / 9.3)
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 5 % 23) as f32 - 11.0) / 11.7)
                .collect();
            let packed = Packed::new(&w, k, n, true).expect("AVX-512");
            assert!(packed.is_bf16());
            // Products of bf16 values are exact in f32: only the order of the sums differs.
            let round = |v: &[f32]| v.iter().map(|&f| from_bf16(to_bf16(f))).collect::<Vec<_>>();
            let want = naive(&round(&x), &round(&w), rows, k, n);
            let mut out = vec![f32::NAN; rows * n];
            packed.product(&x, rows, &mut out, false);
            for (g, w) in out.iter().zip(&want) {
                assert!(
                    (g - w).abs() < 1e-4 * (1.0 + w.abs()),
                    "{rows}×{k}×{n}: {g} vs {w}"
                );
            }
            packed.product(&x, rows, &mut out, true);
            for (g, w) in out.iter().zip(&want) {
                assert!(
                    (g - 2.0 * w).abs() < 2e-4 * (1.0 + w.abs()),
                    "{rows}×{k}×{n}: {g} vs {}",
                    2.0 * w
                );
            }
            // And within bf16's error of the exact product.
            let exact = naive(&x, &w, rows, k, n);
            let scale = (k as f32).sqrt();
            for (g, e) in out.iter().zip(&exact) {
                assert!(
                    (g - 2.0 * e).abs() < 2.0 * scale * 2e-2,
                    "{rows}×{k}×{n}: {g} vs {}",
                    2.0 * e
                );
            }
        }
    }
}
#[cfg(test)]
mod speed {
    use super::*;
    #[test]
    #[ignore]
    fn gflops() {
        for (rows, k, n) in [
            (1600, 768, 2304),
            (1600, 768, 3072),
            (1600, 3072, 768),
            (50, 768, 3072),
        ] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 7 % 19) as f32 - 9.0) / 9.3)
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 5 % 23) as f32 - 11.0) / 11.7)
                .collect();
            for bf16 in [false, true] {
                let p = Packed::new(&w, k, n, bf16).unwrap();
                let mut out = vec![0.0; rows * n];
                p.product(&x, rows, &mut out, false);
                let t = std::time::Instant::now();
                let reps = 10;
                for _ in 0..reps {
                    p.product(&x, rows, &mut out, false);
                }
                let s = t.elapsed().as_secs_f64() / reps as f64;
                eprintln!(
                    "{rows}x{k}x{n} bf16={bf16}: {:.2} ms, {:.1} GFLOP/s",
                    s * 1e3,
                    2.0 * (rows * k * n) as f64 / s / 1e9
                );
            }
        }
    }
}
