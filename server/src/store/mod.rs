//! The catalog database: one SQLite file (WAL, `synchronous = FULL`) that is the source of
//! truth for roots, files, images, embeddings, skipped files and crawls.
//!
//! One connection writes (the ingest writer, one transaction per batch); any number read. A
//! batch is either wholly committed or not at all, so a killed process loses at most the
//! batch in flight and the next crawl redoes exactly that.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: [&str; 2] = [include_str!("schema.sql"), include_str!("schema-2.sql")];

/// What can go wrong with the catalog database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
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
pub type Result<T> = std::result::Result<T, StoreError>;

/// A file as the catalog last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFile {
    /// Row id.
    pub id: i64,
    /// Bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Inode number (0 where the platform has none).
    pub inode: u64,
    /// Its content.
    pub image_id: i64,
    /// Whether that content has an embedding for the crawl's model.
    pub embedded: bool,
}

/// Where a file is and its `stat` facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// Its library root's row id.
    pub root_id: i64,
    /// Absolute path bytes.
    pub path: Vec<u8>,
    /// Bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Inode number.
    pub inode: u64,
}

/// What decoding learnt about an image.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImageFacts {
    /// BLAKE3 of the file's bytes.
    #[serde(skip)]
    pub hash: [u8; 32],
    /// Container format, lower case.
    pub format: String,
    /// Displayed width (after EXIF orientation).
    pub width: u32,
    /// Displayed height.
    pub height: u32,
    /// File size.
    pub bytes: u64,
    /// EXIF capture time, ISO 8601 in the camera's local time.
    pub taken_at: Option<String>,
    /// EXIF camera maker.
    pub camera_make: Option<String>,
    /// EXIF camera model.
    pub camera_model: Option<String>,
    /// EXIF lens model.
    pub lens: Option<String>,
    /// Latitude in degrees, north positive.
    pub gps_lat: Option<f64>,
    /// Longitude in degrees, east positive.
    pub gps_lon: Option<f64>,
    /// EXIF orientation tag (1–8).
    pub orientation: Option<u16>,
}

/// One result of the ingest pipeline, written in a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A file whose size, mtime and inode are unchanged and whose content is embedded.
    Unchanged {
        /// Its row.
        file_id: i64,
    },
    /// A file that was skipped before and has not changed since.
    StillSkipped {
        /// Its path bytes.
        path: Vec<u8>,
    },
    /// A new or changed file whose content is now known (and embedded if `embedding` is set;
    /// `None` when that content already had an embedding).
    Indexed {
        /// The file.
        file: FileFacts,
        /// Its content.
        image: ImageFacts,
        /// A new embedding for the crawl's model.
        embedding: Option<Vec<f32>>,
    },
    /// A file that cannot be indexed.
    Skipped {
        /// Its library root.
        root_id: i64,
        /// Its path bytes.
        path: Vec<u8>,
        /// Bytes, when known.
        size: Option<u64>,
        /// Modification time, when known.
        mtime_ns: Option<i64>,
        /// Why, for a person.
        reason: String,
    },
}

/// What a committed batch changed.
#[derive(Debug, Default)]
pub struct BatchEffect {
    /// Embeddings added, for the vector index.
    pub added: Vec<(i64, Vec<f32>)>,
}

/// What the catalog knows of an image, for results and the lightbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageDetail {
    /// Image id.
    pub id: i64,
    /// One of its files (the first by path), lossy for names that are not UTF-8.
    pub path: String,
    /// How many files have this content.
    pub copies: u64,
    /// Its facts.
    #[serde(flatten)]
    pub facts: ImageFacts,
}

/// A skipped file, as `trove status` and the UI list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    /// The path (lossy for names that are not UTF-8).
    pub path: String,
    /// Why.
    pub reason: String,
}

/// Counts for the status page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Files in the catalog.
    pub files: u64,
    /// Distinct contents with at least one file.
    pub images: u64,
    /// Of those, embedded with the model asked about.
    pub embedded: u64,
    /// Files skipped.
    pub skipped: u64,
}

/// A crawl as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrawlRecord {
    /// Row id.
    pub id: i64,
    /// running, done, stopped, failed or interrupted.
    pub state: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds, once ended.
    pub finished_at: Option<i64>,
    /// Image files seen.
    pub files_seen: u64,
    /// Newly embedded.
    pub embedded: u64,
    /// Skipped.
    pub skipped: u64,
    /// Forgotten.
    pub removed: u64,
    /// The error, for a failed crawl.
    pub message: Option<String>,
}

/// How a crawl ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrawlState {
    /// In progress (or the process died: see [`Store::mark_interrupted`]).
    Running,
    /// Every root walked.
    Done,
    /// Stopped on request.
    Stopped,
    /// Ended by an error.
    Failed,
}

impl CrawlState {
    fn as_str(self) -> &'static str {
        match self {
            CrawlState::Running => "running",
            CrawlState::Done => "done",
            CrawlState::Stopped => "stopped",
            CrawlState::Failed => "failed",
        }
    }
}

/// A connection to the catalog.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

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

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
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

impl Store {
    /// Opens (creating and migrating if needed) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Folder {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(open_err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(open_err)?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > MIGRATIONS.len() {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction().map_err(open_err)?;
            tx.execute_batch(sql).map_err(open_err)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(open_err)?;
            tx.commit().map_err(open_err)?;
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The row id of a library root, adding it if new.
    pub fn ensure_root(&self, root: &Path) -> Result<i64> {
        let bytes = path_bytes(root);
        self.conn.execute(
            "INSERT INTO roots (path, added_at) VALUES (?1, ?2) ON CONFLICT(path) DO NOTHING",
            params![bytes, now()],
        )?;
        Ok(self
            .conn
            .query_row("SELECT id FROM roots WHERE path = ?1", [&bytes], |r| {
                r.get(0)
            })?)
    }

    /// The row id of a model, adding it if new.
    pub fn ensure_model(&self, name: &str, dim: usize) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO models (name, dim) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET dim = excluded.dim",
            params![name, to_i64(dim as u64)],
        )?;
        Ok(self
            .conn
            .query_row("SELECT id FROM models WHERE name = ?1", [name], |r| {
                r.get(0)
            })?)
    }

    /// Registers a model with its weights' fingerprint. When the catalog holds embeddings of
    /// that name made by other weights (or by unknown weights, from before fingerprints were
    /// kept), they are deleted, so the next crawl embeds everything again; returns how many.
    pub fn prepare_model(
        &mut self,
        name: &str,
        dim: usize,
        fingerprint: &str,
    ) -> Result<(i64, u64)> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO models (name, dim) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            params![name, to_i64(dim as u64)],
        )?;
        let (id, old_dim, known): (i64, i64, Option<String>) = tx.query_row(
            "SELECT id, dim, fingerprint FROM models WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut forgotten = 0;
        if known.as_deref() != Some(fingerprint) || old_dim != to_i64(dim as u64) {
            forgotten = tx.execute("DELETE FROM embeddings WHERE model_id = ?1", [id])? as u64;
            tx.execute(
                "UPDATE models SET dim = ?2, fingerprint = ?3 WHERE id = ?1",
                params![id, to_i64(dim as u64), fingerprint],
            )?;
        }
        tx.commit()?;
        Ok((id, forgotten))
    }

    /// The row id of a model, if it was ever used.
    pub fn model_id(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT id FROM models WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Marks crawls left `running` by a process that died as `interrupted`.
    pub fn mark_interrupted(&self) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE crawls SET state = 'interrupted', finished_at = ?1 WHERE state = 'running'",
            [now()],
        )?)
    }

    /// Starts a crawl record.
    pub fn begin_crawl(&self, model_id: i64) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO crawls (model_id, started_at, state) VALUES (?1, ?2, 'running')",
            params![model_id, now()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Ends a crawl record.
    pub fn finish_crawl(
        &self,
        crawl_id: i64,
        state: CrawlState,
        counts: (u64, u64, u64, u64),
        message: Option<&str>,
    ) -> Result<()> {
        let (seen, embedded, skipped, removed) = counts;
        self.conn.execute(
            "UPDATE crawls SET state = ?2, finished_at = ?3, files_seen = ?4, embedded = ?5, skipped = ?6, removed = ?7, message = ?8 WHERE id = ?1",
            params![crawl_id, state.as_str(), now(), to_i64(seen), to_i64(embedded), to_i64(skipped), to_i64(removed), message],
        )?;
        Ok(())
    }

    /// What the catalog knows of a path, with whether its content is embedded for `model_id`.
    pub fn file(&self, path: &[u8], model_id: i64) -> Result<Option<KnownFile>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT f.id, f.size, f.mtime_ns, f.inode, f.image_id,
                    EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = f.image_id AND e.model_id = ?2)
             FROM files f WHERE f.path = ?1",
        )?;
        Ok(stmt
            .query_row(params![path, model_id], |r| {
                Ok(KnownFile {
                    id: r.get(0)?,
                    size: to_u64(r.get(1)?),
                    mtime_ns: r.get(2)?,
                    inode: to_u64(r.get(3)?),
                    image_id: r.get(4)?,
                    embedded: r.get(5)?,
                })
            })
            .optional()?)
    }

    /// Whether `path` was skipped with exactly this size and mtime (so it need not be retried).
    pub fn skipped_unchanged(&self, path: &[u8], size: u64, mtime_ns: i64) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT 1 FROM skipped WHERE path = ?1 AND size = ?2 AND mtime_ns = ?3",
        )?;
        Ok(stmt
            .query_row(params![path, to_i64(size), mtime_ns], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The image with this content hash and whether it is embedded for `model_id`.
    pub fn image_by_hash(&self, hash: &[u8; 32], model_id: i64) -> Result<Option<(i64, bool)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.id, EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = i.id AND e.model_id = ?2)
             FROM images i WHERE i.hash = ?1",
        )?;
        Ok(stmt
            .query_row(params![&hash[..], model_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// Writes a batch of outcomes in one transaction.
    pub fn write_batch(
        &mut self,
        crawl_id: i64,
        model_id: i64,
        outcomes: Vec<Outcome>,
    ) -> Result<BatchEffect> {
        let tx = self.conn.transaction()?;
        let mut effect = BatchEffect::default();
        for outcome in outcomes {
            write_outcome(&tx, crawl_id, model_id, outcome, &mut effect)?;
        }
        tx.commit()?;
        Ok(effect)
    }

    /// After a complete walk of a root: forgets its files and skips this crawl did not see.
    /// Returns how many files were removed.
    pub fn finish_root(&self, crawl_id: i64, root_id: i64) -> Result<u64> {
        let removed = self.conn.execute(
            "DELETE FROM files WHERE root_id = ?1 AND seen_crawl <> ?2",
            params![root_id, crawl_id],
        )?;
        self.conn.execute(
            "DELETE FROM skipped WHERE root_id = ?1 AND seen_crawl <> ?2",
            params![root_id, crawl_id],
        )?;
        Ok(removed as u64)
    }

    /// Forgets library root `root` (its files and skipped rows, then the root itself); the images
    /// left without a file are for [`Store::purge_orphans`]. Whether the root was known.
    pub fn remove_root(&mut self, root: &Path) -> Result<bool> {
        let bytes = path_bytes(root);
        let tx = self.conn.transaction()?;
        let id: Option<i64> = tx
            .query_row("SELECT id FROM roots WHERE path = ?1", [&bytes], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(id) = id else {
            return Ok(false);
        };
        tx.execute("DELETE FROM files WHERE root_id = ?1", [id])?;
        tx.execute("DELETE FROM skipped WHERE root_id = ?1", [id])?;
        tx.execute("DELETE FROM roots WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(true)
    }

    /// Every library root with the number of files it holds.
    pub fn root_files(&self) -> Result<Vec<(PathBuf, u64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT r.path, (SELECT COUNT(*) FROM files f WHERE f.root_id = r.id) FROM roots r ORDER BY r.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((bytes_path(&r.get::<_, Vec<u8>>(0)?), to_u64(r.get(1)?)))
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Deletes images no file points at (and their embeddings); returns their ids.
    pub fn purge_orphans(&mut self) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let ids: Vec<i64> = {
            let mut stmt = tx.prepare(
                "SELECT id FROM images i WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.image_id = i.id)",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        tx.execute(
            "DELETE FROM images WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.image_id = images.id)",
            [],
        )?;
        tx.commit()?;
        Ok(ids)
    }

    /// Calls `each` with every embedding of `model_id` whose image has a file.
    pub fn for_each_embedding(
        &self,
        model_id: i64,
        mut each: impl FnMut(i64, &[f32]),
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT e.image_id, e.vector FROM embeddings e
             WHERE e.model_id = ?1 AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = e.image_id)
             ORDER BY e.image_id",
        )?;
        let mut rows = stmt.query([model_id])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let bytes: Vec<u8> = row.get(1)?;
            each(id, &bytes_vector(&bytes));
        }
        Ok(())
    }

    /// The stored embedding of an image.
    pub fn embedding(&self, image_id: i64, model_id: i64) -> Result<Option<Vec<f32>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT vector FROM embeddings WHERE image_id = ?1 AND model_id = ?2",
        )?;
        Ok(stmt
            .query_row(params![image_id, model_id], |r| {
                Ok(bytes_vector(&r.get::<_, Vec<u8>>(0)?))
            })
            .optional()?)
    }

    /// Catalog counts, with embeddings counted for `model_id` (if any).
    pub fn counts(&self, model_id: Option<i64>) -> Result<Counts> {
        let files: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0))?;
        let images: i64 =
            self.conn
                .query_row("SELECT COUNT(DISTINCT image_id) FROM files", [], |r| {
                    r.get(0)
                })?;
        let embedded: i64 = match model_id {
            Some(m) => self.conn.query_row(
                "SELECT COUNT(*) FROM embeddings e WHERE e.model_id = ?1
                 AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = e.image_id)",
                [m],
                |r| r.get(0),
            )?,
            None => 0,
        };
        let skipped: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM skipped", [], |r| r.get(0))?;
        Ok(Counts {
            files: to_u64(files),
            images: to_u64(images),
            embedded: to_u64(embedded),
            skipped: to_u64(skipped),
        })
    }

    /// Which of `ids` have at least one file and pass `filters`, with their capture time.
    pub fn visible(
        &self,
        ids: &[i64],
        filters: &crate::search::Filters,
    ) -> Result<std::collections::HashMap<i64, Option<String>>> {
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        let folder = filters.folder.as_ref().map(|f| {
            let mut b = path_bytes(Path::new(f));
            if !b.ends_with(b"/") {
                b.push(b'/');
            }
            b
        });
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT i.id, i.taken_at FROM images i WHERE i.id IN ({marks})
                 AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = i.id
                             AND (?{a} IS NULL OR substr(f.path, 1, length(?{a})) = ?{a}))
                 AND (?{b} IS NULL OR substr(i.taken_at, 1, 10) >= ?{b})
                 AND (?{c} IS NULL OR substr(i.taken_at, 1, 10) <= ?{c})
                 AND (?{d} IS NULL OR i.camera_model LIKE '%' || ?{d} || '%' OR i.camera_make LIKE '%' || ?{d} || '%')
                 AND (?{e} IS NULL OR i.format = ?{e})",
                a = chunk.len() + 1,
                b = chunk.len() + 2,
                c = chunk.len() + 3,
                d = chunk.len() + 4,
                e = chunk.len() + 5,
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let mut values: Vec<rusqlite::types::Value> = chunk
                .iter()
                .map(|&i| rusqlite::types::Value::Integer(i))
                .collect();
            let opt_text = |v: &Option<String>| {
                v.as_ref().map_or(rusqlite::types::Value::Null, |s| {
                    rusqlite::types::Value::Text(s.clone())
                })
            };
            values.push(
                folder
                    .clone()
                    .map_or(rusqlite::types::Value::Null, rusqlite::types::Value::Blob),
            );
            values.push(opt_text(&filters.from));
            values.push(opt_text(&filters.to));
            values.push(opt_text(&filters.camera));
            values.push(opt_text(
                &filters.format.as_ref().map(|f| f.to_ascii_lowercase()),
            ));
            let rows = stmt.query_map(rusqlite::params_from_iter(values), |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })?;
            for row in rows {
                let (id, taken) = row?;
                out.insert(id, taken);
            }
        }
        Ok(out)
    }

    /// One page of the library itself, for browsing: images with a file and an embedding for
    /// `model_id`, filtered, newest capture first (undated ones last, newest indexed first), or
    /// oldest first. Stable across pages: the order ends on the image id.
    pub fn browse(
        &self,
        model_id: i64,
        filters: &crate::search::Filters,
        oldest_first: bool,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<i64>> {
        let folder = filters.folder.as_ref().map(|f| {
            let mut b = path_bytes(Path::new(f));
            if !b.ends_with(b"/") {
                b.push(b'/');
            }
            b
        });
        let order = if oldest_first {
            "i.taken_at IS NULL, i.taken_at ASC, i.id ASC"
        } else {
            "i.taken_at IS NULL, i.taken_at DESC, i.id DESC"
        };
        let sql = format!(
            "SELECT i.id FROM images i
             WHERE EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = i.id AND e.model_id = ?1)
               AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = i.id
                           AND (?2 IS NULL OR substr(f.path, 1, length(?2)) = ?2))
               AND (?3 IS NULL OR substr(i.taken_at, 1, 10) >= ?3)
               AND (?4 IS NULL OR substr(i.taken_at, 1, 10) <= ?4)
               AND (?5 IS NULL OR i.camera_model LIKE '%' || ?5 || '%' OR i.camera_make LIKE '%' || ?5 || '%')
               AND (?6 IS NULL OR i.format = ?6)
             ORDER BY {order} LIMIT ?7 OFFSET ?8"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                model_id,
                folder,
                filters.from,
                filters.to,
                filters.camera,
                filters.format.as_ref().map(|f| f.to_ascii_lowercase()),
                i64::try_from(limit).unwrap_or(i64::MAX),
                i64::try_from(offset).unwrap_or(i64::MAX),
            ],
            |r| r.get::<_, i64>(0),
        )?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Details of images, in the order of `ids` (unknown or file-less ids are left out).
    pub fn image_details(&self, ids: &[i64]) -> Result<Vec<ImageDetail>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.format, i.width, i.height, i.bytes, i.taken_at, i.camera_make, i.camera_model,
                    i.lens, i.gps_lat, i.gps_lon, i.orientation,
                    (SELECT f.path FROM files f WHERE f.image_id = i.id ORDER BY f.path LIMIT 1),
                    (SELECT COUNT(*) FROM files f WHERE f.image_id = i.id), i.hash
             FROM images i WHERE i.id = ?1",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let row = stmt
                .query_row([id], |r| {
                    let path: Option<Vec<u8>> = r.get(11)?;
                    let hash: Vec<u8> = r.get(13)?;
                    let mut h = [0u8; 32];
                    if hash.len() == 32 {
                        h.copy_from_slice(&hash);
                    }
                    Ok(path.map(|p| ImageDetail {
                        id,
                        path: String::from_utf8_lossy(&p).into_owned(),
                        copies: to_u64(r.get(12).unwrap_or(0)),
                        facts: ImageFacts {
                            hash: h,
                            format: r.get(0).unwrap_or_default(),
                            width: r.get(1).unwrap_or(0),
                            height: r.get(2).unwrap_or(0),
                            bytes: to_u64(r.get(3).unwrap_or(0)),
                            taken_at: r.get(4).unwrap_or(None),
                            camera_make: r.get(5).unwrap_or(None),
                            camera_model: r.get(6).unwrap_or(None),
                            lens: r.get(7).unwrap_or(None),
                            gps_lat: r.get(8).unwrap_or(None),
                            gps_lon: r.get(9).unwrap_or(None),
                            orientation: r.get(10).unwrap_or(None),
                        },
                    }))
                })
                .optional()?;
            if let Some(Some(detail)) = row {
                out.push(detail);
            }
        }
        Ok(out)
    }

    /// Every file of an image, and its content hash.
    pub fn files_of(&self, image_id: i64) -> Result<Option<([u8; 32], Vec<PathBuf>)>> {
        let hash: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT hash FROM images WHERE id = ?1", [image_id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(hash) = hash else { return Ok(None) };
        let mut h = [0u8; 32];
        if hash.len() == 32 {
            h.copy_from_slice(&hash);
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path FROM files WHERE image_id = ?1 ORDER BY path")?;
        let rows = stmt.query_map([image_id], |r| r.get::<_, Vec<u8>>(0))?;
        let paths = rows
            .map(|r| r.map(|b| bytes_path(&b)))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Some((h, paths)))
    }

    /// The image of a file in the catalog.
    pub fn image_of_path(&self, path: &[u8]) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT image_id FROM files WHERE path = ?1", [path], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The most recent crawl.
    pub fn last_crawl(&self) -> Result<Option<CrawlRecord>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, state, started_at, finished_at, files_seen, embedded, skipped, removed, message
                 FROM crawls ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(CrawlRecord {
                        id: r.get(0)?,
                        state: r.get(1)?,
                        started_at: r.get(2)?,
                        finished_at: r.get(3)?,
                        files_seen: to_u64(r.get(4)?),
                        embedded: to_u64(r.get(5)?),
                        skipped: to_u64(r.get(6)?),
                        removed: to_u64(r.get(7)?),
                        message: r.get(8)?,
                    })
                },
            )
            .optional()?)
    }

    /// Library roots in the catalog.
    pub fn roots(&self) -> Result<Vec<PathBuf>> {
        let mut stmt = self.conn.prepare("SELECT path FROM roots ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|r| r.map(|b| bytes_path(&b)).map_err(StoreError::from))
            .collect()
    }

    /// Skipped files, most recent first.
    pub fn skipped(&self, limit: usize) -> Result<Vec<SkippedFile>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, reason FROM skipped ORDER BY seen_crawl DESC, path LIMIT ?1",
        )?;
        let rows = stmt.query_map([to_i64(limit as u64)], |r| {
            let path: Vec<u8> = r.get(0)?;
            Ok(SkippedFile {
                path: String::from_utf8_lossy(&path).into_owned(),
                reason: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

fn write_outcome(
    tx: &Transaction<'_>,
    crawl_id: i64,
    model_id: i64,
    outcome: Outcome,
    effect: &mut BatchEffect,
) -> Result<()> {
    match outcome {
        Outcome::Unchanged { file_id } => {
            tx.prepare_cached("UPDATE files SET seen_crawl = ?2 WHERE id = ?1")?
                .execute(params![file_id, crawl_id])?;
        }
        Outcome::StillSkipped { path } => {
            tx.prepare_cached("UPDATE skipped SET seen_crawl = ?2 WHERE path = ?1")?
                .execute(params![path, crawl_id])?;
        }
        Outcome::Indexed {
            file,
            image,
            embedding,
        } => {
            let existing: Option<i64> = tx
                .prepare_cached("SELECT id FROM images WHERE hash = ?1")?
                .query_row([&image.hash[..]], |r| r.get(0))
                .optional()?;
            let image_id = match existing {
                Some(id) => id,
                None => {
                    tx.prepare_cached(
                        "INSERT INTO images (hash, format, width, height, bytes, taken_at, camera_make,
                         camera_model, lens, gps_lat, gps_lon, orientation, added_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                    )?
                    .execute(params![
                        &image.hash[..],
                        image.format,
                        image.width,
                        image.height,
                        to_i64(image.bytes),
                        image.taken_at,
                        image.camera_make,
                        image.camera_model,
                        image.lens,
                        image.gps_lat,
                        image.gps_lon,
                        image.orientation,
                        now()
                    ])?;
                    tx.last_insert_rowid()
                }
            };
            tx.prepare_cached(
                "INSERT INTO files (root_id, path, size, mtime_ns, inode, image_id, seen_crawl)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(path) DO UPDATE SET root_id = excluded.root_id, size = excluded.size,
                   mtime_ns = excluded.mtime_ns, inode = excluded.inode, image_id = excluded.image_id,
                   seen_crawl = excluded.seen_crawl",
            )?
            .execute(params![
                file.root_id,
                file.path,
                to_i64(file.size),
                file.mtime_ns,
                to_i64(file.inode),
                image_id,
                crawl_id
            ])?;
            tx.prepare_cached("DELETE FROM skipped WHERE path = ?1")?
                .execute([&file.path])?;
            if let Some(vector) = embedding {
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO embeddings (image_id, model_id, vector) VALUES (?1, ?2, ?3)
                         ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![image_id, model_id, vector_bytes(&vector)])?;
                if inserted == 1 {
                    effect.added.push((image_id, vector));
                }
            }
        }
        Outcome::Skipped {
            root_id,
            path,
            size,
            mtime_ns,
            reason,
        } => {
            tx.prepare_cached(
                "INSERT INTO skipped (path, root_id, reason, size, mtime_ns, seen_crawl)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(path) DO UPDATE SET root_id = excluded.root_id, reason = excluded.reason,
                   size = excluded.size, mtime_ns = excluded.mtime_ns, seen_crawl = excluded.seen_crawl",
            )?
            .execute(params![
                path,
                root_id,
                reason,
                size.map(to_i64),
                mtime_ns,
                crawl_id
            ])?;
            tx.prepare_cached("DELETE FROM files WHERE path = ?1")?
                .execute([&path])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(root_id: i64, path: &str) -> FileFacts {
        FileFacts {
            root_id,
            path: path.as_bytes().to_vec(),
            size: 10,
            mtime_ns: 5,
            inode: 7,
        }
    }

    fn image(hash: u8) -> ImageFacts {
        ImageFacts {
            hash: [hash; 32],
            format: "png".into(),
            width: 4,
            height: 3,
            bytes: 10,
            ..ImageFacts::default()
        }
    }

    #[test]
    fn other_weights_under_a_known_name_forget_its_embeddings() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(&dir.path().join("catalog.db")).expect("opens");
        let root = store.ensure_root(Path::new("/lib")).expect("root");
        let embed = |store: &mut Store, model: i64| {
            let crawl = store.begin_crawl(model).expect("crawl");
            store
                .write_batch(
                    crawl,
                    model,
                    vec![Outcome::Indexed {
                        file: facts(root, "/lib/a.png"),
                        image: image(1),
                        embedding: Some(vec![0.6, 0.8]),
                    }],
                )
                .expect("writes");
        };
        // From before fingerprints: unknown weights, so forgotten.
        let model = store.ensure_model("m", 2).expect("model");
        embed(&mut store, model);
        assert_eq!(
            store.prepare_model("m", 2, "aaa").expect("prepares"),
            (model, 1)
        );
        embed(&mut store, model);
        // The same weights keep them; other weights do not.
        assert_eq!(
            store.prepare_model("m", 2, "aaa").expect("prepares"),
            (model, 0)
        );
        assert_eq!(store.counts(Some(model)).expect("counts").embedded, 1);
        assert_eq!(
            store.prepare_model("m", 2, "bbb").expect("prepares"),
            (model, 1)
        );
        assert_eq!(store.counts(Some(model)).expect("counts").embedded, 0);
        // A model seen for the first time.
        let (other, forgotten) = store.prepare_model("n", 4, "ccc").expect("prepares");
        assert!(other != model && forgotten == 0);
    }

    #[test]
    fn batches_link_files_to_content_and_moves_keep_embeddings() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(&dir.path().join("catalog.db")).expect("opens");
        let root = store.ensure_root(Path::new("/lib")).expect("root");
        let model = store.ensure_model("m", 2).expect("model");
        let crawl = store.begin_crawl(model).expect("crawl");
        let effect = store
            .write_batch(
                crawl,
                model,
                vec![Outcome::Indexed {
                    file: facts(root, "/lib/a.png"),
                    image: image(1),
                    embedding: Some(vec![0.6, 0.8]),
                }],
            )
            .expect("writes");
        assert_eq!(effect.added.len(), 1);
        let known = store
            .file(b"/lib/a.png", model)
            .expect("reads")
            .expect("known");
        assert!(known.embedded);
        // The same content under a new name: no new embedding, same image.
        let (image_id, embedded) = store
            .image_by_hash(&[1; 32], model)
            .expect("q")
            .expect("found");
        assert!(embedded);
        let crawl2 = store.begin_crawl(model).expect("crawl");
        store
            .write_batch(
                crawl2,
                model,
                vec![Outcome::Indexed {
                    file: facts(root, "/lib/moved.png"),
                    image: image(1),
                    embedding: None,
                }],
            )
            .expect("writes");
        assert_eq!(store.finish_root(crawl2, root).expect("finishes"), 1);
        assert!(store.file(b"/lib/a.png", model).expect("reads").is_none());
        assert_eq!(
            store
                .file(b"/lib/moved.png", model)
                .expect("reads")
                .map(|f| f.image_id),
            Some(image_id)
        );
        assert!(store.purge_orphans().expect("purges").is_empty());
        assert_eq!(
            store.embedding(image_id, model).expect("reads"),
            Some(vec![0.6, 0.8])
        );
        let counts = store.counts(Some(model)).expect("counts");
        assert_eq!((counts.files, counts.images, counts.embedded), (1, 1, 1));
    }

    #[test]
    fn a_skip_replaces_a_file_and_orphans_are_purged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(&dir.path().join("catalog.db")).expect("opens");
        let root = store.ensure_root(Path::new("/lib")).expect("root");
        let model = store.ensure_model("m", 2).expect("model");
        let crawl = store.begin_crawl(model).expect("crawl");
        store
            .write_batch(
                crawl,
                model,
                vec![Outcome::Indexed {
                    file: facts(root, "/lib/a.png"),
                    image: image(2),
                    embedding: Some(vec![1.0, 0.0]),
                }],
            )
            .expect("writes");
        store
            .write_batch(
                crawl,
                model,
                vec![Outcome::Skipped {
                    root_id: root,
                    path: b"/lib/a.png".to_vec(),
                    size: Some(3),
                    mtime_ns: Some(9),
                    reason: "truncated".into(),
                }],
            )
            .expect("writes");
        assert!(store.skipped_unchanged(b"/lib/a.png", 3, 9).expect("reads"));
        assert!(!store.skipped_unchanged(b"/lib/a.png", 4, 9).expect("reads"));
        assert_eq!(store.purge_orphans().expect("purges").len(), 1);
        assert_eq!(
            store.skipped(10).expect("lists"),
            [SkippedFile {
                path: "/lib/a.png".into(),
                reason: "truncated".into()
            }]
        );
    }

    #[test]
    fn reopening_keeps_the_schema_and_refuses_newer_ones() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("catalog.db");
        drop(Store::open(&path).expect("creates"));
        let store = Store::open(&path).expect("reopens");
        store
            .conn
            .pragma_update(None, "user_version", 99)
            .expect("bumps");
        drop(store);
        let err = Store::open(&path).expect_err("too new");
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }
}
