//! The files behind an image id: its original (a regular file inside a library root; a path
//! never comes from a request), its grid thumbnail and its lightbox preview. Thumbnails and
//! previews are a cache, like the vector index: one that is missing or damaged is made again
//! from the original when asked for, and says so in the log.

use std::path::{Path, PathBuf};

use crate::catalog::{Catalog, CatalogError};
use crate::media::thumbs::{self, whole_jpeg, Thumbnails, GRID_HEIGHT, PREVIEW_SIDE};
use crate::media::{decode, DecodeLimits};
use crate::paths::DataPaths;

/// An original file, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its MIME type, from its bytes.
    pub mime: &'static str,
}

/// The image files of one data directory.
#[derive(Debug, Clone)]
pub struct ImageFiles {
    thumbs: Thumbnails,
}

/// Which cached size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    Grid,
    Preview,
}

impl ImageFiles {
    /// The image files of the data directory at `paths`.
    pub fn new(paths: &DataPaths) -> Self {
        ImageFiles {
            thumbs: Thumbnails::new(&paths.thumbs),
        }
    }

    /// The grid thumbnail of image `id` (JPEG), made again from the original if it is missing
    /// or damaged; `None` for an unknown id or an original that cannot be read.
    pub fn thumbnail(&self, catalog: &Catalog, id: i64) -> Result<Option<Vec<u8>>, CatalogError> {
        self.cached(catalog, id, Size::Grid)
    }

    /// The lightbox preview (at most [`PREVIEW_SIDE`] on its longer side) of image `id`, made
    /// from the original on first request and kept.
    pub fn preview(&self, catalog: &Catalog, id: i64) -> Result<Option<Vec<u8>>, CatalogError> {
        self.cached(catalog, id, Size::Preview)
    }

    fn cached(
        &self,
        catalog: &Catalog,
        id: i64,
        size: Size,
    ) -> Result<Option<Vec<u8>>, CatalogError> {
        let Some((hash, files)) = catalog.files_of(id)? else {
            return Ok(None);
        };
        let path = match size {
            Size::Grid => self.thumbs.grid_path(&hash),
            Size::Preview => self.thumbs.preview_path(&hash),
        };
        match std::fs::read(&path) {
            Ok(bytes) if whole_jpeg(&bytes) => return Ok(Some(bytes)),
            Ok(_) => {
                tracing::warn!(id, path = %path.display(), "a damaged thumbnail is made again")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if size == Size::Grid {
                    tracing::info!(id, "a missing grid thumbnail is made again");
                }
            }
            Err(e) => tracing::warn!(id, error = %e, "an unreadable thumbnail is made again"),
        }
        let Some(original) = first_inside_roots(catalog, &files)? else {
            return Ok(None);
        };
        Ok(make(&original, &path, size))
    }

    /// The bytes of one of image `id`'s files, with its MIME type. Only a regular file inside
    /// a library root is ever read: the path comes from the catalog, is resolved, and checked.
    pub fn original(&self, catalog: &Catalog, id: i64) -> Result<Option<Original>, CatalogError> {
        match catalog.files_of(id)? {
            Some((_, files)) => first_inside_roots(catalog, &files),
            None => Ok(None),
        }
    }
}

/// The first of `files` that can be read and is a regular file inside a library root.
fn first_inside_roots(
    catalog: &Catalog,
    files: &[PathBuf],
) -> Result<Option<Original>, CatalogError> {
    let roots: Vec<PathBuf> = catalog
        .roots()?
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .collect();
    Ok(files.iter().find_map(|path| read_inside(path, &roots)))
}

/// The file at `path` if it is a regular file whose real path lies inside one of `roots`.
fn read_inside(path: &Path, roots: &[PathBuf]) -> Option<Original> {
    let real = std::fs::canonicalize(path).ok()?;
    let inside = roots.iter().any(|r| real.starts_with(r));
    let regular = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    if !(inside && regular) {
        return None;
    }
    let bytes = std::fs::read(&real).ok()?;
    Some(Original {
        mime: mime_of(&bytes),
        path: real,
        bytes,
    })
}

/// The MIME type of an image file, from its first bytes.
pub fn mime_of(bytes: &[u8]) -> &'static str {
    match image::guess_format(bytes) {
        Ok(image::ImageFormat::Jpeg) => "image/jpeg",
        Ok(image::ImageFormat::Png) => "image/png",
        Ok(image::ImageFormat::WebP) => "image/webp",
        Ok(image::ImageFormat::Gif) => "image/gif",
        Ok(image::ImageFormat::Tiff) => "image/tiff",
        Ok(image::ImageFormat::Bmp) => "image/bmp",
        _ if bytes.get(4..8) == Some(b"ftyp") => "image/heic",
        _ => "application/octet-stream",
    }
}

/// Makes the cached `size` of `original` at `path` (kept for next time) and returns its bytes.
fn make(original: &Original, path: &Path, size: Size) -> Option<Vec<u8>> {
    let side = match size {
        Size::Grid => GRID_HEIGHT,
        Size::Preview => PREVIEW_SIDE,
    };
    let decoded = match decode(&original.bytes, side, DecodeLimits::default()) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(path = %original.path.display(), error = %e, "no thumbnail");
            return None;
        }
    };
    let reduced = match size {
        Size::Grid => thumbs::grid_image(&decoded.rgb),
        Size::Preview => thumbs::preview_image(&decoded.rgb),
    };
    let bytes = thumbs::jpeg(&reduced).ok()?;
    if let Err(e) = crate::fsutil::write_atomic(path, &bytes, Default::default()) {
        tracing::warn!(path = %path.display(), error = %e, "thumbnail not kept");
    }
    Some(bytes)
}
