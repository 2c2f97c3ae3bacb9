//! Writing a file so that a reader (or the next start after a power cut) sees either the old
//! file or the whole new one, never half of it: write beside it under a temporary name, flush
//! to disk, then rename over it. The one place Trove does this.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How the file is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteOptions {
    /// Readable by its owner only (Unix mode 0600): secrets such as the admin token.
    pub private: bool,
    /// Flush the data to disk before the rename (costs a sync; choices and secrets want it,
    /// caches that are rebuilt anyway do not).
    pub durable: bool,
}

/// A temporary name beside `path`, unique within this process and across processes.
pub fn temporary_beside(path: &Path) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(
        ".{name}.{}.{}.partial",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Writes `bytes` to `path` atomically, creating its folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8], options: WriteOptions) -> std::io::Result<()> {
    replace_with(path, |partial| {
        let mut file = create(partial, options.private)?;
        file.write_all(bytes)?;
        if options.durable {
            file.sync_all()?;
        }
        Ok(())
    })
}

/// Lets `produce` write a temporary file beside `path` (a library that writes files itself, such
/// as usearch), then renames it over `path`. The temporary file is removed if `produce` fails.
pub fn replace_with(
    path: &Path,
    produce: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let partial = temporary_beside(path);
    let result = produce(&partial).and_then(|()| std::fs::rename(&partial, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

#[cfg(unix)]
fn create(path: &Path, private: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(not(unix))]
fn create(path: &Path, _private: bool) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

/// Writes `bytes` to `path` whole (making its folders) unless it already holds exactly them;
/// whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    write_atomic(path, bytes, WriteOptions::default())?;
    Ok(true)
}

/// Deletes the files under `dir` that are not `keep`, and the folders left empty.
pub fn prune_except(dir: &Path, keep: &std::collections::HashSet<PathBuf>) {
    let entries: Vec<walkdir::DirEntry> = walkdir::WalkDir::new(dir)
        .contents_first(true)
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    for e in entries {
        if e.file_type().is_dir() {
            // Only succeeds when empty.
            let _ = std::fs::remove_dir(e.path());
        } else if !keep.contains(e.path()) {
            if let Err(err) = std::fs::remove_file(e.path()) {
                tracing::warn!(path = %e.path().display(), error = %err, "not removed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_partial_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/choice");
        write_atomic(&path, b"first", WriteOptions::default()).expect("writes");
        write_atomic(
            &path,
            b"second",
            WriteOptions {
                durable: true,
                ..WriteOptions::default()
            },
        )
        .expect("replaces");
        assert_eq!(std::fs::read(&path).expect("reads"), b"second");
        let failed = replace_with(&path, |partial| {
            std::fs::write(partial, b"half")?;
            Err(std::io::Error::other("the producer failed"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).expect("reads"), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .expect("lists")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["choice"], "no temporary file is left");
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        let options = WriteOptions {
            private: true,
            durable: true,
        };
        write_atomic(&path, b"token", options).expect("writes");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
