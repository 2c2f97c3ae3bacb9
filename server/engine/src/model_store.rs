//! Installed models under `<data dir>/models/<owner>--<name>/`, and fetching them from the
//! Hugging Face Hub (`trove model pull`).
//!
//! A model folder holds the four files of a Hugging Face repository that Trove reads
//! ([`trove_models::MODEL_FILES`]; SigLIP v1 repositories have `spiece.model` instead of
//! `tokenizer.json`). `--model` takes a repository id (looked up here) or a path
//! to such a folder.

use std::path::{Path, PathBuf};

use trove_models::demo::DEMO_MODEL;
use trove_models::{
    missing_files, Family, ModelConfig, Preprocessor, MODEL_FILES, SENTENCEPIECE_FILE,
};

use crate::fsutil::{write_atomic, WriteOptions};

/// The text reader's id in the store (see [`crate::text`]); not an embedding model.
pub const OCR_MODEL: &str = "paddleocr/pp-ocrv4";

/// Why a model could not be found, listed or fetched.
#[derive(Debug, thiserror::Error)]
pub enum ModelStoreError {
    /// A repository id that is not installed.
    #[error(
        "model {repo} is not installed (looked in {dir}). Run `trove model pull {repo}` on a machine \
         that reaches huggingface.co, or copy config.json, model.safetensors, tokenizer.json (or, for \
         SigLIP v1, spiece.model) and preprocessor_config.json from the model's Hugging Face \
         repository into that folder"
    )]
    NotInstalled {
        /// The repository id.
        repo: String,
        /// Where it was expected.
        dir: PathBuf,
    },
    /// Neither a folder nor an `owner/name` id.
    #[error("{0:?} is neither a model folder nor a Hugging Face repository id (owner/name)")]
    BadId(String),
    /// The hub refused or the network failed.
    #[error("downloading {file} of {repo} failed")]
    Download {
        /// The repository id.
        repo: String,
        /// The file.
        file: String,
        /// What went wrong.
        #[source]
        source: Box<hf_hub::api::sync::ApiError>,
    },
    /// A file could not be written or read.
    #[error("{path}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The built-in demo model could not be written into the store.
    #[error("cannot install the built-in demo model into {dir}")]
    Demo {
        /// Its folder.
        dir: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The downloaded files are not a model Trove can run.
    #[error("{repo} is not a model Trove can run")]
    Unsupported {
        /// The repository id.
        repo: String,
        /// Why.
        #[source]
        source: trove_models::Error,
    },
}

/// One installed model, as `trove model list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledModel {
    /// Repository id (`owner/name`).
    pub id: String,
    /// Its folder.
    pub dir: PathBuf,
    /// CLIP or SigLIP, when the folder is complete and valid.
    pub family: Option<Family>,
    /// Embedding width.
    pub dim: Option<usize>,
    /// Input image side.
    pub image_size: Option<usize>,
    /// Bytes on disk.
    pub bytes: u64,
    /// What is wrong with the folder, if anything.
    pub problem: Option<String>,
}

/// The models folder of a data directory.
#[derive(Debug, Clone)]
pub struct ModelStore {
    root: PathBuf,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ModelStoreError + '_ {
    move |source| ModelStoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl ModelStore {
    /// The store of a data directory.
    pub fn new(data_dir: &Path) -> Self {
        ModelStore {
            root: data_dir.join("models"),
        }
    }

    /// The folder holding installed models.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a repository id is installed.
    pub fn dir_for(&self, repo: &str) -> Result<PathBuf, ModelStoreError> {
        let valid = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        match repo.split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => {
                Ok(self.root.join(format!("{owner}--{name}")))
            }
            _ => Err(ModelStoreError::BadId(repo.to_owned())),
        }
    }

    /// The folder for `--model`: an existing folder as given, the built-in demo model
    /// (installed on first use), else an installed repository.
    pub fn resolve(&self, model: &str) -> Result<PathBuf, ModelStoreError> {
        self.resolve_with_demo(model, (DEMO_MODEL, &trove_models::demo::FILES))
    }

    /// The folder for `--captioner`: an existing folder as given, the built-in demo captioner
    /// (installed on first use), else an installed repository (`trove model pull
    /// florence-community/Florence-2-base`).
    pub fn resolve_captioner(&self, captioner: &str) -> Result<PathBuf, ModelStoreError> {
        let demo = &trove_models::demo::CAPTIONER_FILES;
        self.resolve_with_demo(captioner, (trove_models::demo::DEMO_CAPTIONER, demo))
    }

    /// An existing folder, the built-in `demo` (id and files) written on first use, or an
    /// installed repository.
    fn resolve_with_demo(
        &self,
        id: &str,
        (demo_id, demo_files): (&str, &[(&str, &[u8])]),
    ) -> Result<PathBuf, ModelStoreError> {
        let as_path = Path::new(id);
        if as_path.is_dir() {
            return Ok(as_path.to_path_buf());
        }
        let dir = self.dir_for(id)?;
        if id == demo_id {
            install_files(&dir, demo_files).map_err(|source| ModelStoreError::Demo {
                dir: dir.clone(),
                source,
            })?;
            return Ok(dir);
        }
        if missing_files(&dir).is_empty() {
            Ok(dir)
        } else {
            Err(ModelStoreError::NotInstalled {
                repo: id.to_owned(),
                dir,
            })
        }
    }

    /// Every folder in the store, sorted by id, with what is wrong with incomplete ones.
    pub fn list(&self) -> Result<Vec<InstalledModel>, ModelStoreError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&self.root)(e)),
        };
        let mut models = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error(&self.root))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = name.replacen("--", "/", 1);
            // The text reader lives here too, but is not an embedding model.
            if name.starts_with('.') || !entry.path().is_dir() || id == OCR_MODEL {
                continue;
            }
            models.push(describe(&entry.path(), id));
        }
        models.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(models)
    }

    /// Downloads a repository's model files from the hub (or `HF_ENDPOINT`) and installs them
    /// atomically: a failed pull leaves no half-installed model.
    pub fn pull(&self, repo: &str, progress: bool) -> Result<InstalledModel, ModelStoreError> {
        let dir = self.dir_for(repo)?;
        let cache = self.root.join(".hf-cache");
        let api = hf_hub::api::sync::ApiBuilder::from_env()
            .with_cache_dir(cache)
            .with_progress(progress)
            .build()
            .map_err(|e| ModelStoreError::Download {
                repo: repo.to_owned(),
                file: String::new(),
                source: Box::new(e),
            })?;
        let remote = api.model(repo.to_owned());
        let staging = self.root.join(format!(
            ".{}.partial",
            dir.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        ));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(io_error(&staging))?;
        for file in MODEL_FILES {
            let download_error = |file: &str| {
                let repo = repo.to_owned();
                let file = file.to_owned();
                move |source| ModelStoreError::Download {
                    repo,
                    file,
                    source: Box::new(source),
                }
            };
            let (file, cached) = match remote.download(file) {
                Ok(cached) => (file, cached),
                // SigLIP v1 repositories ship SentencePiece's model instead.
                Err(e) if file == "tokenizer.json" => match remote.download(SENTENCEPIECE_FILE) {
                    Ok(cached) => (SENTENCEPIECE_FILE, cached),
                    Err(_) => return Err(download_error(file)(e)),
                },
                Err(e) => return Err(download_error(file)(e)),
            };
            let cached = std::fs::canonicalize(&cached).map_err(io_error(&cached))?;
            let target = staging.join(file);
            // A hard link shares the cached blob's disk space; copy across file systems.
            if std::fs::hard_link(&cached, &target).is_err() {
                std::fs::copy(&cached, &target).map_err(io_error(&target))?;
            }
        }
        // Captioners (Florence-2) say how they generate; embedding models have no such file.
        if let Ok(cached) = remote.download("generation_config.json") {
            let target = staging.join("generation_config.json");
            std::fs::copy(&cached, &target).map_err(io_error(&target))?;
        }
        let unsupported = |source| ModelStoreError::Unsupported {
            repo: repo.to_owned(),
            source,
        };
        if let Err(e) = ModelConfig::from_file(&staging.join("config.json")) {
            // A captioner is welcome too; if it is not one either, the embedder's error says
            // what is wrong.
            trove_models::florence2::Florence2Config::read(&staging).map_err(|_| unsupported(e))?;
        }
        Preprocessor::from_file(&staging.join("preprocessor_config.json")).map_err(unsupported)?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io_error(&dir))?;
        }
        std::fs::rename(&staging, &dir).map_err(io_error(&dir))?;
        Ok(describe(&dir, repo.to_owned()))
    }
}

/// What identifies a model's weights: BLAKE3 of its `config.json` and `model.safetensors`
/// (hex). Embeddings in the catalog are kept per model name and fingerprint, so new weights
/// under an old name (an updated model, another Trove's demo model) re-embed the library; a
/// captioner's captions likewise. The error names the file that could not be read.
pub fn weights_fingerprint(dir: &Path) -> Result<String, (PathBuf, std::io::Error)> {
    let mut hasher = blake3::Hasher::new();
    for name in ["config.json", "model.safetensors"] {
        let path = dir.join(name);
        let mut file = std::fs::File::open(&path).map_err(|e| (path.clone(), e))?;
        hasher
            .update_reader(&mut file)
            .map_err(|e| (path.clone(), e))?;
    }
    Ok(hasher.finalize().to_hex()[..32].to_owned())
}

/// What is in a model folder: family, width and size, or what is wrong with it.
pub fn describe(dir: &Path, id: String) -> InstalledModel {
    let bytes = MODEL_FILES
        .iter()
        .chain(&[SENTENCEPIECE_FILE])
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum();
    let mut model = InstalledModel {
        id,
        dir: dir.to_path_buf(),
        family: None,
        dim: None,
        image_size: None,
        bytes,
        problem: None,
    };
    let missing = missing_files(dir);
    if !missing.is_empty() {
        model.problem = Some(format!("incomplete: no {}", missing.join(", ")));
        return model;
    }
    match ModelConfig::from_file(&dir.join("config.json")) {
        Ok(cfg) => {
            model.family = Some(cfg.family());
            model.dim = Some(cfg.embed_dim());
            model.image_size = Some(cfg.image_size());
        }
        Err(e) => model.problem = Some(e.to_string()),
    }
    model
}

/// Writes the built-in demo model's files ([`trove_models::demo::FILES`]) into `dir`, replacing
/// any that differ, each atomically, so a crash never leaves a half-written model.
pub fn install_demo(dir: &Path) -> std::io::Result<()> {
    install_files(dir, &trove_models::demo::FILES)
}

fn install_files(dir: &Path, files: &[(&str, &[u8])]) -> std::io::Result<()> {
    for &(name, bytes) in files {
        let path = dir.join(name);
        let current = std::fs::metadata(&path).map(|m| m.len()).ok();
        if current == Some(bytes.len() as u64)
            && std::fs::read(&path).is_ok_and(|on_disk| on_disk == bytes)
        {
            continue;
        }
        let options = WriteOptions {
            durable: true,
            ..WriteOptions::default()
        };
        write_atomic(&path, bytes, options)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_ids_map_to_folders_and_hostile_ids_are_refused() {
        let store = ModelStore::new(Path::new("/data"));
        assert_eq!(
            store
                .dir_for("openai/clip-vit-base-patch32")
                .expect("valid"),
            Path::new("/data/models/openai--clip-vit-base-patch32")
        );
        for bad in ["clip", "../x", "a/..", "a/b/c", "/abs", "a/ b", ""] {
            assert!(store.dir_for(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_missing_model_says_how_to_get_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = ModelStore::new(tmp.path());
        let err = store
            .resolve("google/siglip-base-patch16-224")
            .expect_err("not installed")
            .to_string();
        assert!(
            err.contains("trove model pull google/siglip-base-patch16-224"),
            "{err}"
        );
        assert!(err.contains("tokenizer.json"), "{err}");
        assert!(err.contains("google--siglip-base-patch16-224"), "{err}");
    }

    #[test]
    fn the_demo_model_installs_a_loadable_folder_and_repairs_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("demo");
        install_demo(&target).expect("installs");
        ModelConfig::from_file(&target.join("config.json")).expect("valid config");
        std::fs::write(target.join("config.json"), b"{}").expect("corrupts");
        install_demo(&target).expect("repairs");
        assert_eq!(
            std::fs::read(target.join("config.json")).expect("reads"),
            trove_models::demo::FILES[0].1
        );
        let store = ModelStore::new(dir.path());
        let resolved = store.resolve(DEMO_MODEL).expect("installs on first use");
        assert_eq!(
            describe(&resolved, DEMO_MODEL.into()).family,
            Some(Family::Clip)
        );
    }

    #[test]
    fn listing_reports_incomplete_folders() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = ModelStore::new(tmp.path());
        assert!(store.list().expect("empty").is_empty());
        let dir = store.dir_for("me/half").expect("valid");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("config.json"), "{}").expect("write");
        let listed = store.list().expect("lists");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, "me/half");
        let problem = listed[0].problem.as_deref().expect("a problem");
        assert!(problem.contains("model.safetensors"), "{problem}");
    }
}
