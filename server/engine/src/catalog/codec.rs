//! How values are stored: paths as the bytes the OS spells them with, vectors as little-endian
//! `f32`s, counts as SQLite's signed integers, times as Unix seconds.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A path's bytes as the OS spells them.
pub fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

/// The path for stored bytes.
pub fn bytes_path(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

/// A count as SQLite stores it (saturating).
pub fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored count (negative values, which Trove never writes, read as 0).
pub fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Little-endian f32 bytes.
pub fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The f32s of stored bytes.
pub fn bytes_vector(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A stored 32-byte content hash (zeros if the row holds something else).
pub fn hash_of(bytes: &[u8]) -> [u8; 32] {
    let mut h = [0u8; 32];
    if bytes.len() == 32 {
        h.copy_from_slice(bytes);
    }
    h
}

/// The folder-prefix bytes for a folder filter: the path with one trailing `/`, so `/a/b`
/// matches `/a/b/x.jpg` but not `/a/bc/x.jpg`.
pub fn folder_prefix(folder: &str) -> Vec<u8> {
    let mut b = path_bytes(Path::new(folder));
    if !b.ends_with(b"/") {
        b.push(b'/');
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let v = [0.25f32, -1.5, 3.0e-8];
        assert_eq!(bytes_vector(&vector_bytes(&v)), v);
        let p = Path::new("/photos/caf\u{e9}.jpg");
        assert_eq!(bytes_path(&path_bytes(p)), p);
        assert_eq!(to_u64(to_i64(u64::MAX)), i64::MAX as u64);
        assert_eq!(folder_prefix("/a/b"), b"/a/b/");
        assert_eq!(folder_prefix("/a/b/"), b"/a/b/");
    }
}
