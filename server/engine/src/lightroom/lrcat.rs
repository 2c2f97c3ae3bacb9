//! Reading a Lightroom Classic catalog (`.lrcat`, an SQLite file), read-only: each photo's
//! original path, capture time, rating, flag, colour label, caption and title, keywords with
//! their hierarchy (person keywords marked), and the collections it is in (not smart ones,
//! whose rules are not photos). Virtual copies are folded into their master: one file, one
//! picture, with the copies' keywords and collections added.
//!
//! The tables and columns are those of Lightroom Classic 13.0 to 14.1 as public schema dumps
//! show them (gspeed0689/lightroom-sqlalchemy2's `tools/ddl.sql`, LrC 13; an August 2024 dump;
//! TurbulentRice/lr-ai-editor's `docs/example_lrcat_schema.sql`, LrC 14.1), which are the same
//! in every column read here as far back as Lightroom 5. Adobe documents none of it; so Trove
//! checks for the columns it reads rather than trusting `Adobe_DBVersion`, whose value for the
//! Classic releases is not public.
//!
//! Lightroom keeps its catalog open and locked while it runs, in WAL mode in recent releases.
//! Trove never writes it: where the file can be read as it is (no lock, no write-ahead log), it
//! is opened read-only in place; otherwise the catalog and its log are copied to a temporary
//! folder and the copy is read, which is what Lightroom itself had committed at that moment.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use thiserror::Error;

/// Why a catalog could not be read.
#[derive(Debug, Error)]
pub enum LrcatError {
    /// The file is missing or unreadable.
    #[error("cannot read {path}")]
    Read {
        /// The catalog.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not an SQLite database, or a damaged one.
    #[error("{path} is not a Lightroom catalog (not a readable SQLite database)")]
    NotSqlite {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A catalog SQLite reads as damaged (truncated, or overwritten in part).
    #[error(
        "{path} is damaged (SQLite cannot read it whole); restore it from one of Lightroom's catalog backups"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// An SQLite database without Lightroom's tables.
    #[error("{path} is not a Lightroom catalog (it has no {missing} table)")]
    NotACatalog {
        /// The file.
        path: PathBuf,
        /// The first missing table.
        missing: &'static str,
    },
    /// A Lightroom catalog of a version whose tables Trove does not know.
    #[error(
        "{path} is a Lightroom catalog of a version Trove cannot read (Adobe_DBVersion {version}: \
         {detail}); open it in Lightroom Classic 12 or later to upgrade it, then import the upgraded copy"
    )]
    UnknownVersion {
        /// The file.
        path: PathBuf,
        /// The catalog's `Adobe_DBVersion`.
        version: String,
        /// What is missing.
        detail: String,
    },
    /// Lightroom is in the middle of writing it (a hot rollback journal): no consistent copy.
    #[error(
        "Lightroom is writing {path} right now (its rollback journal is open): try again in a moment, \
         or after closing Lightroom"
    )]
    Busy {
        /// The catalog.
        path: PathBuf,
    },
    /// A query failed on a catalog that looked readable.
    #[error("reading {path} failed")]
    Query {
        /// The catalog.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
}

/// A photo's flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flag {
    /// Flagged as a pick.
    Pick,
    /// Flagged as rejected.
    Reject,
    /// Not flagged.
    #[default]
    None,
}

/// A keyword with the keywords above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyword {
    /// Outermost first, the keyword itself last (`["Places", "Japan", "Tokyo"]`).
    pub path: Vec<String>,
    /// Whether it names a person (Lightroom's People view).
    pub person: bool,
}

impl Keyword {
    /// The keyword itself.
    pub fn name(&self) -> &str {
        self.path.last().map_or("", String::as_str)
    }
}

/// One photo of the catalog (a master with its virtual copies folded in).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LrPhoto {
    /// `Adobe_images.id_local` of the master.
    pub id: i64,
    /// Its virtual copies' ids.
    pub copies: Vec<i64>,
    /// The original's full path, as the catalog has it.
    pub path: PathBuf,
    /// The same below its root folder, under the root's name (`Photos/2023/Japan/IMG_1.CR2`).
    pub relative: PathBuf,
    /// Capture time as Lightroom stores it (ISO 8601, no zone).
    pub capture_time: Option<String>,
    /// 0–5 stars; `None` when unrated.
    pub rating: Option<u8>,
    /// Pick, reject or neither.
    pub flag: Flag,
    /// Colour label name (`Red`, or a custom set's name), if any.
    pub label: Option<String>,
    /// Title (XMP `dc:title`).
    pub title: Option<String>,
    /// Caption (IPTC caption / XMP `dc:description`).
    pub caption: Option<String>,
    /// Keywords, each once.
    pub keywords: Vec<Keyword>,
    /// Collections it is in, by name with their collection sets (`Travel / Japan 2023`), each once.
    pub collections: Vec<String>,
}

/// An open catalog.
pub struct Lrcat {
    pub(super) conn: Connection,
    path: PathBuf,
    /// `Adobe_DBVersion` (e.g. `0500006` for Lightroom 5).
    pub version: String,
    /// Whether it is read from a copy (Lightroom had it open).
    pub from_copy: bool,
    _copy: Option<TempDir>,
}

/// Tables a catalog must have, with the columns read from each.
const REQUIRED: [(&str, &[&str]); 10] = [
    (
        "Adobe_images",
        &[
            "id_local",
            "rootFile",
            "captureTime",
            "rating",
            "pick",
            "colorLabels",
            "masterImage",
        ],
    ),
    ("AgLibraryFile", &["id_local", "folder", "idx_filename"]),
    (
        "AgLibraryFolder",
        &["id_local", "rootFolder", "pathFromRoot"],
    ),
    ("AgLibraryRootFolder", &["id_local", "absolutePath"]),
    (
        "AgLibraryKeyword",
        &["id_local", "name", "parent", "keywordType"],
    ),
    ("AgLibraryKeywordImage", &["image", "tag"]),
    (
        "AgLibraryCollection",
        &["id_local", "name", "parent", "creationId"],
    ),
    ("AgLibraryCollectionImage", &["collection", "image"]),
    ("AgLibraryIPTC", &["image", "caption"]),
    ("Adobe_AdditionalMetadata", &["image", "xmp"]),
];

/// A folder removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Lrcat {
    /// Opens a catalog read-only (or a copy of it, see the module's note) and checks that it is
    /// one Trove can read.
    pub fn open(path: &Path) -> Result<Lrcat, LrcatError> {
        let read_err = |source| LrcatError::Read {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read_err)?;
        if !meta.is_file() {
            return Err(read_err(std::io::Error::other("not a file")));
        }
        let journal = sibling(path, "-journal");
        if std::fs::metadata(&journal).is_ok_and(|m| m.len() > 0) {
            return Err(LrcatError::Busy {
                path: path.to_owned(),
            });
        }
        let held = sibling(path, ".lock").exists() || sibling(path, "-wal").exists();
        if !held {
            match Self::open_at(path, None) {
                // Locked by a process that left no lock file: read a copy after all.
                Err(LrcatError::NotSqlite { source, .. }) if is_busy(&source) => {}
                other => return other,
            }
        }
        let dir = copy_dir()?;
        let copy = dir.0.join("catalog.lrcat");
        std::fs::copy(path, &copy).map_err(read_err)?;
        let wal = sibling(path, "-wal");
        if wal.exists() {
            std::fs::copy(&wal, dir.0.join("catalog.lrcat-wal")).map_err(read_err)?;
        }
        Self::open_at(path, Some(dir))
    }

    /// Opens the catalog itself read-only, or (with `copy`) the copy in that folder, read-write
    /// so that SQLite can replay a log into it (the original is never opened for writing).
    fn open_at(path: &Path, copy: Option<TempDir>) -> Result<Lrcat, LrcatError> {
        let not_sqlite = |source| unreadable(path, source);
        let conn = match &copy {
            Some(dir) => Connection::open(dir.0.join("catalog.lrcat")),
            None => Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            ),
        }
        .map_err(not_sqlite)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(not_sqlite)?;
        let mut cat = Lrcat {
            conn,
            path: path.to_owned(),
            version: String::new(),
            from_copy: copy.is_some(),
            _copy: copy,
        };
        cat.check()?;
        Ok(cat)
    }

    pub(super) fn query_err(&self, source: rusqlite::Error) -> LrcatError {
        if is_corrupt(&source) {
            return LrcatError::Damaged {
                path: self.path.clone(),
                source,
            };
        }
        LrcatError::Query {
            path: self.path.clone(),
            source,
        }
    }

    /// Checks the tables and columns, and reads the version.
    fn check(&mut self) -> Result<(), LrcatError> {
        let not_sqlite = |source| unreadable(&self.path, source);
        let columns = |table: &str| -> Result<Vec<String>, rusqlite::Error> {
            let mut st = self
                .conn
                .prepare("SELECT name FROM pragma_table_info(?1)")?;
            let names = st
                .query_map([table], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(names)
        };
        // A damaged file or one that is not SQLite fails on its first read.
        let has_variables = !columns("Adobe_variablesTable")
            .map_err(not_sqlite)?
            .is_empty();
        if !has_variables {
            return Err(LrcatError::NotACatalog {
                path: self.path.clone(),
                missing: "Adobe_variablesTable",
            });
        }
        self.version = self
            .conn
            .query_row(
                "SELECT CAST(value AS TEXT) FROM Adobe_variablesTable WHERE name = 'Adobe_DBVersion'",
                [],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map_err(not_sqlite)?
            .flatten()
            .unwrap_or_default();
        if !self.version.is_empty() && self.version.as_str() < "0400000" {
            return Err(LrcatError::UnknownVersion {
                path: self.path.clone(),
                version: self.version.clone(),
                detail: "older than Lightroom 4".into(),
            });
        }
        for (table, wanted) in REQUIRED {
            let have = columns(table).map_err(not_sqlite)?;
            if have.is_empty() {
                if table == "Adobe_images" {
                    return Err(LrcatError::NotACatalog {
                        path: self.path.clone(),
                        missing: table,
                    });
                }
                return Err(LrcatError::UnknownVersion {
                    path: self.path.clone(),
                    version: self.version.clone(),
                    detail: format!("it has no {table} table"),
                });
            }
            if let Some(col) = wanted.iter().find(|c| !have.iter().any(|h| h == *c)) {
                return Err(LrcatError::UnknownVersion {
                    path: self.path.clone(),
                    version: self.version.clone(),
                    detail: format!("its {table} table has no {col} column"),
                });
            }
        }
        Ok(())
    }
}

/// `path` with `suffix` after its name (`x.lrcat` → `x.lrcat-wal`).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Why SQLite could not read a file: damaged, or not a database at all.
fn unreadable(path: &Path, source: rusqlite::Error) -> LrcatError {
    if is_corrupt(&source) {
        LrcatError::Damaged {
            path: path.to_owned(),
            source,
        }
    } else {
        LrcatError::NotSqlite {
            path: path.to_owned(),
            source,
        }
    }
}

/// Whether SQLite found the database damaged.
fn is_corrupt(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt)
}

/// Whether SQLite refused because another connection holds a lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn copy_dir() -> Result<TempDir, LrcatError> {
    let base = std::env::temp_dir();
    for n in 0..1000u32 {
        let dir = base.join(format!("trove-lrcat-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(TempDir(dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(LrcatError::Read { path: dir, source }),
        }
    }
    Err(LrcatError::Read {
        path: base,
        source: std::io::Error::other("no free temporary folder name"),
    })
}
