//! Library folders added and removed at run time (kept in the catalog's roots); folders from
//! the configuration are listed too, and can only be removed there.

use std::path::PathBuf;

use app::types::{LibraryList, LibraryRoot};
use trove_engine::catalog::Catalog;

use super::error::FolderError;
use super::{ServiceError, Trove};

impl Trove {
    /// The library folders with their file counts (blocking).
    pub fn libraries(&self) -> Result<LibraryList, ServiceError> {
        let configured = self.configured_roots();
        let mut out: Vec<LibraryRoot> = Vec::new();
        if self.paths.catalog.is_file() {
            let stand_ins = std::fs::canonicalize(&self.paths.stand_ins).ok();
            for (path, files) in self.readers.get()?.root_files()? {
                // Previews standing in for offline originals are the catalogs', not a library.
                if Some(&path) == stand_ins.as_ref() {
                    continue;
                }
                out.push(LibraryRoot {
                    path: path.display().to_string(),
                    files,
                    configured: configured.contains(&path),
                });
            }
        }
        for path in configured {
            let shown = path.display().to_string();
            if !out.iter().any(|r| r.path == shown) {
                out.push(LibraryRoot {
                    path: shown,
                    files: 0,
                    configured: true,
                });
            }
        }
        let catalogs = if self.paths.catalog.is_file() {
            self.readers
                .get()?
                .sources()?
                .into_iter()
                .map(|s| app::types::ImportedCatalog {
                    path: s.path.display().to_string(),
                    kind: s.kind,
                    photos: s.counts.photos,
                    matched: s.counts.photos - s.counts.unmatched,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(LibraryList {
            schema: app::types::SCHEMA,
            libraries: out,
            catalogs,
        })
    }

    /// Adds a library folder (blocking) and starts crawling it, unless a crawl is running (it
    /// is crawled next time then). The answer says which.
    pub fn add_library(&self, path: &str) -> Result<String, ServiceError> {
        if is_lightroom_catalog(path) {
            return self.import_catalog(path.trim());
        }
        if is_photos_library(path) {
            return self.import_photos(path.trim());
        }
        let real = self.checked_new_folder(path.trim())?;
        let catalog = Catalog::open(&self.paths.catalog)?;
        if catalog.roots()?.contains(&real) {
            return Err(FolderError::Known(real.display().to_string()).into());
        }
        catalog.ensure_root(&real)?;
        drop(catalog);
        let shown = real.display();
        match self.start_crawl() {
            Ok(()) => Ok(format!("added {shown}; crawling it now")),
            Err(ServiceError::Crawl(trove_engine::controller::StartError::Running)) => Ok(format!(
                "added {shown}; a crawl is running, so it will be crawled next time"
            )),
            Err(e) => Err(e),
        }
    }

    /// Imports a Lightroom catalog (blocking): its keywords, titles, captions, ratings, flags,
    /// labels and collections join the photos Trove has; importing it again picks up changes.
    fn import_catalog(&self, path: &str) -> Result<String, ServiceError> {
        let raw = PathBuf::from(path);
        if !raw.is_absolute() {
            return Err(FolderError::NotAbsolute(path.to_owned()).into());
        }
        let mut catalog = Catalog::open(&self.paths.catalog)?;
        let done = trove_engine::lightroom::import(&mut catalog, &raw, &self.paths.stand_ins)?;
        let c = done.counts;
        let copy = if done.from_copy {
            " (Lightroom has it open: a copy of it as it is now)"
        } else {
            ""
        };
        Ok(format!(
            "imported {}{copy}: {}, {} matched to indexed pictures",
            done.catalog.display(),
            app::format::count(c.photos, "photo"),
            app::format::group(c.photos - c.unmatched)
        ))
    }

    /// Imports an Apple Photos library (blocking) and adds its `originals` folder to the
    /// libraries, so that its pictures are crawled (now, unless a crawl is running).
    fn import_photos(&self, path: &str) -> Result<String, ServiceError> {
        let raw = PathBuf::from(path);
        if !raw.is_absolute() {
            return Err(FolderError::NotAbsolute(path.to_owned()).into());
        }
        let mut catalog = Catalog::open(&self.paths.catalog)?;
        let done = trove_engine::apple_photos::import(&mut catalog, &raw, &self.paths.stand_ins)?;
        let originals = trove_engine::apple_photos::originals(&done.library);
        let mut crawl = "";
        if originals.is_dir() && !catalog.roots()?.contains(&originals) {
            catalog.ensure_root(&originals)?;
            crawl = match self.start_crawl() {
                Ok(()) => "; crawling its pictures now",
                Err(ServiceError::Crawl(trove_engine::controller::StartError::Running)) => {
                    "; a crawl is running, so its pictures are crawled next time"
                }
                Err(e) => return Err(e),
            };
        }
        let c = done.counts;
        Ok(format!(
            "imported {} ({}): {}, {} matched to indexed pictures{crawl}",
            done.library.display(),
            done.release.unwrap_or("a newer Photos"),
            app::format::count(c.photos, "photo"),
            app::format::group(c.photos - c.unmatched)
        ))
    }

    /// The real path of a folder that may become a library: absolute, existing, readable, not
    /// inside the data directory, not the whole disk or the home folder (only the command line
    /// can add those).
    fn checked_new_folder(&self, path: &str) -> Result<PathBuf, FolderError> {
        let raw = PathBuf::from(path);
        if path.is_empty() || !raw.is_absolute() {
            return Err(FolderError::NotAbsolute(path.to_owned()));
        }
        let real = std::fs::canonicalize(&raw).map_err(|source| FolderError::Missing {
            path: path.to_owned(),
            source,
        })?;
        if !real.is_dir() {
            return Err(FolderError::NotAFolder(path.to_owned()));
        }
        let home = crate::settings::Environment::from_process().home;
        if crate::breadth::too_broad(&real, home.as_deref()) {
            return Err(FolderError::TooBroad(path.to_owned()));
        }
        std::fs::read_dir(&real).map_err(|source| FolderError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        let data =
            std::fs::canonicalize(&self.paths.root).unwrap_or_else(|_| self.paths.root.clone());
        if real.starts_with(&data) {
            return Err(FolderError::InsideData(path.to_owned()));
        }
        Ok(real)
    }

    /// Forgets a library folder and the images only it held (blocking). The files themselves
    /// are not touched. Folders from the configuration cannot be removed here.
    pub fn remove_library(&self, path: &str) -> Result<String, ServiceError> {
        if is_lightroom_catalog(path) || is_photos_library(path) {
            let raw = PathBuf::from(path.trim());
            let real = std::fs::canonicalize(&raw).unwrap_or_else(|_| raw.clone());
            let mut catalog = Catalog::open(&self.paths.catalog)?;
            if catalog.remove_source(&real)? || catalog.remove_source(&raw)? {
                for key in [&real, &raw] {
                    trove_engine::paths::remove_stand_ins(&self.paths.stand_ins, key)
                        .map_err(ServiceError::StandIns)?;
                }
                // A Photos library's pictures were added with it: they go with it.
                let originals = trove_engine::apple_photos::originals(&real);
                if is_photos_library(path) && catalog.roots()?.contains(&originals) {
                    drop(catalog);
                    self.remove_library(&originals.to_string_lossy())?;
                    return Ok(format!(
                        "forgot the Photos library {} and its pictures (the library is untouched)",
                        raw.display()
                    ));
                }
                return Ok(format!(
                    "forgot the catalog {}: its keywords, ratings and collections are gone from Trove (the catalog is untouched)",
                    raw.display()
                ));
            }
            return Err(FolderError::Unknown(raw.display().to_string()).into());
        }
        let engine = self.ready()?;
        if self.crawler.is_running() {
            return Err(FolderError::CrawlRunning.into());
        }
        let raw = PathBuf::from(path.trim());
        let shown = raw.display().to_string();
        let real = std::fs::canonicalize(&raw).unwrap_or_else(|_| raw.clone());
        if self.configured_roots().contains(&real) || self.settings.libraries.contains(&raw) {
            return Err(FolderError::Configured(shown).into());
        }
        let mut catalog = Catalog::open(&self.paths.catalog)?;
        if !(catalog.remove_root(&real)? || catalog.remove_root(&raw)?) {
            return Err(FolderError::Unknown(shown).into());
        }
        let gone = catalog.purge_orphans()?;
        for &id in &gone {
            engine
                .index
                .remove(id)
                .map_err(trove_engine::search::SearchError::from)?;
        }
        if let Err(e) = engine.index.save() {
            tracing::warn!(error = %trove_engine::error_chain(&e), "the vector index was not saved; it is rebuilt at the next start");
        }
        Ok(format!(
            "removed {shown}: {} forgotten (the files are untouched)",
            app::format::count(gone.len() as u64, "image")
        ))
    }
}

/// Whether a path names a Lightroom catalog (`.lrcat`) rather than a folder.
fn is_lightroom_catalog(path: &str) -> bool {
    has_extension(path, "lrcat")
}

/// Whether `path` names an Apple Photos library (a `.photoslibrary` folder).
fn is_photos_library(path: &str) -> bool {
    has_extension(path.trim().trim_end_matches('/'), "photoslibrary")
}

fn has_extension(path: &str, ext: &str) -> bool {
    std::path::Path::new(path.trim())
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}
