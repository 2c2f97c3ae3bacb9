//! What a file says of its picture: its own XMP and IPTC ([`crate::media::described`]) and the
//! XMP sidecar beside it, read when the file is, and again when the sidecar alone changes.

use std::path::Path;

use crate::catalog::metadata::{FileMetadata, Sidecar};
use crate::catalog::{mtime_ns, path_bytes};
use crate::media::xmp::{sidecar_candidates, Described, MAX_XMP};

/// The file's metadata, from its bytes and its sidecar.
pub(super) fn metadata(image: &Path, bytes: &[u8]) -> FileMetadata {
    FileMetadata {
        embedded: crate::media::described(bytes).map(Box::new),
        sidecar: find(image).map(Box::new),
    }
}

/// The sidecar of `image`: the first of its candidates that is a regular file (links are not
/// followed), read. One too large or unreadable counts as none.
pub(super) fn find(image: &Path) -> Option<Sidecar> {
    sidecar_candidates(image).iter().find_map(|p| read(p))
}

/// Reads the sidecar at `path`, when it is a regular file of at most [`MAX_XMP`] bytes.
pub(super) fn read(path: &Path) -> Option<Sidecar> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_XMP {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    Some(Sidecar {
        path: path_bytes(path),
        size: meta.len(),
        mtime_ns: mtime_ns(&meta),
        described: Described::parse(text.trim_start_matches('\u{feff}')),
    })
}

/// The size and modification time of the file at `path` now, if it is a regular file.
pub(super) fn stat(path: &Path) -> Option<(u64, i64)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    meta.is_file().then(|| (meta.len(), mtime_ns(&meta)))
}
