//! The files behind an image id: its original (a regular file inside a library root, still the
//! file that was indexed; a path never comes from a request), its grid thumbnail and its
//! lightbox preview. Thumbnails and
//! previews are a cache, like the vector index: one that is missing or damaged is made again
//! from the original when asked for, and says so in the log.

use std::collections::HashMap;
use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::catalog::{Catalog, CatalogError, IndexedFile};
use crate::limiter::FifoLimiter;
use crate::media::thumbs::{self, whole_jpeg, Thumbnails, GRID_HEIGHT, PREVIEW_SIDE};
use crate::media::{decode, DecodeLimits};
use crate::paths::DataPaths;

/// An original file, opened and checked but not read: for serving as a stream.
#[derive(Debug)]
pub struct OpenOriginal {
    /// Where it is.
    pub path: PathBuf,
    /// The open file, at its start.
    pub file: std::fs::File,
    /// Its length.
    pub len: u64,
    /// Its MIME type, from its first bytes.
    pub mime: &'static str,
}

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

/// The image files of one data directory. Clones share who is making what.
#[derive(Debug, Clone)]
pub struct ImageFiles {
    thumbs: Thumbnails,
    makers: Arc<Makers>,
}

/// How many thumbnails or previews are made from originals at once, whoever asks: each decode
/// of a large photo takes a core and up to a few hundred MB.
pub const MAKERS: usize = 2;

/// Thumbnails and previews being made from originals: at most one per image and size at a time
/// (a second request for it waits for the first, then reads what it made), and at most
/// [`MAKERS`] at once.
#[derive(Debug, Default)]
struct Makers {
    busy: Mutex<HashMap<Making, Arc<Mutex<()>>>>,
    pool: FifoLimiter,
    made: AtomicU64,
    peak: AtomicUsize,
}

/// What the makers have done since the files were opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MakerStats {
    /// Thumbnails and previews made from originals.
    pub made: u64,
    /// The most made at the same moment.
    pub peak: usize,
}

impl Makers {
    /// The lock of one image's size, shared by everyone asking for it now.
    fn lock_of(&self, key: Making) -> Arc<Mutex<()>> {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        busy.entry(key).or_default().clone()
    }

    /// Forgets the lock of `key` when nobody else holds or waits for it.
    fn release(&self, key: Making, lock: Arc<Mutex<()>>) {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        // The map's reference and ours: nobody else.
        if Arc::strong_count(&lock) <= 2 {
            busy.remove(&key);
        }
    }

    /// Makes one, in the pool, counting.
    fn make(&self, work: impl FnOnce() -> Option<Vec<u8>>) -> Option<Vec<u8>> {
        let _turn = self.pool.enter(|| MAKERS);
        self.peak.fetch_max(self.pool.inside(), Ordering::Relaxed);
        let made = work();
        if made.is_some() {
            self.made.fetch_add(1, Ordering::Relaxed);
        }
        made
    }
}

/// One image's cached size being made.
type Making = (i64, Size);

/// Which cached size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Size {
    Grid,
    Preview,
}

impl ImageFiles {
    /// The image files of the data directory at `paths`.
    pub fn new(paths: &DataPaths) -> Self {
        ImageFiles {
            thumbs: Thumbnails::new(&paths.thumbs),
            makers: Arc::default(),
        }
    }

    /// How many thumbnails and previews were made from originals, and the most at once.
    pub fn maker_stats(&self) -> MakerStats {
        MakerStats {
            made: self.makers.made.load(Ordering::Relaxed),
            peak: self.makers.peak.load(Ordering::Relaxed),
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
        if let Some(bytes) = read_cached(id, &path, size) {
            return Ok(Some(bytes));
        }
        let key = (id, size);
        let lock = self.makers.lock_of(key);
        let made = {
            let _only_one = lock.lock().unwrap_or_else(PoisonError::into_inner);
            // Whoever held the lock before may have made it.
            match std::fs::read(&path) {
                Ok(bytes) if whole_jpeg(&bytes) => Ok(Some(bytes)),
                _ => first_inside_roots(catalog, &files).map(|original| {
                    original.and_then(|o| self.makers.make(|| make(&o, &path, size)))
                }),
            }
        };
        self.makers.release(key, lock);
        made
    }

    /// One of image `id`'s files, opened, with its MIME type. Only a regular file inside a
    /// library root is ever opened (the path comes from the catalog, is resolved, and checked),
    /// and only while its size and modification time are still those the crawl indexed: a
    /// file replaced since is not served as this image.
    pub fn original(
        &self,
        catalog: &Catalog,
        id: i64,
    ) -> Result<Option<OpenOriginal>, CatalogError> {
        let Some((_, files)) = catalog.files_of(id)? else {
            return Ok(None);
        };
        let roots = real_roots(catalog)?;
        Ok(files.iter().find_map(|f| open_inside(f, &roots)))
    }
}

/// The cached file at `path` when it is a whole JPEG; says in the log why it is made again
/// otherwise.
fn read_cached(id: i64, path: &Path, size: Size) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) if whole_jpeg(&bytes) => return Some(bytes),
        Ok(_) => tracing::warn!(id, path = %path.display(), "a damaged thumbnail is made again"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if size == Size::Grid {
                tracing::info!(id, "a missing grid thumbnail is made again");
            }
        }
        Err(e) => tracing::warn!(id, error = %e, "an unreadable thumbnail is made again"),
    }
    None
}

/// The library roots, resolved.
fn real_roots(catalog: &Catalog) -> Result<Vec<PathBuf>, CatalogError> {
    Ok(catalog
        .roots()?
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .collect())
}

/// The first of `files` that can be read, is a regular file inside a library root, and is
/// unchanged since it was indexed.
pub(crate) fn first_inside_roots(
    catalog: &Catalog,
    files: &[IndexedFile],
) -> Result<Option<Original>, CatalogError> {
    let roots = real_roots(catalog)?;
    Ok(files.iter().find_map(|f| {
        let mut open = open_inside(f, &roots)?;
        let mut bytes = Vec::with_capacity(usize::try_from(open.len).unwrap_or(0));
        open.file.read_to_end(&mut bytes).ok()?;
        Some(Original {
            path: open.path,
            bytes,
            mime: open.mime,
        })
    }))
}

/// The file if it is a regular file whose real path lies inside one of `roots`, and the same
/// size and modification time as when it was indexed (checked on the opened file, so a swap
/// between the check and the read is not served).
fn open_inside(indexed: &IndexedFile, roots: &[PathBuf]) -> Option<OpenOriginal> {
    let path = &indexed.path;
    let real = std::fs::canonicalize(path).ok()?;
    let inside = roots.iter().any(|r| real.starts_with(r));
    let regular = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    if !(inside && regular) {
        return None;
    }
    let mut file = std::fs::File::open(&real).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || !indexed.unchanged(&meta) {
        tracing::info!(path = %real.display(), "the file changed since it was indexed; it is not served until the next crawl reads it again");
        return None;
    }
    let mut head = [0u8; 32];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    file.rewind().ok()?;
    Some(OpenOriginal {
        mime: mime_of(&head[..n]),
        path: real,
        file,
        len: meta.len(),
    })
}

/// The MIME type of an image file, from its first bytes (camera raw files that are TIFFs
/// underneath, NEF and DNG among them, are sent as TIFFs; the others as bytes).
pub fn mime_of(bytes: &[u8]) -> &'static str {
    if bytes.get(4..8) == Some(b"ftyp") {
        return match bytes.get(8..12) {
            Some(b"avif" | b"avis") => "image/avif",
            Some(b"crx ") => "application/octet-stream",
            _ => "image/heic",
        };
    }
    if bytes.get(8..10) == Some(b"CR") {
        return "application/octet-stream";
    }
    match image::guess_format(bytes) {
        Ok(image::ImageFormat::Jpeg) => "image/jpeg",
        Ok(image::ImageFormat::Png) => "image/png",
        Ok(image::ImageFormat::WebP) => "image/webp",
        Ok(image::ImageFormat::Gif) => "image/gif",
        Ok(image::ImageFormat::Tiff) => "image/tiff",
        Ok(image::ImageFormat::Bmp) => "image/bmp",
        Ok(image::ImageFormat::Pnm) => "image/x-portable-anymap",
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
