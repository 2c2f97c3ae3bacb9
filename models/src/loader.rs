//! Applying a Hugging Face `model.safetensors` to a module tree.
//!
//! The module fields carry the checkpoint's names, so the "mapping table" is burn's PyTorch
//! adapter plus this one list of tensors that the file may hold and the model does not use:
//!
//! | checkpoint tensor | why it is not a module parameter |
//! |---|---|
//! | `logit_scale`, `logit_bias` | training-time scores; retrieval ranks by cosine alone |
//! | `*.embeddings.position_ids` | a buffer (`arange`), recomputed |
//!
//! Linear weights are transposed (PyTorch `[out, in]` → burn `[in, out]`) and layer-norm
//! `weight`/`bias` become `gamma`/`beta` by `PyTorchToBurnAdapter`; every float tensor is cast to
//! the model's dtype (fp16 and bf16 checkpoints load into an fp32 model and vice versa).

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::Module;
use burn::store::{
    BurnToPyTorchAdapter, FloatCastAdapter, ModuleAdapter, ModuleSnapshot, ModuleStore,
    PyTorchToBurnAdapter, SafetensorsStore,
};
use burn::tensor::DType;

use crate::error::{Error, Result};

/// Checkpoint tensors that are expected and deliberately not loaded.
pub const IGNORED_TENSORS: &[&str] = &["logit_scale", "logit_bias"];

fn is_ignored(name: &str) -> bool {
    IGNORED_TENSORS.contains(&name) || name.ends_with("embeddings.position_ids")
}

/// What a successful load did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Tensors applied to module parameters (Hugging Face names).
    pub applied: Vec<String>,
    /// Tensors in the file that no parameter took, apart from [`IGNORED_TENSORS`].
    pub unused: Vec<String>,
    /// Tensors in the file that were deliberately left out (see the module docs).
    pub ignored: Vec<String>,
}

/// The parameters `module` expects, by Hugging Face name, with PyTorch-layout shapes.
pub fn expected_tensors<M: Module + ModuleSnapshot>(module: &M) -> BTreeMap<String, Vec<usize>> {
    module
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), false)
        .into_iter()
        .map(|t| (t.name, t.shape.to_vec()))
        .collect()
}

/// Loads `path` into `module`, casting floats to `dtype`.
///
/// Fails, naming the tensor, the file and the expected shape, when a parameter has no tensor or
/// a tensor has the wrong shape. Extra tensors are reported in [`LoadReport::unused`].
pub fn load_safetensors<M: Module + ModuleSnapshot>(
    module: &mut M,
    path: &Path,
    dtype: DType,
) -> Result<LoadReport> {
    let weights_error = |reason: String| Error::Weights {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let expected = expected_tensors(module);
    let mut store = SafetensorsStore::from_file(path)
        .with_from_adapter(PyTorchToBurnAdapter.chain(FloatCastAdapter::to(dtype)))
        .allow_partial(true)
        .validate(false);

    let found: BTreeMap<String, Vec<usize>> = store
        .get_all_tensors()
        .map_err(|e| weights_error(e.to_string()))?
        .iter()
        .map(|(name, t)| (name.clone(), t.shape.to_vec()))
        .collect();
    for (name, shape) in &expected {
        match found.get(name) {
            None => {
                return Err(Error::MissingTensor {
                    path: path.to_path_buf(),
                    tensor: name.clone(),
                    expected: shape.clone(),
                })
            }
            Some(actual) if actual != shape => {
                return Err(Error::TensorShape {
                    path: path.to_path_buf(),
                    tensor: name.clone(),
                    expected: shape.clone(),
                    found: actual.clone(),
                })
            }
            Some(_) => {}
        }
    }

    let result = module
        .load_from(&mut store)
        .map_err(|e| weights_error(e.to_string()))?;
    if let Some(err) = result.errors.first() {
        return Err(weights_error(format!("{err:?}")));
    }
    if let Some((missing, _)) = result.missing.first() {
        return Err(weights_error(format!("parameter {missing} was not set")));
    }

    let (ignored, unused): (Vec<String>, Vec<String>) = found
        .keys()
        .filter(|name| !expected.contains_key(*name))
        .cloned()
        .partition(|name| is_ignored(name));
    for name in &unused {
        tracing::warn!(tensor = %name, file = %path.display(), "checkpoint tensor not used by the model");
    }
    Ok(LoadReport {
        applied: expected.into_keys().collect(),
        unused,
        ignored,
    })
}
