//! The elementwise and row-wise work between the matrix products: layer norm, softmax, the MLP
//! activations and bias additions. Each is a plain loop that the compiler vectorises; `simd`
//! runs it inside a function compiled for the widest instruction set the CPU has (AVX2 + FMA or
//! AVX-512 on x86-64, detected once at run time by `pulp`), and sums run in eight lanes so they
//! vectorise without reassociating floats behind the compiler's back.

use crate::config::Activation;

/// Runs `f` compiled for the best instruction set this CPU supports.
#[inline(always)]
fn simd<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

const LANES: usize = 8;

/// Σ x, in eight lanes.
#[inline(always)]
fn sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// Σ (x - m)², in eight lanes.
#[inline(always)]
fn sum_sq_dev(x: &[f32], m: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += (v - m) * (v - m);
        }
    }
    acc.iter().sum::<f32>()
        + chunks
            .remainder()
            .iter()
            .map(|v| (v - m) * (v - m))
            .sum::<f32>()
}

/// max x, in eight lanes.
#[inline(always)]
fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a = a.max(*v);
        }
    }
    chunks
        .remainder()
        .iter()
        .chain(&acc)
        .fold(f32::NEG_INFINITY, |a, v| a.max(*v))
}

/// eˣ with a relative error below 2e-7 (Cephes' `expf`: range reduction by ln 2, a degree-5
/// polynomial, the power of two built in the exponent bits), branch-free so it vectorises.
/// Inputs are clamped to [-87.3, 88.3]: below, the result is under 1.3e-38; above, 2.1e38.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // Adding and subtracting 1.5 · 2²³ rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.3);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 0.166_666_65)
        * r
        + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// erf(x), |error| < 1.5e-7 (Abramowitz and Stegun 7.1.26, the formula of PyTorch's
/// vectorised CPU kernel).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A1: f32 = 0.254_829_6;
    const A2: f32 = -0.284_496_74;
    const A3: f32 = 1.421_413_8;
    const A4: f32 = -1.453_152_1;
    const A5: f32 = 1.061_405_4;
    let a = x.abs();
    let t = 1.0 / (P * a + 1.0);
    let r = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
    let y = 1.0 - r * exp(-a * a);
    y.copysign(x)
}

/// One activation of an element.
#[inline(always)]
fn activate(act: Activation, x: f32) -> f32 {
    match act {
        // x · sigmoid(1.702 x)
        Activation::QuickGelu => x / (1.0 + exp(-1.702 * x)),
        Activation::Gelu => 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2)),
        Activation::GeluTanh => {
            // 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))), tanh(y) = 1 - 2 / (e^{2y} + 1).
            const K: f32 = 0.797_884_6;
            let y = K * (x + 0.044_715 * x * x * x);
            0.5 * x * (2.0 - 2.0 / (exp(2.0 * y) + 1.0))
        }
    }
}

/// Layer norm of each `d`-wide row of `x` into `out`, then `x += after` on the same row (the
/// next product's bias, folded into the residual stream while the row is in cache).
pub fn layer_norm_rows(
    x: &mut [f32],
    out: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    after: Option<&[f32]>,
) {
    let d = gamma.len();
    simd(
        #[inline(always)]
        || {
            for (row, dst) in x.chunks_exact_mut(d).zip(out.chunks_exact_mut(d)) {
                let mean = sum(row) / d as f32;
                let rstd = 1.0 / (sum_sq_dev(row, mean) / d as f32 + eps).sqrt();
                for (((o, v), g), b) in dst.iter_mut().zip(&*row).zip(gamma).zip(beta) {
                    *o = (v - mean) * rstd * g + b;
                }
                if let Some(add) = after {
                    for (v, a) in row.iter_mut().zip(add) {
                        *v += a;
                    }
                }
            }
        },
    );
}

/// Adds `bias` to every row of `x` and applies `act` (or nothing).
pub fn bias_activate_rows(x: &mut [f32], bias: &[f32], act: Option<Activation>) {
    // One loop per activation, so each compiles to straight vector code.
    #[inline(always)]
    fn each(x: &mut [f32], bias: &[f32], f: impl Fn(f32) -> f32) {
        for row in x.chunks_exact_mut(bias.len()) {
            for (v, b) in row.iter_mut().zip(bias) {
                *v = f(*v + b);
            }
        }
    }
    simd(
        #[inline(always)]
        || match act {
            None => each(x, bias, |v| v),
            Some(Activation::QuickGelu) => each(x, bias, |v| activate(Activation::QuickGelu, v)),
            Some(Activation::Gelu) => each(x, bias, |v| activate(Activation::Gelu, v)),
            Some(Activation::GeluTanh) => each(x, bias, |v| activate(Activation::GeluTanh, v)),
        },
    );
}

/// Softmax of each `n`-wide row of `x` in place; with `causal`, row `i` keeps only its first
/// `i + 1 + offset` entries and the rest become 0 (the masked future).
pub fn softmax_rows(x: &mut [f32], n: usize, causal: bool, offset: usize) {
    simd(
        #[inline(always)]
        || {
            for (i, row) in x.chunks_exact_mut(n).enumerate() {
                let keep = if causal { (i + 1 + offset).min(n) } else { n };
                let (live, masked) = row.split_at_mut(keep);
                masked.fill(0.0);
                let m = max(live);
                for v in live.iter_mut() {
                    *v = exp(*v - m);
                }
                let inv = 1.0 / sum(live);
                for v in live.iter_mut() {
                    *v *= inv;
                }
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_its_bound() {
        let worst = (-87_000..=88_000)
            .map(|i| i as f32 / 1000.0)
            .map(|x| ((exp(x) as f64 - (x as f64).exp()) / (x as f64).exp()).abs())
            .fold(0.0, f64::max);
        assert!(worst < 2e-7, "relative error {worst}");
        // Far outside the range: finite and of the right size, never NaN.
        assert!(exp(-1e9) >= 0.0 && exp(-1e9) < 1.3e-38);
        assert!(exp(1e9).is_finite() && exp(1e9) > 1e38);
    }

    #[test]
    fn erf_is_within_its_bound() {
        let worst = (-60_000..=60_000)
            .map(|i| i as f32 / 10_000.0)
            .map(|x| (erf(x) as f64 - libm::erf(x as f64)).abs())
            .fold(0.0, f64::max);
        assert!(worst < 6e-7, "erf off by {worst}");
    }

    #[test]
    fn activations_match_their_definitions() {
        for i in -800..=800 {
            let x = i as f32 / 100.0;
            let xd = x as f64;
            let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
            let cases = [
                (Activation::QuickGelu, xd * sigmoid(1.702 * xd)),
                (
                    Activation::Gelu,
                    0.5 * xd * (1.0 + libm::erf(xd / 2f64.sqrt())),
                ),
                (
                    Activation::GeluTanh,
                    0.5 * xd
                        * (1.0
                            + ((2.0 / std::f64::consts::PI).sqrt() * (xd + 0.044715 * xd.powi(3)))
                                .tanh()),
                ),
            ];
            for (act, want) in cases {
                let got = activate(act, x) as f64;
                assert!(
                    (got - want).abs() < 2e-6,
                    "{act:?}({x}) = {got}, want {want}"
                );
            }
        }
    }

    #[test]
    fn layer_norm_and_softmax_rows() {
        let mut x: Vec<f32> = (0..30).map(|i| (i * 7 % 13) as f32).collect();
        let gamma: Vec<f32> = (0..10).map(|i| 1.0 + i as f32 / 10.0).collect();
        let beta = vec![0.5; 10];
        let mut out = vec![0.0; 30];
        let before = x.clone();
        layer_norm_rows(&mut x, &mut out, &gamma, &beta, 1e-5, Some(&[1.0; 10]));
        for (r, row) in before.chunks(10).enumerate() {
            let mean = row.iter().sum::<f32>() / 10.0;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 10.0;
            for c in 0..10 {
                let want = (row[c] - mean) / (var + 1e-5).sqrt() * gamma[c] + 0.5;
                assert!((out[r * 10 + c] - want).abs() < 1e-5);
                assert_eq!(x[r * 10 + c], row[c] + 1.0);
            }
        }

        let mut s: Vec<f32> = (0..12).map(|i| i as f32 * 0.3).collect();
        softmax_rows(&mut s, 4, true, 0);
        for (i, row) in s.chunks(4).enumerate() {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            assert!(row[i + 1..].iter().all(|v| *v == 0.0), "row {i}: {row:?}");
        }
    }
}
