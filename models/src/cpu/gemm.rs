//! A safe face on the `gemm` crate (the matrix kernels burn's CPU backend calls too): strided
//! matrix views over slices whose every element is checked to lie inside its slice before the
//! kernel runs. This file holds the only `unsafe` in the CPU path.

#![allow(unsafe_code)]

/// A read-only `rows × cols` matrix inside a slice: element `(r, c)` is
/// `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// A writable matrix inside a slice, laid out as [`MatRef`].
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// Whether the last element a view addresses lies inside a slice of `len` elements.
fn fits(len: usize, rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    (rows - 1)
        .checked_mul(row_stride)
        .and_then(|r| {
            (cols - 1)
                .checked_mul(col_stride)
                .and_then(|c| r.checked_add(c))
        })
        .is_some_and(|last| last < len)
}

impl<'a> MatRef<'a> {
    /// A strided view; panics when it would read past the slice (a caller's shape bug).
    pub fn new(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        assert!(
            fits(data.len(), rows, cols, row_stride, col_stride),
            "a {rows}×{cols} view with strides ({row_stride}, {col_stride}) overruns {} elements",
            data.len()
        );
        MatRef {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// A dense row-major `rows × cols` matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The same elements read as the transpose.
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

impl<'a> MatMut<'a> {
    /// A strided writable view; panics when it would write past the slice.
    pub fn new(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        assert!(
            fits(data.len(), rows, cols, row_stride, col_stride),
            "a {rows}×{cols} view with strides ({row_stride}, {col_stride}) overruns {} elements",
            data.len()
        );
        // Distinct (row, col) pairs must be distinct elements, or the kernel's threads would
        // race on one: rows and columns that step by zero, or interleave, alias.
        assert!(
            rows <= 1
                || cols <= 1
                || (col_stride >= 1 && row_stride >= cols * col_stride)
                || (row_stride >= 1 && col_stride >= rows * row_stride),
            "a writable view must not alias its own elements"
        );
        MatMut {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// A dense row-major `rows × cols` matrix.
    pub fn rows(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }
}

/// Whether the kernel may spread one product over rayon's threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// All of rayon's pool (large products).
    All,
    /// The calling thread only (small products already run inside a parallel loop).
    One,
}

/// `dst = scale · a · b`, or `dst += scale · a · b` with `accumulate`.
///
/// # Panics
/// When the shapes disagree.
pub fn matmul(
    dst: MatMut<'_>,
    a: MatRef<'_>,
    b: MatRef<'_>,
    scale: f32,
    accumulate: bool,
    threads: Threads,
) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    assert_eq!(
        (dst.rows, dst.cols),
        (a.rows, b.cols),
        "output shape differs"
    );
    let (m, n, k) = (dst.rows, dst.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                for c in 0..n {
                    dst.data[r * dst.row_stride + c * dst.col_stride] = 0.0;
                }
            }
        }
        return;
    }
    let parallelism = match threads {
        Threads::All => gemm::Parallelism::Rayon(0),
        Threads::One => gemm::Parallelism::None,
    };
    let stride = |s: usize| isize::try_from(s).expect("a stride fits isize");
    // SAFETY: every view was checked on construction to address only elements inside its
    // slice, and `dst` not to alias itself; `dst` is borrowed mutably, so no input overlaps it.
    // The shapes were checked above. The kernel reads `dst` only when `read_dst` is set.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            stride(dst.col_stride),
            stride(dst.row_stride),
            accumulate,
            a.data.as_ptr(),
            stride(a.col_stride),
            stride(a.row_stride),
            b.data.as_ptr(),
            stride(b.col_stride),
            stride(b.row_stride),
            1.0,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: MatRef<'_>, b: MatRef<'_>) -> Vec<f32> {
        let mut out = vec![0.0; a.rows * b.cols];
        for r in 0..a.rows {
            for c in 0..b.cols {
                out[r * b.cols + c] = (0..a.cols)
                    .map(|i| {
                        a.data[r * a.row_stride + i * a.col_stride]
                            * b.data[i * b.row_stride + c * b.col_stride]
                    })
                    .sum();
            }
        }
        out
    }

    #[test]
    fn strided_products_match_the_definition() {
        let a: Vec<f32> = (0..7 * 5).map(|i| (i % 11) as f32 - 5.0).collect();
        let b: Vec<f32> = (0..5 * 9).map(|i| (i % 7) as f32 * 0.5).collect();
        for threads in [Threads::All, Threads::One] {
            // a as 7×5 row-major; b read as the transpose of a 9×5 row-major matrix.
            let (ma, mb) = (MatRef::rows(&a, 7, 5), MatRef::rows(&b, 9, 5).t());
            let mut out = vec![1.0; 7 * 9];
            matmul(MatMut::rows(&mut out, 7, 9), ma, mb, 2.0, false, threads);
            let want: Vec<f32> = naive(ma, mb).iter().map(|v| v * 2.0).collect();
            assert_eq!(out, want);
            // Accumulating adds to what is there.
            matmul(MatMut::rows(&mut out, 7, 9), ma, mb, 1.0, true, threads);
            let want: Vec<f32> = naive(ma, mb).iter().map(|v| v * 3.0).collect();
            assert_eq!(out, want);
        }
    }

    #[test]
    #[should_panic(expected = "overruns")]
    fn a_view_past_its_slice_is_refused() {
        let data = [0.0; 10];
        let _ = MatRef::new(&data, 3, 4, 4, 1);
    }

    #[test]
    #[should_panic(expected = "alias")]
    fn a_self_aliasing_output_is_refused() {
        let mut data = [0.0; 10];
        let _ = MatMut::new(&mut data, 3, 3, 1, 1);
    }
}
