//! CPU fast paths for elementwise work that burn's CPU backend does slowly. burn-flex computes
//! GELU one element at a time through libm's `erff` on one thread (14 ns an element, optimised);
//! at Florence-2's first stage that is 19 million elements per MLP. Here the same function runs
//! on every core with the error-function formula PyTorch's vectorised CPU kernel uses
//! (Abramowitz and Stegun 7.1.26: absolute error below 1.5e-7, 6e-7 in f32), so results stay in the
//! parity bounds. On any other device the tensor goes to burn's own op.

use burn::tensor::activation::gelu as burn_gelu;
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

/// erf(x), |error| < 1.5e-7 (the formula of PyTorch's `Vectorized<float>::erf`).
#[inline(always)]
fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A1: f32 = 0.254_829_6;
    const A2: f32 = -0.284_496_74;
    const A3: f32 = 1.421_413_8;
    const A4: f32 = -1.453_152_1;
    const A5: f32 = 1.061_405_4;
    let a = x.abs();
    let t = 1.0 / (P * a + 1.0);
    let r = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
    let y = 1.0 - r * (-a * a).exp();
    y.copysign(x)
}

/// Exact (erf) GELU, `x · ½ · (1 + erf(x/√2))`.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if device != Device::flex() || x.dtype() != DType::F32 {
        return burn_gelu(x);
    }
    let mut data: TensorData = x.into_data();
    let Ok(values) = data.as_mut_slice::<f32>() else {
        return burn_gelu(Tensor::from_data(data, &device));
    };
    values.par_chunks_mut(1 << 14).for_each(|chunk| {
        for v in chunk {
            *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
        }
    });
    Tensor::<D>::from_data(data, &device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_within_its_bound_of_libm() {
        let worst = (-60_000..=60_000)
            .map(|i| i as f32 / 10_000.0)
            .map(|x| (erf(x) as f64 - libm::erf(x as f64)).abs())
            .fold(0.0, f64::max);
        assert!(worst < 6e-7, "erf off by {worst}");
    }

    #[test]
    fn gelu_matches_burns_on_the_cpu() {
        let device = Device::flex();
        let x = Tensor::<2>::from_data(
            TensorData::new(
                (0..4096)
                    .map(|i| (i as f32 - 2048.0) / 300.0)
                    .collect::<Vec<_>>(),
                [64, 64],
            ),
            &device,
        );
        let ours = gelu(x.clone()).try_into_vec_as::<f32>().expect("f32");
        let theirs = burn_gelu(x).try_into_vec_as::<f32>().expect("f32");
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-6, "gelu off by {worst}");
    }
}
