//! Lightroom Classic, read-only: the catalog ([`lrcat`]), importing what it says into Trove's
//! catalog ([`import`]), its previews ([`lrprev`], found through `previews.db` by
//! [`Previews`]) and recovering those previews as JPEGs ([`recover`]). Trove never writes
//! anything of Lightroom's.

pub mod fixture;
pub mod lrcat;
pub mod lrprev;
mod photos;
mod recover;
mod standin;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use lrcat::{Flag, Keyword, LrPhoto, Lrcat, LrcatError};
pub use lrprev::{largest_jpeg, Largest, PreviewError};
pub use recover::{
    previews_dir, recover, recovered_name, with_capture_time, NoPreview, Preview, Previews,
    PreviewsError, Recovered,
};

/// Why a catalog could not be imported.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The Lightroom catalog could not be read (nothing was changed).
    #[error(transparent)]
    Lightroom(#[from] LrcatError),
    /// A stand-in preview could not be written (nothing was imported).
    #[error("cannot write the previews standing in for offline originals")]
    StandIn(#[from] PreviewsError),
    /// Trove's catalog could not be written (nothing was changed: one transaction).
    #[error("cannot record the import")]
    Catalog(#[from] crate::catalog::CatalogError),
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The source's id in Trove's catalog.
    pub source_id: i64,
    /// The catalog as recorded (its canonical path).
    pub catalog: PathBuf,
    /// Its `Adobe_DBVersion`.
    pub version: String,
    /// Whether it was read from a copy (Lightroom had it open).
    pub from_copy: bool,
    /// What matched.
    pub counts: crate::catalog::ImportCounts,
    /// Photos whose original file is not where the catalog says (offline or lost).
    pub originals_missing: u64,
}

/// Imports what a Lightroom catalog says about its photos (keywords, title, caption, rating,
/// flag, label, collections) into Trove's catalog, replacing what an earlier import of the same
/// catalog brought, and matches each photo to an indexed image. Lightroom's catalog is only
/// read; Trove's changes in one transaction, or not at all.
///
/// A photo whose original is not where the catalog says (offline or lost) gets Lightroom's
/// largest preview of it as a stand-in: a JPEG under `stand_ins` (the data directory's
/// `stand-ins/`, which every crawl indexes), with the photo's capture time, matched to the
/// photo and marked as a preview. An original that comes back takes its place at the next
/// import.
pub fn import(
    catalog: &mut crate::catalog::Catalog,
    path: &Path,
    stand_ins: &Path,
) -> Result<Imported, ImportError> {
    let lr = Lrcat::open(path)?;
    let photos = lr.photos()?;
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let mut originals_missing = 0;
    let missing: Vec<&LrPhoto> = photos.iter().filter(|p| !p.path.exists()).collect();
    let previews = if missing.is_empty() {
        None
    } else {
        Previews::open(&key).ok().flatten()
    };
    let stand_in_dir = crate::paths::stand_in_folder(stand_ins, &key);
    let mut stand_in = standin::write(previews.as_ref(), &missing, &stand_in_dir)?;
    let rows: Vec<crate::catalog::SourcePhoto> = photos
        .into_iter()
        .map(|p| {
            if !p.path.exists() {
                originals_missing += 1;
            }
            crate::catalog::SourcePhoto {
                external_id: p.id,
                stand_in: stand_in.remove(&p.id),
                path: p.path,
                taken_at: p.capture_time,
                rating: p.rating,
                flag: match p.flag {
                    Flag::Pick => 1,
                    Flag::Reject => -1,
                    Flag::None => 0,
                },
                label: p.label,
                title: p.title,
                caption: p.caption,
                keywords: p.keywords.into_iter().map(|k| (k.path, k.person)).collect(),
                collections: p.collections,
            }
        })
        .collect();
    let (source_id, counts) = catalog.import_source("lightroom", &key, &lr.version, &rows)?;
    Ok(Imported {
        source_id,
        catalog: key,
        version: lr.version.clone(),
        from_copy: lr.from_copy,
        counts,
        originals_missing,
    })
}
