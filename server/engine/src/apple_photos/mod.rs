//! Apple Photos, read-only: a library's database ([`db`]), imported into Trove's catalog as a
//! source of kind `photos`: keywords, the albums a photo is in (with their folders), the people
//! named in it, title, description, capture time, favourites (as picks). Photos are matched to
//! Trove's images by their original's path inside the library (`originals/…`); a photo whose
//! original is only in iCloud gets the library's largest derivative of it as a stand-in, under
//! the data directory's `stand-ins/`. Trove never writes anything of Photos'.

pub mod db;
mod error;
pub mod fixture;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use db::{photos_release, LibraryPhoto, PhotosDb, PhotosError};

/// Why a library could not be imported.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The library could not be read (nothing was changed).
    #[error(transparent)]
    Photos(#[from] PhotosError),
    /// A stand-in could not be written (nothing was imported).
    #[error("cannot write {path}, a picture standing in for an original only in iCloud")]
    StandIn {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Trove's catalog could not be written (nothing was changed: one transaction).
    #[error("cannot record the import")]
    Catalog(#[from] crate::catalog::CatalogError),
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The source's id in Trove's catalog.
    pub source_id: i64,
    /// The library as recorded (its canonical path).
    pub library: PathBuf,
    /// Its `PLModelVersion` (empty when it has none).
    pub version: String,
    /// The Photos release of that version, when known.
    pub release: Option<&'static str>,
    /// What matched.
    pub counts: crate::catalog::ImportCounts,
    /// Photos whose original is not in the library (in iCloud only).
    pub originals_missing: u64,
    /// Of those, the ones a derivative stands in for.
    pub stand_ins: u64,
}

/// The folder of the library's originals, which a crawl indexes.
pub fn originals(library: &Path) -> PathBuf {
    library.join("originals")
}

/// Imports what a Photos library says about its photos into Trove's catalog, replacing what an
/// earlier import of the same library brought, and matches each photo to an indexed image. The
/// library is only read; Trove's catalog changes in one transaction, or not at all.
pub fn import(
    catalog: &mut crate::catalog::Catalog,
    library: &Path,
    stand_ins: &Path,
) -> Result<Imported, ImportError> {
    let key = std::fs::canonicalize(library).unwrap_or_else(|_| library.to_owned());
    let db = PhotosDb::open(&key)?;
    let photos = db.photos(&key)?;
    let folder = crate::paths::stand_in_folder(stand_ins, &key);
    let mut kept = HashSet::new();
    let mut originals_missing = 0;
    let mut rows = Vec::with_capacity(photos.len());
    for p in photos {
        let mut stand_in = None;
        if !p.original.exists() {
            originals_missing += 1;
            if let Some(derivative) = largest_derivative(&key, &p.uuid) {
                let ext = derivative
                    .extension()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "jpeg".into());
                let dest = folder.join(format!("{}.{ext}", safe_name(&p.uuid, p.id)));
                std::fs::read(&derivative)
                    .and_then(|bytes| crate::fsutil::write_if_changed(&dest, &bytes))
                    .map_err(|source| ImportError::StandIn {
                        path: dest.clone(),
                        source,
                    })?;
                kept.insert(dest.clone());
                stand_in = Some(dest);
            }
        }
        let mut keywords: Vec<(Vec<String>, bool)> =
            p.keywords.into_iter().map(|k| (vec![k], false)).collect();
        keywords.extend(p.people.into_iter().map(|name| (vec![name], true)));
        rows.push(crate::catalog::SourcePhoto {
            external_id: p.id,
            path: p.original,
            stand_in,
            taken_at: p.taken_at,
            rating: None,
            flag: i8::from(p.favorite),
            label: None,
            title: p.title,
            caption: p.description,
            keywords,
            collections: p.albums,
        });
    }
    crate::fsutil::prune_except(&folder, &kept);
    let version = db.model_version.map(|v| v.to_string()).unwrap_or_default();
    let (source_id, counts) = catalog.import_source("photos", &key, &version, &rows)?;
    Ok(Imported {
        source_id,
        library: key,
        release: db.model_version.and_then(photos_release),
        version,
        counts,
        originals_missing,
        stand_ins: kept.len() as u64,
    })
}

/// The largest derivative Trove copies (Photos' own are at most 2048 px, a few megabytes).
const MAX_DERIVATIVE: u64 = 64 << 20;

/// The largest picture Photos keeps of an asset besides its original: the files in
/// `resources/derivatives/<first letter of the UUID>/` named after its UUID (previews of up to
/// 2048 px), else its thumbnail in `resources/derivatives/masters/…` (`_4_5005_c.jpeg`), as
/// osxphotos finds them.
pub fn largest_derivative(library: &Path, uuid: &str) -> Option<PathBuf> {
    let first = uuid
        .get(..1)
        .filter(|c| c.chars().all(|c| c.is_ascii_alphanumeric()))?;
    if uuid.contains('/') || uuid.contains("..") {
        return None;
    }
    let dir = library.join("resources/derivatives").join(first);
    let mut best: Option<(u64, PathBuf)> = None;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let lower = name.to_ascii_lowercase();
            let picture = [".jpeg", ".jpg", ".heic"]
                .iter()
                .any(|x| lower.ends_with(x));
            if !name.starts_with(uuid) || !picture {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            // A preview is a few megabytes; anything far larger is not one.
            let sane = meta.is_file() && meta.len() <= MAX_DERIVATIVE;
            if sane && best.as_ref().is_none_or(|(size, _)| meta.len() > *size) {
                best = Some((meta.len(), e.path()));
            }
        }
    }
    best.map(|(_, p)| p).or_else(|| {
        let thumb = library
            .join("resources/derivatives/masters")
            .join(first)
            .join(format!("{uuid}_4_5005_c.jpeg"));
        std::fs::symlink_metadata(&thumb)
            .is_ok_and(|m| m.is_file() && m.len() <= MAX_DERIVATIVE)
            .then_some(thumb)
    })
}

/// A file name made of the asset's UUID (or its id, when the UUID is not a plain name).
fn safe_name(uuid: &str, id: i64) -> String {
    let plain = !uuid.is_empty()
        && uuid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        uuid.to_owned()
    } else {
        format!("asset-{id}")
    }
}
