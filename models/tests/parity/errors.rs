//! Broken model folders fail with errors that name what is wrong and where.

use std::path::Path;

use trove_models::{Compute, Embedder, Error};

use crate::util::fixtures;

/// A copy of the tiny CLIP folder with `edit` applied to its checkpoint.
fn broken_copy(edit: impl FnOnce(&mut Vec<(String, Vec<usize>, Vec<u8>)>)) -> tempfile::TempDir {
    let src = fixtures().join("tiny-clip");
    let tmp = tempfile::tempdir().expect("tempdir");
    for f in ["config.json", "preprocessor_config.json", "tokenizer.json"] {
        std::fs::copy(src.join(f), tmp.path().join(f)).expect("copy");
    }
    let bytes = std::fs::read(src.join("model.safetensors")).expect("read");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("parse");
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.shape().to_vec(), view.data().to_vec()))
        .collect();
    edit(&mut tensors);
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, shape, data)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F16, shape.clone(), data)
                    .expect("view");
            (n.clone(), view)
        })
        .collect();
    safetensors::serialize_to_file(views, None, &tmp.path().join("model.safetensors"))
        .expect("write");
    tmp
}

fn load(dir: &Path) -> Error {
    Embedder::load(dir, &Compute::cpu()).expect_err("must fail")
}

#[test]
fn a_missing_tensor_is_named_with_its_file_and_shape() {
    let tmp = broken_copy(|t| t.retain(|(n, _, _)| n != "vision_model.post_layernorm.weight"));
    let err = load(tmp.path()).to_string();
    assert!(err.contains("vision_model.post_layernorm.weight"), "{err}");
    assert!(err.contains("model.safetensors"), "{err}");
    assert!(err.contains("[16]"), "{err}");
}

#[test]
fn a_mis_shaped_tensor_is_named_with_both_shapes() {
    let tmp = broken_copy(|t| {
        let fc1 = t
            .iter_mut()
            .find(|(n, _, _)| n == "text_model.encoder.layers.1.mlp.fc1.weight")
            .expect("present");
        // [32, 16] -> [16, 32]: same bytes, wrong shape.
        fc1.1 = vec![16, 32];
    });
    let err = load(tmp.path()).to_string();
    assert!(
        err.contains("text_model.encoder.layers.1.mlp.fc1.weight"),
        "{err}"
    );
    assert!(
        err.contains("[32, 16]") && err.contains("[16, 32]"),
        "{err}"
    );
}

#[test]
fn a_missing_file_says_which_files_a_model_folder_needs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = load(tmp.path()).to_string();
    assert!(
        err.contains("config.json") && err.contains("tokenizer.json"),
        "{err}"
    );
}

/// A SigLIP v1 folder as its repository has it: `spiece.model`, no `tokenizer.json`. A CLIP
/// folder still needs its `tokenizer.json`.
#[test]
fn siglip_loads_with_spiece_model_instead_of_tokenizer_json() {
    let src = fixtures().join("tiny-siglip");
    let tmp = tempfile::tempdir().expect("tempdir");
    for f in [
        "config.json",
        "preprocessor_config.json",
        "model.safetensors",
    ] {
        std::fs::copy(src.join(f), tmp.path().join(f)).expect("copy");
    }
    let err = load(tmp.path()).to_string();
    assert!(
        err.contains("tokenizer.json (or, for SigLIP v1, spiece.model)"),
        "{err}"
    );
    assert_eq!(trove_models::missing_files(tmp.path()), ["tokenizer.json"]);
    std::fs::copy(
        fixtures().join("siglip-spiece/spiece.model"),
        tmp.path().join("spiece.model"),
    )
    .expect("copy");
    assert!(trove_models::missing_files(tmp.path()).is_empty());
    let model = Embedder::load(tmp.path(), &Compute::cpu()).expect("loads");
    let ids = model
        .tokenizer()
        .encode("a photo of a cat")
        .expect("encodes");
    assert_eq!(ids.last(), Some(&1), "{ids:?}");
    assert_eq!(model.tokenizer().token_id("</s>"), Some(1));

    let clip = tempfile::tempdir().expect("tempdir");
    let src = fixtures().join("tiny-clip");
    for f in [
        "config.json",
        "preprocessor_config.json",
        "model.safetensors",
    ] {
        std::fs::copy(src.join(f), clip.path().join(f)).expect("copy");
    }
    std::fs::copy(
        fixtures().join("siglip-spiece/spiece.model"),
        clip.path().join("spiece.model"),
    )
    .expect("copy");
    let err = load(clip.path()).to_string();
    assert!(err.contains("no tokenizer.json"), "{err}");
}
