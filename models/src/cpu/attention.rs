//! Attention's two small products per (image, head) — scores `Q·Kᵀ` and context `P·V`, 50 × 64
//! × 50 for a ViT-B/32 image — on AVX-512. The `gemm` crate packs both operands and dispatches
//! on every call, which for products this small cost more than the arithmetic: 8 % of the
//! image tower's time for 2 % of its work. Here each output tile of up to 4 rows × 64 columns
//! stays in registers while one pass streams the right operand's rows and broadcasts the left
//! operand's values, read in place.

#![allow(unsafe_code)]

/// Output columns per register (16 floats).
const LANE: usize = 16;

/// Whether [`product`] can run here (AVX-512F).
pub fn available() -> bool {
    super::packed::wide_available()
}

/// `c[i·ldc + j] = Σ_t a[i·lda + t] · b[t·ldb + j]` for `i < m`, `j < n`, `t < k`. Each row of
/// `b` must hold `n` rounded up to a multiple of 16 readable values (the kernel reads whole
/// registers; columns past `n` are never stored). Only where [`available`].
#[allow(clippy::too_many_arguments)]
pub fn product(
    (m, n, k): (usize, usize, usize),
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) {
    assert!(available(), "attention::product needs AVX-512F");
    if m == 0 || n == 0 {
        return;
    }
    let wide = n.div_ceil(LANE) * LANE;
    assert!(k > 0 && a.len() >= (m - 1) * lda + k, "a holds m rows of k");
    assert!(
        b.len() >= (k - 1) * ldb + wide,
        "b holds k rows of n rounded up to 16"
    );
    assert!(c.len() >= (m - 1) * ldc + n, "c holds m rows of n");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is present (asserted), and the shapes were checked above.
    unsafe {
        x86::product(m, n, k, a, lda, b, ldb, c, ldc)
    };
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::LANE;

    /// Rows per tile.
    const ROWS: usize = 4;
    /// Registers per tile row (64 columns).
    const VECS: usize = 4;

    /// # Safety
    /// AVX-512F; the shapes as [`super::product`] checks them.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn product(
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
        c: &mut [f32],
        ldc: usize,
    ) {
        let (ap, bp, cp) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        let mut i = 0;
        while i < m {
            let rows = ROWS.min(m - i);
            let mut j = 0;
            while j < n {
                let cols = (VECS * LANE).min(n - j);
                // SAFETY: rows i..i + rows of `a` (k values each) and of `c` (columns j..j +
                // cols), and k rows of `b` from column j, whole registers included, are in
                // bounds by the caller's checks.
                unsafe {
                    let (a0, b0, c0) = (ap.add(i * lda), bp.add(j), cp.add(i * ldc + j));
                    macro_rules! tile {
                        ($r:literal, $v:literal) => {
                            micro::<$r, $v>(a0, lda, b0, ldb, k, c0, ldc, cols)
                        };
                    }
                    match (rows, cols.div_ceil(LANE)) {
                        (4, 4) => tile!(4, 4),
                        (4, 3) => tile!(4, 3),
                        (4, 2) => tile!(4, 2),
                        (4, _) => tile!(4, 1),
                        (3, 4) => tile!(3, 4),
                        (3, 3) => tile!(3, 3),
                        (3, 2) => tile!(3, 2),
                        (3, _) => tile!(3, 1),
                        (2, 4) => tile!(2, 4),
                        (2, 3) => tile!(2, 3),
                        (2, 2) => tile!(2, 2),
                        (2, _) => tile!(2, 1),
                        (_, 4) => tile!(1, 4),
                        (_, 3) => tile!(1, 3),
                        (_, 2) => tile!(1, 2),
                        (_, _) => tile!(1, 1),
                    }
                }
                j += cols;
            }
            i += rows;
        }
    }

    /// One tile: `R` rows × `V` registers of the output, `cols` of them stored.
    ///
    /// # Safety
    /// AVX-512F; `a` addresses `R` rows `lda` apart with `k` values, `b` `k` rows `ldb` apart
    /// with `16·V` values, `c` `R` rows `ldc` apart with `cols` writable values.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn micro<const R: usize, const V: usize>(
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        k: usize,
        c: *mut f32,
        ldc: usize,
        cols: usize,
    ) {
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for t in 0..k {
            // SAFETY: t < k: within every row of `a` and `b`, as the caller guarantees.
            unsafe {
                let row = b.add(t * ldb);
                let bv: [__m512; V] = std::array::from_fn(|v| _mm512_loadu_ps(row.add(v * LANE)));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(*a.add(r * lda + t));
                    for (acc, bv) in acc.iter_mut().zip(&bv) {
                        *acc = _mm512_fmadd_ps(av, *bv, *acc);
                    }
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            for (v, acc) in acc.iter().enumerate() {
                let live = cols.saturating_sub(v * LANE).min(LANE);
                let mask: __mmask16 = if live == LANE { !0 } else { (1u16 << live) - 1 };
                // SAFETY: the mask keeps the store within the row's `cols` values.
                unsafe { _mm512_mask_storeu_ps(c.add(r * ldc + v * LANE), mask, *acc) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_products_match_the_definition() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512F");
            return;
        }
        // Partial row tiles, partial and several column chunks, strided operands.
        for (m, n, k) in [
            (1usize, 1usize, 1usize),
            (5, 50, 64),
            (50, 50, 64),
            (7, 77, 33),
            (4, 130, 9),
        ] {
            let (lda, ldb, ldc) = (k + 3, n.div_ceil(16) * 16 + 5, n + 2);
            let a = crate::cpu::pattern(m * lda, 7, 19, 9.0);
            let b = crate::cpu::pattern(k * ldb, 5, 23, 11.0);
            let mut c = vec![f32::NAN; m * ldc];
            product((m, n, k), &a, lda, &b, ldb, &mut c, ldc);
            for i in 0..m {
                for j in 0..ldc {
                    let got = c[i * ldc + j];
                    if j >= n {
                        assert!(got.is_nan(), "{m}×{n}×{k}: column {j} past n was written");
                        continue;
                    }
                    let want: f32 = (0..k).map(|t| a[i * lda + t] * b[t * ldb + j]).sum();
                    assert!(
                        (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                        "{m}×{n}×{k} [{i},{j}]: {got} vs {want}"
                    );
                }
            }
        }
    }
}
