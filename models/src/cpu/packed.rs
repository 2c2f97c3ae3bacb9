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
//! register a row, and reads the inputs interleaved once per product, the 14 rows of a tile
//! side by side (14 rows read in place, `k` apart, would evict each other from the first-level
//! cache and need 14 row pointers), each value broadcast by the multiply itself (a small
//! assembly loop: the compiler emits a separate broadcast). Work is split into (row block, panel group)
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
/// Output columns per panel of the 6 × 64 kernel (four 16-float vectors).
const NR4: usize = 64;
/// Rows per tile of the 6 × 64 kernel.
const MR4: usize = 6;
/// Input features per pass of the 6 × 64 kernel (a panel's slice: 32 KiB, which stays in the
/// first-level cache while the task's row tiles reuse it).
const KC4: usize = 128;
/// Panels per task.
const PANELS: usize = 8;

/// Which kernel a packed weight is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// fp32, 6 × 16 tiles in 256-bit registers.
    Avx2,
    /// fp32, 14 × 16 tiles, one 512-bit register a row, the input broadcast by the multiply.
    Avx512,
    /// fp32, 6 × 64 tiles, four 512-bit registers a row: ten loads for 24 multiply-adds where
    /// the 14 × 16 tile needs fifteen for 14, which on Intel's cores (two load ports beside
    /// two 512-bit FMA units) is what bounds the kernel ([`prefers_wide_tiles`]).
    Avx512x4,
    /// bf16 factors, fp32 sums, 14 × 16 tiles (`vdpbf16ps`).
    Bf16,
}

/// A `[k, n]` weight packed for [`Packed::product`].
pub struct Packed {
    /// fp32 panels (the fp32 kernels), each 64-byte aligned.
    data: Vec<Line>,
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
        let kernel = if !wide_available() {
            Kernel::Avx2
        } else if prefers_wide_tiles() {
            Kernel::Avx512x4
        } else {
            Kernel::Avx512
        };
        Some(Self::fp32(weight, k, n, kernel))
    }

    /// Packs an fp32 weight for one of the fp32 kernels.
    fn fp32(weight: &[f32], k: usize, n: usize, kernel: Kernel) -> Self {
        let nr = if kernel == Kernel::Avx512x4 { NR4 } else { NR };
        let panels = n.div_ceil(nr);
        let mut data = vec![Line([0.0; 16]); (panels * k * nr).div_ceil(16)];
        let floats = lines_mut(&mut data);
        for (p, panel) in floats.chunks_exact_mut(k * nr).enumerate() {
            let (c0, c1) = (p * nr, (p * nr + nr).min(n));
            for (i, dst) in panel.chunks_exact_mut(nr).enumerate() {
                dst[..c1 - c0].copy_from_slice(&weight[i * n + c0..i * n + c1]);
            }
        }
        Packed {
            data,
            pairs: Vec::new(),
            k,
            n,
            kernel,
        }
    }

    /// The fp32 panels as floats.
    fn floats(&self) -> &[f32] {
        lines(&self.data)
    }

    /// Whether products round their factors to bf16.
    #[cfg(test)]
    pub fn is_bf16(&self) -> bool {
        self.kernel == Kernel::Bf16
    }

    /// The weight back as a row-major `[k, n]` matrix (for tests).
    #[cfg(test)]
    pub fn unpacked(&self) -> Vec<f32> {
        let nr = self.nr();
        let mut w = vec![0.0; self.k * self.n];
        for (p, panel) in self.floats().chunks_exact(self.k * nr).enumerate() {
            let (c0, c1) = (p * nr, (p * nr + nr).min(self.n));
            for (i, src) in panel.chunks_exact(nr).enumerate() {
                w[i * self.n + c0..i * self.n + c1].copy_from_slice(&src[..c1 - c0]);
            }
        }
        w
    }

    /// Output columns per panel.
    fn nr(&self) -> usize {
        if self.kernel == Kernel::Avx512x4 {
            NR4
        } else {
            NR
        }
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
        if self.kernel == Kernel::Avx2 {
            let dst = Dst(out.as_mut_ptr());
            self.tiles(rows, MC, PANELS, |rows, panels| {
                // SAFETY: the CPU has AVX2 and FMA (`new` checked); tiles cover disjoint rows ×
                // columns of `out`, whose shape was checked above, as is `x`'s; the panels
                // exist.
                unsafe { x86::tile(self, x, &dst, rows, panels, accumulate) };
            });
        } else {
            self.product_interleaved(x, rows, out, accumulate);
        }
    }

    /// A 512-bit kernel's product: `x` interleaved once (rounded to bf16 pairs for the bf16
    /// kernel) into a per-thread buffer laid out as the kernel reads it, then the tiles.
    /// Layout: per block of input features, per tile of 14 rows (a partial last tile's missing
    /// rows left unwritten and unread), per step the 14 rows' values (or pairs) side by side,
    /// so the kernel reads a whole tile through one pointer (14 row pointers do not fit in the
    /// general registers, and their spills cost a third of the kernel's time) and with the
    /// broadcast folded into the multiply.
    #[cfg(target_arch = "x86_64")]
    fn product_interleaved(&self, x: &[f32], rows: usize, out: &mut [f32], accumulate: bool) {
        let k = self.k;
        let bf16 = self.kernel == Kernel::Bf16;
        let x4 = self.kernel == Kernel::Avx512x4;
        let mr = if x4 { MR4 } else { x86::MR_WIDE };
        let per_value = |features: usize| if bf16 { features.div_ceil(2) } else { features };
        let tiles = rows.div_ceil(mr);
        // All rows in one tile (a text query): each panel read start to end in one pass.
        let block = match (tiles, self.kernel) {
            (1, _) => k,
            (_, Kernel::Bf16) => KC_BF16,
            (_, Kernel::Avx512x4) => KC4,
            (_, Kernel::Avx512 | Kernel::Avx2) => KC,
        };
        // Taken, not borrowed: a rayon thread waiting in one product may run a task of
        // another, which then finds the buffer gone and uses a fresh one.
        let mut steps = SCRATCH.with(std::cell::Cell::take);
        let needed = tiles * mr * per_value(k);
        if steps.len() < needed {
            steps.resize(needed, 0);
        }
        // Not cleared: every value a kernel reads is written below (a partial last tile's
        // missing rows are never read).
        let mut k0 = 0;
        let mut rest = &mut steps[..needed];
        while k0 < k {
            let kc = block.min(k - k0);
            let sc = per_value(kc);
            let (region, tail) = rest.split_at_mut(tiles * mr * sc);
            let interleave = |(t, dst): (usize, &mut [u32])| {
                let mut row_steps = vec![0u32; if bf16 { sc } else { 0 }];
                for r in 0..mr.min(rows - t * mr) {
                    let row = t * mr + r;
                    let src = &x[row * k + k0..row * k + k0 + kc];
                    if bf16 {
                        // SAFETY: `new` made `Bf16` panels only where the CPU has
                        // AVX512_BF16.
                        unsafe { x86::to_pairs(src, &mut row_steps) };
                        for (i, v) in row_steps.iter().enumerate() {
                            dst[i * mr + r] = *v;
                        }
                    } else {
                        for (i, v) in src.iter().enumerate() {
                            dst[i * mr + r] = v.to_bits();
                        }
                    }
                }
            };
            if rows * kc < CONVERT_SPLIT {
                region
                    .chunks_exact_mut(mr * sc)
                    .enumerate()
                    .for_each(interleave);
            } else {
                region
                    .par_chunks_exact_mut(mr * sc)
                    .enumerate()
                    .for_each(interleave);
            }
            rest = tail;
            k0 += kc;
        }
        let dst = Dst(out.as_mut_ptr());
        let steps_ref = &steps[..needed];
        if x4 {
            // Row blocks of 16 tiles of 6 rows, two 64-column panels a task.
            self.tiles(rows, 16 * MR4, 2, |tile_rows, panels| {
                // SAFETY: as below, for `Avx512x4` panels (which exist only with AVX-512F).
                unsafe {
                    x86::tile_x4(
                        self, steps_ref, tiles, block, &dst, tile_rows, panels, accumulate,
                    )
                };
            });
            SCRATCH.with(|s| s.set(steps));
            return;
        }
        // Row blocks of whole 14-row tiles.
        self.tiles(rows, 7 * x86::MR_WIDE, PANELS, |tile_rows, panels| {
            // SAFETY: as in `product`; the CPU has AVX-512F (`Avx512` and `Bf16` panels exist
            // only there) and AVX512_BF16 for `Bf16`; `steps` holds every tile's input as laid
            // out above, and row blocks start on tile boundaries.
            unsafe {
                if bf16 {
                    x86::tile_bf16(
                        self, steps_ref, tiles, block, &dst, tile_rows, panels, accumulate,
                    )
                } else {
                    x86::tile_wide(
                        self, steps_ref, tiles, block, &dst, tile_rows, panels, accumulate,
                    )
                }
            };
        });
        SCRATCH.with(|s| s.set(steps));
    }

    #[cfg(target_arch = "x86_64")]
    /// Runs `tile(rows, panels)` over (block of `mc` rows, group of up to `most` panels) tasks
    /// on rayon's threads.
    fn tiles(
        &self,
        rows: usize,
        mc: usize,
        most: usize,
        tile: impl Fn(Range<usize>, Range<usize>) + Sync,
    ) {
        let panels = self.n.div_ceil(self.nr());
        let row_blocks = rows.div_ceil(mc);
        // Enough tasks for every thread even when there is one row block (one image).
        let per = most.min(panels.div_ceil(4 * rayon::current_num_threads()).max(1));
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

/// Inputs interleaved on one thread below this many values (a text query).
#[cfg(target_arch = "x86_64")]
const CONVERT_SPLIT: usize = 1 << 16;

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// The interleaved inputs of the 512-bit product running on this thread.
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
pub(super) fn wide_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Sixteen floats on a 64-byte boundary: a panel's storage, so that every 512-bit load of a
/// panel row is aligned (a load that straddles two cache lines costs two).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

fn lines(l: &[Line]) -> &[f32] {
    // SAFETY: `Line` is 16 f32 with no padding (64 bytes, aligned to 64).
    unsafe { std::slice::from_raw_parts(l.as_ptr().cast(), l.len() * 16) }
}

fn lines_mut(l: &mut [Line]) -> &mut [f32] {
    // SAFETY: as in `lines`, borrowed mutably.
    unsafe { std::slice::from_raw_parts_mut(l.as_mut_ptr().cast(), l.len() * 16) }
}

/// Whether the fp32 products should use the 6 × 64 tile rather than the 14 × 16 one: on
/// every AVX-512 CPU but AMD's. AMD's Zen 4 and 5 split a 512-bit multiply-add in two and load
/// up to three values a cycle, so the tile's loads never bound it and the 14 × 16 tile, measured
/// there, stays; Intel's cores load two values a cycle beside two full-width multiply-adds, so
/// the 14 × 16 tile (a load per multiply-add) is bound by its loads (on a 2-core Ice Lake Xeon
/// the switch took Florence-2's vision tower in `bench/captions.sh` from 3.64 s to 2.52 s).
fn prefers_wide_tiles() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // CPUID leaf 0 (the vendor) exists on every x86-64 CPU.
        let id = std::arch::x86_64::__cpuid(0);
        let vendor: Vec<u8> = [id.ebx, id.edx, id.ecx]
            .iter()
            .flat_map(|r| r.to_le_bytes())
            .collect();
        vendor != b"AuthenticAMD"
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

    use super::{Dst, Packed, KC, MR, MR4, NR, NR4};

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
                let b = &p.floats()[panel * k * NR + k0 * NR..panel * k * NR + (k0 + kc) * NR];
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

    /// [`tile`] with the 512-bit fp32 kernel, on inputs interleaved as
    /// [`Packed::product_interleaved`] lays them out.
    ///
    /// # Safety
    /// As [`interleaved`], and the CPU has AVX-512F.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn tile_wide(
        p: &Packed,
        steps: &[u32],
        tiles: usize,
        block: usize,
        dst: &Dst,
        rows: Range<usize>,
        panels: Range<usize>,
        accumulate: bool,
    ) {
        // SAFETY: the caller's contract.
        unsafe {
            interleaved::<false, false>(p, steps, tiles, block, dst, rows, panels, accumulate)
        }
    }

    /// [`tile_wide`] on bf16 pairs.
    ///
    /// # Safety
    /// As [`interleaved`], and the CPU has AVX-512F and AVX512_BF16.
    #[target_feature(enable = "avx512f,avx512bf16,avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn tile_bf16(
        p: &Packed,
        steps: &[u32],
        tiles: usize,
        block: usize,
        dst: &Dst,
        rows: Range<usize>,
        panels: Range<usize>,
        accumulate: bool,
    ) {
        // SAFETY: the caller's contract.
        unsafe { interleaved::<true, false>(p, steps, tiles, block, dst, rows, panels, accumulate) }
    }

    /// One task of a 512-bit kernel: rows × panels of the output, every input feature;
    /// `steps` holds the input of all `tiles` row tiles, in blocks of `block` features, each
    /// tile's steps (one value, or one bf16 pair with `BF16`) with its rows (14, or 6 with
    /// `X4`) side by side.
    ///
    /// # Safety
    /// Inlined into [`tile_wide`], [`tile_bf16`] or [`tile_x4`], whose features it needs; `p`
    /// holds the panels of that kernel; `dst` is `[rows, n]`, no other thread touches this tile of it
    /// meanwhile, and `rows` starts on a tile boundary.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn interleaved<const BF16: bool, const X4: bool>(
        p: &Packed,
        steps: &[u32],
        tiles: usize,
        block: usize,
        dst: &Dst,
        rows: Range<usize>,
        panels: Range<usize>,
        accumulate: bool,
    ) {
        let (k, n) = (p.k, p.n);
        let per_value = |features: usize| if BF16 { features.div_ceil(2) } else { features };
        let k_steps = per_value(k);
        let (tile, nr) = if X4 { (MR4, NR4) } else { (MR_WIDE, NR) };
        let span = tiles * tile;
        let mut k0 = 0;
        while k0 < k {
            let kc = block.min(k - k0);
            // Every block before this one is `block` wide (even, for pairs).
            let (s0, sc) = (per_value(k0), per_value(kc));
            let region = &steps[span * s0..span * (s0 + sc)];
            let first = k0 == 0 && !accumulate;
            for panel in panels.clone() {
                let cols = nr.min(n - panel * nr);
                let mut r = rows.start;
                while r < rows.end {
                    let mr = tile.min(rows.end - r);
                    let a = &region[(r / tile) * tile * sc..][..tile * sc];
                    // SAFETY: the tile's sc steps of 14 (or 6) are `a`, `dst`'s rows lie n
                    // apart (columns panel·nr..+cols), the panel slice holds sc steps of nr
                    // (for `X4`, 64-byte aligned: `Line`s, panels and steps of 64 floats).
                    unsafe {
                        let c = dst.0.add(r * n + panel * nr);
                        if X4 {
                            let b = &p.floats()[(panel * k_steps + s0) * NR4..][..sc * NR4];
                            macro_rules! rows {
                                ($($m:literal)*) => {
                                    match mr {
                                        $($m => micro_x4::<$m>(a, b, sc, c, n, cols, first),)*
                                        _ => unreachable!("1 to 6 rows"),
                                    }
                                };
                            }
                            rows!(1 2 3 4 5 6);
                        } else if BF16 {
                            let b = &p.pairs[(panel * k_steps + s0) * NR..][..sc * NR];
                            macro_rules! rows {
                                ($($m:literal)*) => {
                                    match mr {
                                        $($m => micro_bf16::<$m>(a, b, sc, c, n, cols, first),)*
                                        _ => unreachable!("1 to 14 rows"),
                                    }
                                };
                            }
                            rows!(1 2 3 4 5 6 7 8 9 10 11 12 13 14);
                        } else {
                            let b = &p.floats()[(panel * k_steps + s0) * NR..][..sc * NR];
                            macro_rules! rows {
                                ($($m:literal)*) => {
                                    match mr {
                                        $($m => micro_wide::<$m>(a, b, sc, c, n, cols, first),)*
                                        _ => unreachable!("1 to 14 rows"),
                                    }
                                };
                            }
                            rows!(1 2 3 4 5 6 7 8 9 10 11 12 13 14);
                        }
                    }
                    r += mr;
                }
            }
            k0 += kc;
        }
    }

    /// One task of the 6 × 64 kernel: rows × 64-column panels of the output, every input
    /// feature; `steps` holds the input of all `tiles` six-row tiles, in blocks of `block`
    /// features, each step's 6 rows side by side.
    ///
    /// # Safety
    /// AVX-512F; `p` holds `Avx512x4` panels; `dst` is `[rows, n]`, no other thread touches
    /// this tile of it meanwhile, and `rows` starts on a tile boundary.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn tile_x4(
        p: &Packed,
        steps: &[u32],
        tiles: usize,
        block: usize,
        dst: &Dst,
        rows: Range<usize>,
        panels: Range<usize>,
        accumulate: bool,
    ) {
        // SAFETY: the caller's contract.
        unsafe { interleaved::<false, true>(p, steps, tiles, block, dst, rows, panels, accumulate) }
    }

    /// `C[R × cols] (+)= A[R × kc] · B[kc × 64]`, four registers a row; `a` holds kc steps of
    /// 6 values (the rows side by side, as f32 bits), `b` kc aligned steps of 64.
    ///
    /// # Safety
    /// AVX-512F; `b` starts on a 64-byte boundary; `c` addresses `R` rows `ldc` apart with
    /// `cols ≤ 64` writable values each.
    #[target_feature(enable = "avx512f")]
    unsafe fn micro_x4<const R: usize>(
        a: &[u32],
        b: &[f32],
        kc: usize,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        first: bool,
    ) {
        assert!(R <= MR4 && b.len() >= kc * NR4 && a.len() >= kc * MR4 && kc > 0);
        assert!(
            b.as_ptr().align_offset(64) == 0,
            "panels are 64-byte aligned"
        );
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        let (ap, bp) = (a.as_ptr(), b.as_ptr());
        for i in 0..kc {
            // SAFETY: i < kc, within `b` (aligned: 64 floats a step) and `a`.
            unsafe {
                let row = bp.add(i * NR4);
                let bv = [
                    _mm512_load_ps(row),
                    _mm512_load_ps(row.add(16)),
                    _mm512_load_ps(row.add(32)),
                    _mm512_load_ps(row.add(48)),
                ];
                let step = ap.add(i * MR4);
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(f32::from_bits(*step.add(r)));
                    for (acc, bv) in acc.iter_mut().zip(&bv) {
                        *acc = _mm512_fmadd_ps(av, *bv, *acc);
                    }
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            for (v, acc) in acc.iter().enumerate() {
                let live = cols.saturating_sub(v * NR).min(NR);
                if live == 0 {
                    break;
                }
                let mask: __mmask16 = if live == NR { !0 } else { (1u16 << live) - 1 };
                // SAFETY: row r of the tile has `cols` writable values at c + r·ldc; the
                // mask keeps every load and store within them.
                unsafe {
                    let out = c.add(r * ldc + v * NR);
                    let sum = if first {
                        *acc
                    } else {
                        _mm512_add_ps(*acc, _mm512_maskz_loadu_ps(mask, out))
                    };
                    _mm512_mask_storeu_ps(out, mask, sum);
                }
            }
        }
    }

    /// Adds (or, when `first`, stores) a tile's accumulators to `cols` values of `R` rows of
    /// `c`, `ldc` apart.
    ///
    /// # Safety
    /// AVX-512F; `c` addresses `R` rows `ldc` apart with `cols ≤ 16` writable values each.
    #[target_feature(enable = "avx512f")]
    unsafe fn store<const R: usize>(
        acc: &[__m512; R],
        c: *mut f32,
        ldc: usize,
        cols: usize,
        first: bool,
    ) {
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

    /// `C[R × cols] (+)= A[R × kc] · B[kc × 16]`, the tile in 512-bit registers, `a` holding
    /// kc steps of 14 values (the rows side by side, as f32 bits).
    ///
    /// # Safety
    /// AVX-512F; `c` as in [`store`].
    #[target_feature(enable = "avx512f")]
    unsafe fn micro_wide<const R: usize>(
        a: &[u32],
        b: &[f32],
        kc: usize,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        first: bool,
    ) {
        assert!(R <= MR_WIDE && b.len() >= kc * NR && a.len() >= kc * MR_WIDE && kc > 0);
        let mut acc = [_mm512_setzero_ps(); R];
        let (ap, bp) = (a.as_ptr(), b.as_ptr());
        if R == MR_WIDE {
            // SAFETY: the loop reads kc steps of 16 from `b` and of 14 from `a`.
            unsafe { full_tile::<false>(&mut acc, ap, bp.cast(), kc) };
        } else {
            for i in 0..kc {
                // SAFETY: i < kc, within `b` and `a`.
                unsafe {
                    let bv = _mm512_loadu_ps(bp.add(i * NR));
                    let step = ap.add(i * MR_WIDE);
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let av = _mm512_set1_ps(f32::from_bits(*step.add(r)));
                        *acc = _mm512_fmadd_ps(av, bv, *acc);
                    }
                }
            }
        }
        // SAFETY: the caller's contract.
        unsafe { store(&acc, c, ldc, cols, first) };
    }

    /// [`micro_wide`] on bf16 pairs: each step multiplies one input pair per row with one pair
    /// row of the panel and adds both products.
    ///
    /// # Safety
    /// AVX-512F and AVX512_BF16; `c` as in [`store`].
    #[target_feature(enable = "avx512f,avx512bf16")]
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
            // SAFETY: the loop reads kc2 steps of 16 from `b` and of 14 from `a`.
            unsafe { full_tile::<true>(&mut acc, ap, bp.cast(), kc2) };
        } else {
            for i in 0..kc2 {
                // SAFETY: i < kc2, within `b` and `a`; both vector types are 64 bytes of
                // plain bits.
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
        // SAFETY: the caller's contract.
        unsafe { store(&acc, c, ldc, cols, first) };
    }

    /// The steps of a whole 14-row tile, in assembly: each row's input (a value, or a bf16
    /// pair with `BF16`) is broadcast by the multiply itself (`{1to16}`), which the compiler
    /// does not emit for these intrinsics; a separate broadcast per row and step cost a
    /// quarter of the kernel's speed.
    ///
    /// # Safety
    /// AVX-512F, and AVX512_BF16 with `BF16`; `acc` has 14 accumulators (any other length
    /// panics); `ap` addresses `kc · 14` and `bp` `kc · 64` readable bytes; `kc > 0`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn full_tile<const BF16: bool>(
        acc: &mut [__m512],
        ap: *const u32,
        bp: *const u8,
        kc: usize,
    ) {
        let [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13] = acc else {
            panic!("a full tile has 14 rows");
        };
        macro_rules! steps {
            ($op:literal) => {
                // SAFETY: the caller's contract; the loop runs kc ≥ 1 times, reading 56 bytes
                // at `ap` and 64 at `bp` per step, and writes only the named registers.
                unsafe {
                    std::arch::asm!(
                        "2:",
                        "vmovups {b}, zmmword ptr [{bp}]",
                        concat!($op, " {a0}, {b}, dword ptr [{ap}]{{1to16}}"),
                        concat!($op, " {a1}, {b}, dword ptr [{ap} + 4]{{1to16}}"),
                        concat!($op, " {a2}, {b}, dword ptr [{ap} + 8]{{1to16}}"),
                        concat!($op, " {a3}, {b}, dword ptr [{ap} + 12]{{1to16}}"),
                        concat!($op, " {a4}, {b}, dword ptr [{ap} + 16]{{1to16}}"),
                        concat!($op, " {a5}, {b}, dword ptr [{ap} + 20]{{1to16}}"),
                        concat!($op, " {a6}, {b}, dword ptr [{ap} + 24]{{1to16}}"),
                        concat!($op, " {a7}, {b}, dword ptr [{ap} + 28]{{1to16}}"),
                        concat!($op, " {a8}, {b}, dword ptr [{ap} + 32]{{1to16}}"),
                        concat!($op, " {a9}, {b}, dword ptr [{ap} + 36]{{1to16}}"),
                        concat!($op, " {a10}, {b}, dword ptr [{ap} + 40]{{1to16}}"),
                        concat!($op, " {a11}, {b}, dword ptr [{ap} + 44]{{1to16}}"),
                        concat!($op, " {a12}, {b}, dword ptr [{ap} + 48]{{1to16}}"),
                        concat!($op, " {a13}, {b}, dword ptr [{ap} + 52]{{1to16}}"),
                        "add {ap}, 56",
                        "add {bp}, 64",
                        "dec {n}",
                        "jnz 2b",
                        ap = inout(reg) ap => _,
                        bp = inout(reg) bp => _,
                        n = inout(reg) kc => _,
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
            };
        }
        // The multiply-adds accumulate in the order the intrinsics paths do (b · a + acc).
        if BF16 {
            steps!("vdpbf16ps");
        } else {
            steps!("vfmadd231ps");
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
            (200, 300, 130),
        ] {
            let x = crate::cpu::pattern(rows * k, 7, 19, 9.0);
            let w = crate::cpu::pattern(k * n, 5, 23, 11.0);
            assert!(Packed::new(&w, k, n, false).is_some());
            let want = naive(&x, &w, rows, k, n);
            // The 512-bit kernels where the CPU has them, and the 256-bit one always.
            let kernels = if wide_available() {
                vec![Kernel::Avx512, Kernel::Avx512x4, Kernel::Avx2]
            } else {
                vec![Kernel::Avx2]
            };
            for kernel in kernels {
                let packed = Packed::fp32(&w, k, n, kernel);
                assert_eq!(packed.unpacked(), w);
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
            let x = crate::cpu::pattern(rows * k, 7, 19, 9.3);
            let w = crate::cpu::pattern(k * n, 5, 23, 11.7);
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
