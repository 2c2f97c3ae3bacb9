//! The demo model: a small CLIP that Trove trained itself on its own synthetic images
//! (`models/scripts/train_demo.py`), built into the binary so search works on a fresh machine
//! with no network and no downloaded weights. It knows shapes, colours, counts, sizes,
//! positions, backgrounds and a few words on signs and memes, and nothing else.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// The model id that selects the demo model (`--model trove/demo-clip`).
pub const DEMO_MODEL: &str = "trove/demo-clip";

/// The demo model's files, as a Hugging Face model folder.
pub const FILES: [(&str, &[u8]); 4] = [
    (
        "config.json",
        include_bytes!("../assets/demo-clip/config.json"),
    ),
    (
        "model.safetensors",
        include_bytes!("../assets/demo-clip/model.safetensors"),
    ),
    (
        "tokenizer.json",
        include_bytes!("../assets/clip-tokenizer.json"),
    ),
    (
        "preprocessor_config.json",
        include_bytes!("../assets/demo-clip/preprocessor_config.json"),
    ),
];

/// Writes the demo model's files into `dir`, replacing any that differ. Each file is written
/// to a temporary name and renamed, so a crash never leaves a half-written model.
pub fn install(dir: &Path) -> Result<()> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    for (name, bytes) in FILES {
        let path = dir.join(name);
        let current = std::fs::metadata(&path).map(|m| m.len()).ok();
        if current == Some(bytes.len() as u64)
            && std::fs::read(&path).is_ok_and(|on_disk| on_disk == bytes)
        {
            continue;
        }
        let partial = dir.join(format!(".{name}.partial"));
        let mut file = std::fs::File::create(&partial).map_err(write_err(&partial))?;
        file.write_all(bytes).map_err(write_err(&partial))?;
        file.sync_all().map_err(write_err(&partial))?;
        std::fs::rename(&partial, &path).map_err(write_err(&path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_writes_a_loadable_folder_and_repairs_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("demo");
        install(&target).expect("installs");
        crate::ModelConfig::from_file(&target.join("config.json")).expect("valid config");
        std::fs::write(target.join("config.json"), b"{}").expect("corrupts");
        install(&target).expect("repairs");
        assert_eq!(
            std::fs::read(target.join("config.json")).expect("reads"),
            FILES[0].1
        );
    }
}
