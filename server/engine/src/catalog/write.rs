//! Writing the crawl's outcomes, one transaction per batch, and forgetting what is gone.

use std::path::Path;

use rusqlite::{params, OptionalExtension, Transaction};

use super::codec::{now, path_bytes, to_i64, vector_bytes};
use super::metadata::{write_embedded, write_sidecar, FileMetadata, Sidecar};
use super::{Catalog, Result};
use crate::media::ImageFacts;

/// Where a file is, its `stat` facts and what it says of its picture.
#[derive(Debug, Clone, PartialEq)]
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
    /// What it says of its picture, inside itself and in a sidecar.
    pub metadata: FileMetadata,
}

/// One result of the crawl pipeline, written in a batch. (Most are `Indexed`, the large one;
/// they cross the crawl's channels boxed.)
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
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
    /// An unchanged file whose own metadata was read for the first time (a catalog made
    /// before Trove read it).
    Described {
        /// Its row.
        file_id: i64,
        /// Its path bytes.
        path: Vec<u8>,
        /// What it says.
        metadata: FileMetadata,
    },
    /// An unchanged file whose sidecar is new, changed or gone.
    Sidecar {
        /// Its row.
        file_id: i64,
        /// Its path bytes.
        path: Vec<u8>,
        /// The sidecar now, if there is one.
        sidecar: Option<Box<Sidecar>>,
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

impl Catalog {
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
                    let image_id = write_image(&tx, &image)?;
                    let file_id = write_file(&tx, crawl_id, &file, image_id)?;
                    let m = &file.metadata;
                    write_embedded(&tx, file_id, &file.path, m.embedded.as_deref())?;
                    write_sidecar(&tx, file_id, &file.path, m.sidecar.as_deref())?;
                    if let Some(vector) = embedding {
                        let inserted = tx
                            .prepare_cached(
                                "INSERT INTO embeddings (image_id, model_id, vector)
                                 VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                            )?
                            .execute(params![image_id, model_id, vector_bytes(&vector)])?;
                        if inserted == 1 {
                            effect.added.push((image_id, vector));
                        }
                    }
                }
                Outcome::Described {
                    file_id,
                    path,
                    metadata,
                } => {
                    tx.prepare_cached("UPDATE files SET seen_crawl = ?2 WHERE id = ?1")?
                        .execute(params![file_id, crawl_id])?;
                    write_embedded(&tx, file_id, &path, metadata.embedded.as_deref())?;
                    write_sidecar(&tx, file_id, &path, metadata.sidecar.as_deref())?;
                }
                Outcome::Sidecar {
                    file_id,
                    path,
                    sidecar,
                } => write_sidecar(&tx, file_id, &path, sidecar.as_deref())?,
                Outcome::Skipped {
                    root_id,
                    path,
                    size,
                    mtime_ns,
                    reason,
                } => write_skip(&tx, crawl_id, root_id, &path, (size, mtime_ns), &reason)?,
            }
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

    /// Forgets library root `root` (its files and skipped rows, then the root itself); the
    /// images left without a file are for [`Catalog::purge_orphans`]. Whether the root was
    /// known.
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

    /// Deletes images no file points at (and their embeddings); returns their ids.
    pub fn purge_orphans(&mut self) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let ids: Vec<i64> = {
            let mut stmt = tx.prepare(
                "SELECT id FROM images i
                 WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.image_id = i.id)",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        tx.execute(
            "DELETE FROM images
             WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.image_id = images.id)",
            [],
        )?;
        tx.commit()?;
        Ok(ids)
    }
}

/// The image row of `image`'s content, inserted if new; its id.
fn write_image(tx: &Transaction<'_>, image: &ImageFacts) -> Result<i64> {
    let existing: Option<i64> = tx
        .prepare_cached("SELECT id FROM images WHERE hash = ?1")?
        .query_row([&image.hash[..]], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
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
    Ok(tx.last_insert_rowid())
}

/// The file row of `file`, pointing at `image_id`; a skip recorded for its path is dropped.
/// Returns the row's id.
fn write_file(tx: &Transaction<'_>, crawl_id: i64, file: &FileFacts, image_id: i64) -> Result<i64> {
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO files (root_id, path, size, mtime_ns, inode, image_id, seen_crawl)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(path) DO UPDATE SET root_id = excluded.root_id, size = excluded.size,
               mtime_ns = excluded.mtime_ns, inode = excluded.inode, image_id = excluded.image_id,
               seen_crawl = excluded.seen_crawl
             RETURNING id",
        )?
        .query_row(
            params![
                file.root_id,
                file.path,
                to_i64(file.size),
                file.mtime_ns,
                to_i64(file.inode),
                image_id,
                crawl_id
            ],
            |r| r.get(0),
        )?;
    tx.prepare_cached("DELETE FROM skipped WHERE path = ?1")?
        .execute([&file.path])?;
    Ok(id)
}

/// A skip row for `path` with its reason; a file row for the path is dropped.
fn write_skip(
    tx: &Transaction<'_>,
    crawl_id: i64,
    root_id: i64,
    path: &[u8],
    (size, mtime_ns): (Option<u64>, Option<i64>),
    reason: &str,
) -> Result<()> {
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
        .execute([path])?;
    Ok(())
}
