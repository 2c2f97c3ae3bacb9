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
            for (path, files) in self.readers.get()?.root_files()? {
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
        Ok(LibraryList {
            schema: app::types::SCHEMA,
            libraries: out,
        })
    }

    /// Adds a library folder (blocking) and starts crawling it, unless a crawl is running (it
    /// is crawled next time then). The answer says which.
    pub fn add_library(&self, path: &str) -> Result<String, ServiceError> {
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
