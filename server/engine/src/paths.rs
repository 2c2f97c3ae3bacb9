//! Where things live inside a data directory.

use std::path::{Path, PathBuf};

/// Paths inside the data directory.
#[derive(Debug, Clone)]
pub struct DataPaths {
    /// The data directory.
    pub root: PathBuf,
    /// `catalog.db`: the SQLite catalog.
    pub catalog: PathBuf,
    /// `thumbs/`: grid thumbnails and lightbox previews, by content hash.
    pub thumbs: PathBuf,
    /// `index/`: one vector index per model.
    pub index: PathBuf,
    /// `models/`: installed models.
    pub models: PathBuf,
    /// `demo-library/`: the generated images crawled when there is nothing else to index.
    pub demo_library: PathBuf,
    /// `stand-ins/`: pictures standing in for originals that are offline or lost (an imported
    /// catalog's previews), crawled with the libraries.
    pub stand_ins: PathBuf,
}

impl DataPaths {
    /// The layout of `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        DataPaths {
            root: data_dir.to_path_buf(),
            catalog: data_dir.join("catalog.db"),
            thumbs: data_dir.join("thumbs"),
            index: data_dir.join("index"),
            models: data_dir.join("models"),
            demo_library: data_dir.join("demo-library"),
            stand_ins: data_dir.join("stand-ins"),
        }
    }

    /// The vector index file of a model: its id made safe as a file name.
    pub fn index_file(&self, model: &str) -> PathBuf {
        let slug: String = model
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let slug = slug.trim_start_matches(['.', '_']);
        let slug: String = slug.chars().take(120).collect();
        self.index.join(format!("{slug}.usearch"))
    }
}

/// Where the stand-ins of an imported catalog or library at `key` (its canonical path) are
/// kept: a folder of its own under `stand_ins` (`DataPaths::stand_ins`), named after it and a
/// hash of its path.
pub fn stand_in_folder(stand_ins: &Path, key: &Path) -> PathBuf {
    let stem = key
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let hash = blake3::hash(key.as_os_str().as_encoded_bytes()).to_hex();
    stand_ins.join(format!("{stem} {}", &hash.as_str()[..8]))
}

/// Forgets the stand-ins of a catalog or library that is no longer imported (the next crawl
/// forgets their images).
pub fn remove_stand_ins(stand_ins: &Path, key: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(stand_in_folder(stand_ins, key)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_files_are_named_safely_after_the_model() {
        let paths = DataPaths::new(Path::new("/data"));
        assert_eq!(
            paths.index_file("openai/clip-vit-base-patch32"),
            Path::new("/data/index/openai_clip-vit-base-patch32.usearch")
        );
        assert_eq!(
            paths.index_file("../../etc/passwd"),
            Path::new("/data/index/etc_passwd.usearch")
        );
    }
}
