//! Choosing where models run: burn-wgpu on a usable GPU (Vulkan, Metal, DX12), else burn's
//! `flex` CPU backend. Decided once per process, at run time.

use burn::tensor::{DType, Device};

use crate::error::{Error, Result};

/// The user's preference (`--device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DevicePreference {
    /// A hardware GPU if one is usable, else the CPU.
    #[default]
    Auto,
    /// Always the CPU.
    Cpu,
    /// A GPU (a software rasterizer counts), or an error.
    Gpu,
}

/// The arithmetic the user allows on the CPU (`--precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrecisionPreference {
    /// bf16 matrix products where the CPU multiplies bf16 natively (AVX512_BF16), else fp32.
    #[default]
    Auto,
    /// fp32 throughout.
    Fp32,
}

/// What was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComputeKind {
    /// burn's `flex` backend on the CPU's cores.
    Cpu,
    /// burn-wgpu on the named adapter.
    Gpu {
        /// The adapter's name.
        adapter: String,
        /// Whether it is a real card (not a software rasterizer).
        hardware: bool,
    },
}

/// A device plus the float dtype models use on it (fp16 on GPUs that support it).
#[derive(Debug, Clone)]
pub struct Compute {
    /// The burn device.
    pub device: Device,
    /// CPU or GPU.
    pub kind: ComputeKind,
    /// Float dtype of the model weights and activations.
    pub dtype: DType,
    /// On the CPU: the encoders' matrix products round their factors to bf16 and sum in fp32
    /// (AVX512_BF16); weights are kept in bf16 there, everything else stays fp32. About
    /// twice as fast; embeddings stay within cosine 0.999 of fp32 (`bench/precision.sh`).
    pub bf16: bool,
}

impl Compute {
    /// The CPU backend, fp32 (what the parity tests hold to the reference).
    pub fn cpu() -> Self {
        Compute {
            device: Device::flex(),
            kind: ComputeKind::Cpu,
            dtype: DType::F32,
            bf16: false,
        }
    }

    /// The CPU backend with bf16 matrix products where `precision` allows them and the CPU
    /// has AVX512_BF16, else fp32.
    pub fn cpu_with(precision: PrecisionPreference) -> Self {
        Compute {
            bf16: precision == PrecisionPreference::Auto && crate::cpu::bf16_available(),
            ..Compute::cpu()
        }
    }

    /// A short description for logs and status pages, e.g. `cpu (fp32)`.
    pub fn describe(&self) -> String {
        let dtype = if self.dtype == DType::F16 {
            "fp16"
        } else if self.bf16 {
            "bf16"
        } else {
            "fp32"
        };
        match &self.kind {
            ComputeKind::Cpu => format!("cpu ({dtype})"),
            ComputeKind::Gpu { adapter, .. } => format!("gpu: {adapter} ({dtype})"),
        }
    }

    /// Picks the device for `pref`, fp32 on the CPU, logging the choice.
    pub fn select(pref: DevicePreference) -> Result<Self> {
        Compute::select_with(pref, PrecisionPreference::Fp32)
    }

    /// Picks the device for `pref`, and on the CPU the arithmetic `precision` allows,
    /// logging the choice.
    pub fn select_with(pref: DevicePreference, precision: PrecisionPreference) -> Result<Self> {
        let cpu = || Compute::cpu_with(precision);
        let compute = match pref {
            DevicePreference::Cpu => cpu(),
            DevicePreference::Gpu => gpu()?,
            DevicePreference::Auto => match gpu() {
                Ok(c) if matches!(c.kind, ComputeKind::Gpu { hardware: true, .. }) => c,
                Ok(c) => {
                    tracing::info!(adapter = %c.describe(), "only a software GPU adapter was found; using the CPU");
                    cpu()
                }
                Err(err) => {
                    tracing::info!(reason = %err, "no usable GPU; using the CPU");
                    cpu()
                }
            },
        };
        tracing::info!(device = %compute.describe(), "models will run on");
        Ok(compute)
    }
}

#[cfg(feature = "wgpu")]
fn gpu() -> Result<Compute> {
    use std::sync::OnceLock;

    use burn::tensor::FloatDType;

    // wgpu may be initialised once per process; keep the outcome.
    static GPU: OnceLock<std::result::Result<Compute, String>> = OnceLock::new();
    GPU.get_or_init(|| {
        let mut device = Device::wgpu_options().init().map_err(|e| e.to_string())?;
        let identity = device.identity();
        let adapter = identity
            .as_ref()
            .map_or_else(|| "wgpu adapter".to_owned(), |i| i.name.clone());
        let hardware =
            identity.as_ref().is_some_and(|i| i.physical.is_some()) && !is_software(&adapter);
        let dtype = if device.supports_dtype(FloatDType::F16)
            && device.configure(FloatDType::F16).is_ok()
        {
            DType::F16
        } else {
            DType::F32
        };
        Ok(Compute {
            device,
            kind: ComputeKind::Gpu { adapter, hardware },
            dtype,
            bf16: false,
        })
    })
    .clone()
    .map_err(Error::NoGpu)
}

/// Software rasterizers that present themselves as GPUs; `auto` never picks them.
pub fn is_software(adapter: &str) -> bool {
    let name = adapter.to_ascii_lowercase();
    [
        "llvmpipe",
        "lavapipe",
        "swiftshader",
        "basic render",
        "softpipe",
    ]
    .iter()
    .any(|s| name.contains(s))
}

#[cfg(not(feature = "wgpu"))]
fn gpu() -> Result<Compute> {
    Err(Error::NoGpu(
        "this build of Trove has no GPU support (built without the `wgpu` feature)".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_adapters_are_recognised() {
        assert!(is_software("llvmpipe (LLVM 15.0.6, 256 bits)"));
        assert!(is_software("SwiftShader Device (Subzero)"));
        assert!(!is_software("NVIDIA H200"));
        assert!(!is_software("Apple M2 Pro"));
    }

    #[test]
    fn cpu_is_always_available() {
        let c = Compute::select(DevicePreference::Cpu).expect("cpu");
        assert_eq!(c.kind, ComputeKind::Cpu);
        assert_eq!(c.describe(), "cpu (fp32)");
        let fp32 =
            Compute::select_with(DevicePreference::Cpu, PrecisionPreference::Fp32).expect("cpu");
        assert!(!fp32.bf16);
        let auto =
            Compute::select_with(DevicePreference::Cpu, PrecisionPreference::Auto).expect("cpu");
        assert_eq!(auto.bf16, crate::cpu::bf16_available());
        let want = if auto.bf16 {
            "cpu (bf16)"
        } else {
            "cpu (fp32)"
        };
        assert_eq!(auto.describe(), want);
    }
}
