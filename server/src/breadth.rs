//! Which folders are too broad to be a library: the root of a file system, or the home folder
//! itself. Crawling either would index every icon, cache and download; only the command line
//! may ask for it (`--allow-broad-library`).

use std::path::Path;

/// Whether `folder` (resolved) is too broad to be a library.
pub fn too_broad(folder: &Path, home: Option<&Path>) -> bool {
    let real = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    let home = home.map(|h| std::fs::canonicalize(h).unwrap_or_else(|_| h.to_path_buf()));
    real.parent().is_none() || home.is_some_and(|h| h == real)
}

/// What a too-broad folder is, for the message.
pub fn kind(path: &Path) -> &'static str {
    if path.parent().is_none() {
        "the whole disk"
    } else {
        "your whole home folder"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_and_the_home_folder_are_too_broad_and_folders_inside_are_not() {
        let home = tempfile::tempdir().expect("tempdir");
        let pictures = home.path().join("Pictures");
        std::fs::create_dir_all(&pictures).expect("mkdir");
        assert!(too_broad(Path::new("/"), Some(home.path())));
        assert!(too_broad(home.path(), Some(home.path())));
        assert!(too_broad(&pictures.join(".."), Some(home.path())));
        assert!(!too_broad(&pictures, Some(home.path())));
        assert!(!too_broad(&pictures, None));
    }
}
