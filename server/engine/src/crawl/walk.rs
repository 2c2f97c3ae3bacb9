//! The walk: every image file under each root, in one thread. What the catalog already has
//! unchanged goes straight to the writer; what needs reading goes to the decoders.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use crossbeam_channel::Sender;
use walkdir::{DirEntry, WalkDir};

use super::{io_reason, Job, Stage, ToWriter, IMAGE_EXTENSIONS};
use crate::catalog::{mtime_ns, path_bytes, Catalog, CatalogError, Outcome};

/// Whether the walk should go on (`false` once a channel closed: the crawl is ending).
type Alive = bool;

/// Walks every root in turn; a root walked to the end without an unreadable folder is reported
/// to the writer, so files it no longer has can be forgotten.
pub(super) fn run(
    stage: &Stage<'_>,
    roots: &[(i64, PathBuf)],
    jobs: &Sender<Job>,
    out: &Sender<ToWriter>,
) -> Result<(), CatalogError> {
    let catalog = Catalog::open(stage.parts.catalog)?;
    for &(root_id, ref root) in roots {
        let walk = RootWalk {
            stage,
            catalog: &catalog,
            root_id,
            jobs,
            out,
        };
        let Some(clean) = walk.run(root)? else {
            return Ok(());
        };
        if clean && !stage.stopped() && out.send(ToWriter::RootWalked(root_id)).is_err() {
            return Ok(());
        }
    }
    stage.progress.walked.store(true, Ordering::Relaxed);
    Ok(())
}

/// One root's walk.
struct RootWalk<'a> {
    stage: &'a Stage<'a>,
    catalog: &'a Catalog,
    root_id: i64,
    jobs: &'a Sender<Job>,
    out: &'a Sender<ToWriter>,
}

fn has_image_extension(path: &Path) -> bool {
    path.extension().is_some_and(|e| {
        let e = e.to_string_lossy().to_ascii_lowercase();
        IMAGE_EXTENSIONS.contains(&e.as_str())
    })
}

impl RootWalk<'_> {
    /// Walks the root: `Some(clean)` when it went to the end (`clean`: every folder could be
    /// read), `None` when the crawl is stopping.
    fn run(&self, root: &Path) -> Result<Option<bool>, CatalogError> {
        let exclude = &self.stage.config.exclude;
        let entries = WalkDir::new(root)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || !(e.file_name().as_encoded_bytes().starts_with(b".")
                        || exclude.iter().any(|x| x == e.path()))
            });
        let mut clean = true;
        for entry in entries {
            if self.stage.stopped() {
                return Ok(None);
            }
            let alive = match entry {
                Ok(entry) => self.visit(&entry)?,
                Err(err) => {
                    clean &= err.depth() != 0;
                    self.unreadable_folder(root, &err)
                }
            };
            if !alive {
                return Ok(None);
            }
        }
        Ok(Some(clean))
    }

    fn send(&self, outcome: Outcome) -> Alive {
        self.out.send(ToWriter::Outcome(Box::new(outcome))).is_ok()
    }

    fn skip(&self, path: &Path, reason: String, stat: Option<(u64, i64)>) -> Alive {
        self.send(Outcome::Skipped {
            root_id: self.root_id,
            path: path_bytes(path),
            size: stat.map(|s| s.0),
            mtime_ns: stat.map(|s| s.1),
            reason,
        })
    }

    fn unreadable_folder(&self, root: &Path, err: &walkdir::Error) -> Alive {
        let path = err.path().unwrap_or(root);
        let reason = match err.io_error() {
            Some(io) => io_reason("read this folder", io),
            None => format!("cannot read this folder: {err}"),
        };
        self.skip(path, reason, None)
    }

    /// One entry: folders and files without an image extension are passed over; links, pipes
    /// and devices are skipped with a reason; regular files go on to [`Self::file`].
    fn visit(&self, entry: &DirEntry) -> Result<Alive, CatalogError> {
        let ft = entry.file_type();
        if ft.is_file() && is_sidecar(entry.path()) {
            return self.sidecar_seen(entry.path());
        }
        if ft.is_dir() || !has_image_extension(entry.path()) {
            return Ok(true);
        }
        self.stage.progress.seen.fetch_add(1, Ordering::Relaxed);
        let path = entry.path();
        if ft.is_symlink() {
            return Ok(self.skip(
                path,
                "a symbolic link: Trove indexes files under their real path and never follows links out of a library".into(),
                None,
            ));
        }
        if !ft.is_file() {
            return Ok(self.skip(
                path,
                "not a regular file (a named pipe, socket or device)".into(),
                None,
            ));
        }
        match entry.metadata() {
            Err(err) => Ok(self.skip(path, format!("cannot read its size and date: {err}"), None)),
            Ok(meta) => self.file(path, (meta.len(), mtime_ns(&meta), meta.ino())),
        }
    }

    /// A regular image file: unchanged and embedded, skipped before and unchanged, too large,
    /// or a job for the decoders.
    fn file(
        &self,
        path: &Path,
        (size, mtime, inode): (u64, i64, u64),
    ) -> Result<Alive, CatalogError> {
        let bytes = path_bytes(path);
        let limit = self.stage.config.limits.max_bytes;
        let known = self.catalog.file(&bytes, self.stage.parts.model_id)?;
        if let Some(k) =
            known.filter(|k| k.embedded && (k.size, k.mtime_ns, k.inode) == (size, mtime, inode))
        {
            return Ok(match k.metadata {
                // Never read (a catalog older than Trove's reading of it): the decoders read
                // it, and nothing else.
                None => self
                    .jobs
                    .send(Job {
                        root_id: self.root_id,
                        path: path.to_path_buf(),
                        size,
                        mtime_ns: mtime,
                        inode,
                        describe: Some(k.id),
                    })
                    .is_ok(),
                // Read with a sidecar that has changed or gone since: read it again.
                Some(Some((ref sidecar, s_size, s_mtime)))
                    if super::sidecar::stat(&crate::catalog::codec::bytes_path(sidecar))
                        != Some((s_size, s_mtime)) =>
                {
                    self.send(Outcome::Unchanged { file_id: k.id })
                        && self.send(Outcome::Sidecar {
                            file_id: k.id,
                            path: bytes.clone(),
                            sidecar: super::sidecar::find(path).map(Box::new),
                        })
                }
                Some(_) => self.send(Outcome::Unchanged { file_id: k.id }),
            });
        }
        if self.catalog.skipped_unchanged(&bytes, size, mtime)? {
            return Ok(self.send(Outcome::StillSkipped { path: bytes }));
        }
        if size > limit {
            let reason = format!(
                "the file is {} MB, more than the {} MB limit",
                size / 1_000_000,
                limit / 1_000_000
            );
            return Ok(self.skip(path, reason, Some((size, mtime))));
        }
        let job = Job {
            root_id: self.root_id,
            path: path.to_path_buf(),
            size,
            mtime_ns: mtime,
            inode,
            describe: None,
        };
        Ok(self.jobs.send(job).is_ok())
    }

    /// An XMP sidecar: each indexed file it belongs to (`photo.jpg.xmp` to `photo.jpg`,
    /// `photo.xmp` to `photo.jpg`, `photo.CR2`, …), whose metadata was read with another
    /// sidecar or another version of this one, and for which it is the sidecar Trove prefers,
    /// has it read again. Files not read yet read their sidecar when they are.
    fn sidecar_seen(&self, xmp: &Path) -> Result<Alive, CatalogError> {
        let Some(name) = xmp.file_name().map(|n| n.as_encoded_bytes()) else {
            return Ok(true);
        };
        let base = &name[..name.len() - 4];
        let folder = path_bytes(xmp.parent().unwrap_or(Path::new("/")));
        let mut prefix = folder;
        prefix.push(b'/');
        let mut owners = Vec::new();
        // `photo.jpg.xmp`: `photo.jpg` exactly.
        let mut whole = prefix.clone();
        whole.extend_from_slice(base);
        owners.extend(
            self.catalog
                .sidecar_owners(&whole)?
                .into_iter()
                .filter(|o| o.path == whole),
        );
        // `photo.xmp`: `photo.` and an image extension.
        let mut stem = whole;
        stem.push(b'.');
        owners.extend(self.catalog.sidecar_owners(&stem)?.into_iter().filter(|o| {
            let rest = &o.path[stem.len()..];
            !rest.contains(&b'/')
                && has_image_extension(Path::new(&format!("x.{}", String::from_utf8_lossy(rest))))
        }));
        let this = path_bytes(xmp);
        for owner in owners {
            let Some(read_with) = owner.read_with else {
                continue;
            };
            let owner_path = crate::catalog::codec::bytes_path(&owner.path);
            let preferred = super::sidecar::find(&owner_path);
            let Some(sidecar) = preferred.filter(|s| s.path == this) else {
                continue;
            };
            if read_with == Some((sidecar.path.clone(), sidecar.size, sidecar.mtime_ns)) {
                continue;
            }
            let sent = self.send(Outcome::Sidecar {
                file_id: owner.file_id,
                path: owner.path,
                sidecar: Some(Box::new(sidecar)),
            });
            if !sent {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Whether `path` is named like an XMP sidecar.
fn is_sidecar(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xmp"))
}
