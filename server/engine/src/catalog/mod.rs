//! The catalog: one SQLite file (WAL, `synchronous = FULL`) that is the source of truth for
//! library roots, files, images, embeddings per model, skipped files and crawls. Everything
//! else Trove keeps on disk (the vector index, thumbnails) is a cache of what is here or of the
//! files it points at.
//!
//! Who writes: the crawl's writer thread (one transaction per batch of outcomes), and a few
//! short changes outside crawls (registering a model as a library opens, adding or forgetting
//! a library folder, marking crawls a dead process left running). SQLite serialises them (WAL,
//! a 10 s busy timeout); any number of connections read. A batch is committed whole or not at
//! all, so a killed process loses at most the batch in flight and the next crawl redoes it.
//!
//! The connection type is [`Catalog`]; its methods live beside the tables they touch:
//! [`write`] (crawl outcomes, roots, forgetting), [`read`] (lookups and details), [`filter`]
//! (search filters and browsing), [`crawls`] (the crawl log), [`models`] (model rows),
//! [`text`] (words read from pictures), [`describe`] (captions and tags), [`sources`]
//! (imported catalogs: Lightroom's keywords, ratings, collections) and [`metadata`] (the files'
//! own XMP and IPTC, and their sidecars, kept as two more sources). The keyword index (`keyword_index`, FTS5 with the
//! trigram tokenizer) is derived: the schema's triggers remake an image's row whenever its
//! files or words change (`schema-3.sql`; `schema-4.sql` joins a picture's lines with spaces; `schema-5.sql` adds
//! captions and tags; `schema-6.sql` imported catalogs' keywords, titles, captions and collections;
//! `schema-7.sql` what files say of themselves, in their XMP and IPTC and in XMP sidecars, as two
//! more sources).

pub mod codec;
pub mod crawls;
pub mod describe;
pub mod filter;
pub mod metadata;
pub mod models;
pub mod read;
pub mod sources;
pub mod text;
pub mod write;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use codec::{bytes_path, path_bytes};
pub use crawls::{CrawlRecord, CrawlState};
pub use describe::{StoredTags, TagRecord};
pub use filter::{CatalogFilters, Filters, Sort};
pub use read::{mtime_ns, Counts, ImageDetail, IndexedFile, KnownFile, SkippedFile};
pub use sources::{ImageSourceFacts, ImportCounts, Source, SourcePhoto, KEYWORD_SEPARATOR};
pub use text::{KeywordQuery, KeywordRow, TextCounts, TextRecord, Unread};
pub use write::{BatchEffect, FileFacts, Outcome};

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: [&str; 7] = [
    include_str!("schema.sql"),
    include_str!("schema-2.sql"),
    include_str!("schema-3.sql"),
    include_str!("schema-4.sql"),
    include_str!("schema-5.sql"),
    include_str!("schema-6.sql"),
    include_str!("schema-7.sql"),
];

/// What can go wrong with the catalog database.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be opened or prepared.
    #[error("cannot open the catalog {path}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The catalog was written by a newer Trove.
    #[error("the catalog {path} has schema version {found}; this Trove knows up to {known}. Use a newer Trove, or move the data directory aside")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: usize,
        /// Ours.
        known: usize,
    },
    /// A query failed.
    #[error("catalog database error")]
    Sql(#[from] rusqlite::Error),
    /// Its folder could not be created.
    #[error("cannot create {path}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, CatalogError>;

/// A connection to the catalog.
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("path", &self.path).finish()
    }
}

/// Whether SQLite said another connection holds the lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
}

/// Sets the connection's modes and runs the migrations this file lacks, each once even when
/// several connections open a new file together (each takes the write lock, then looks again
/// at what has run). Returns the file's schema version; one newer than this build knows is
/// left untouched.
fn prepare(conn: &mut Connection) -> rusqlite::Result<usize> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )?;
    let version = |c: &Connection| -> rusqlite::Result<usize> {
        let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok(usize::try_from(v).unwrap_or(usize::MAX))
    };
    let found = version(conn)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if version(&tx)? > i {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    version(conn)
}

impl Catalog {
    /// Opens (creating and migrating if needed) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| CatalogError::Folder {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let open_err = |source| CatalogError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        // Switching a new file to WAL can answer "busy" at once, without waiting, when another
        // connection is opening it too (the engine and a status read at first start): try again.
        let mut tries = 0;
        let version = loop {
            match prepare(&mut conn) {
                Ok(version) => break version,
                Err(e) if is_busy(&e) && tries < 200 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(open_err(e)),
            }
        };
        if version > MIGRATIONS.len() {
            return Err(CatalogError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        Ok(Catalog {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
