//! Reading the catalog: what the crawl needs to decide ("is this file unchanged?"), and what
//! results, the lightbox and the status show.

use std::path::PathBuf;

use rusqlite::{params, OptionalExtension};

use super::codec::{bytes_path, bytes_vector, hash_of, to_i64, to_u64};
use super::{Catalog, CatalogError, Result};
use crate::media::ImageFacts;

/// A file of an image, as the crawl last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size then.
    pub size: u64,
    /// Its modification time then, in nanoseconds since the epoch.
    pub mtime_ns: i64,
}

impl IndexedFile {
    /// Whether the file (by its metadata now) is still the one that was indexed.
    pub fn unchanged(&self, now: &std::fs::Metadata) -> bool {
        now.len() == self.size && mtime_ns(now) == self.mtime_ns
    }
}

/// A file's modification time in nanoseconds since the epoch, as the catalog keeps it.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt as _;
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

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
    /// Whether its own metadata was read (`None`: never), and with which sidecar.
    pub metadata: Option<Option<super::metadata::SeenSidecar>>,
}

/// What the catalog knows of an image, for results and the lightbox.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDetail {
    /// Image id.
    pub id: i64,
    /// One of its files (the first by path), lossy for names that are not UTF-8.
    pub path: String,
    /// How many files have this content.
    pub copies: u64,
    /// Its facts.
    pub facts: ImageFacts,
    /// Its caption, when a captioner wrote one.
    pub caption: Option<String>,
    /// Its tags, clearest first.
    pub tags: Vec<String>,
    /// What an imported catalog says of it (the first, where several describe it).
    pub catalog: Option<super::ImageSourceFacts>,
    /// What its files say of it, in their own XMP and IPTC (`kind` `embedded`, `catalog` the
    /// file) and in XMP sidecars (`sidecar`, `catalog` the sidecar).
    pub described: Vec<super::ImageSourceFacts>,
}

/// A skipped file, as the status lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    /// The path (lossy for names that are not UTF-8).
    pub path: String,
    /// Why.
    pub reason: String,
}

/// Counts for the status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

impl Catalog {
    /// What the catalog knows of a path, with whether its content is embedded for `model_id`.
    pub fn file(&self, path: &[u8], model_id: i64) -> Result<Option<KnownFile>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT f.id, f.size, f.mtime_ns, f.inode, f.image_id,
                    EXISTS (SELECT 1 FROM embeddings e
                            WHERE e.image_id = f.image_id AND e.model_id = ?2),
                    m.file_id IS NOT NULL, m.sidecar, m.sidecar_size, m.sidecar_mtime_ns
             FROM files f LEFT JOIN file_metadata m ON m.file_id = f.id WHERE f.path = ?1",
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
                    metadata: super::metadata::seen_sidecar(r, 6)?,
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
            "SELECT i.id, EXISTS (SELECT 1 FROM embeddings e
                                  WHERE e.image_id = i.id AND e.model_id = ?2)
             FROM images i WHERE i.hash = ?1",
        )?;
        Ok(stmt
            .query_row(params![&hash[..], model_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
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
        let one =
            |sql: &str| -> Result<u64> { Ok(to_u64(self.conn.query_row(sql, [], |r| r.get(0))?)) };
        let embedded: i64 = match model_id {
            Some(m) => self.conn.query_row(
                "SELECT COUNT(*) FROM embeddings e WHERE e.model_id = ?1
                 AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = e.image_id)",
                [m],
                |r| r.get(0),
            )?,
            None => 0,
        };
        Ok(Counts {
            files: one("SELECT COUNT(*) FROM files")?,
            images: one("SELECT COUNT(DISTINCT image_id) FROM files")?,
            embedded: to_u64(embedded),
            skipped: one("SELECT COUNT(*) FROM skipped")?,
        })
    }

    /// Details of images, in the order of `ids` (unknown or file-less ids are left out).
    pub fn image_details(&self, ids: &[i64]) -> Result<Vec<ImageDetail>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.format, i.width, i.height, i.bytes, i.taken_at, i.camera_make, i.camera_model,
                    i.lens, i.gps_lat, i.gps_lon, i.orientation,
                    (SELECT f.path FROM files f WHERE f.image_id = i.id ORDER BY f.path LIMIT 1),
                    (SELECT COUNT(*) FROM files f WHERE f.image_id = i.id), i.hash,
                    (SELECT c.caption FROM image_captions c WHERE c.image_id = i.id),
                    (SELECT group_concat(tag, char(10)) FROM
                        (SELECT g.tag FROM image_tags g WHERE g.image_id = i.id
                         ORDER BY g.score DESC, g.tag))
             FROM images i WHERE i.id = ?1",
        )?;
        let imported: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM source_photos WHERE image_id IS NOT NULL)",
            [],
            |r| r.get(0),
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let row = stmt
                .query_row([id], |r| {
                    let Some(path) = r.get::<_, Option<Vec<u8>>>(11)? else {
                        return Ok(None);
                    };
                    Ok(Some(ImageDetail {
                        id,
                        path: String::from_utf8_lossy(&path).into_owned(),
                        copies: to_u64(r.get(12)?),
                        facts: ImageFacts {
                            hash: hash_of(&r.get::<_, Vec<u8>>(13)?),
                            format: r.get(0)?,
                            width: r.get(1)?,
                            height: r.get(2)?,
                            bytes: to_u64(r.get(3)?),
                            taken_at: r.get(4)?,
                            camera_make: r.get(5)?,
                            camera_model: r.get(6)?,
                            lens: r.get(7)?,
                            gps_lat: r.get(8)?,
                            gps_lon: r.get(9)?,
                            orientation: r.get(10)?,
                        },
                        caption: r.get::<_, Option<String>>(14)?.filter(|c| !c.is_empty()),
                        tags: r
                            .get::<_, Option<String>>(15)?
                            .map(|t| t.lines().map(str::to_owned).collect())
                            .unwrap_or_default(),
                        catalog: None,
                        described: Vec::new(),
                    }))
                })
                .optional()?;
            if let Some(Some(mut detail)) = row {
                if imported {
                    let (own, catalogs): (Vec<_>, Vec<_>) =
                        self.source_facts(id)?.into_iter().partition(|f| {
                            [super::metadata::EMBEDDED, super::metadata::SIDECAR]
                                .contains(&f.kind.as_str())
                        });
                    detail.catalog = catalogs.into_iter().next();
                    detail.described = own;
                }
                out.push(detail);
            }
        }
        Ok(out)
    }

    /// Every file of an image (by path) as the crawl last saw it, and its content hash.
    pub fn files_of(&self, image_id: i64) -> Result<Option<([u8; 32], Vec<IndexedFile>)>> {
        let hash: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT hash FROM images WHERE id = ?1", [image_id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(hash) = hash else { return Ok(None) };
        Ok(Some((hash_of(&hash), self.indexed_files(image_id)?)))
    }

    /// Every file of an image (by path) as the crawl last saw it.
    pub(super) fn indexed_files(&self, image_id: i64) -> Result<Vec<IndexedFile>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, size, mtime_ns FROM files WHERE image_id = ?1 ORDER BY path",
        )?;
        let rows = stmt.query_map([image_id], |r| {
            Ok(IndexedFile {
                path: bytes_path(&r.get::<_, Vec<u8>>(0)?),
                size: to_u64(r.get(1)?),
                mtime_ns: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
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

    /// Library roots in the catalog.
    pub fn roots(&self) -> Result<Vec<PathBuf>> {
        let mut stmt = self.conn.prepare("SELECT path FROM roots ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|r| r.map(|b| bytes_path(&b)).map_err(CatalogError::from))
            .collect()
    }

    /// Every library root with the number of files it holds.
    pub fn root_files(&self) -> Result<Vec<(PathBuf, u64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT r.path, (SELECT COUNT(*) FROM files f WHERE f.root_id = r.id)
             FROM roots r ORDER BY r.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((bytes_path(&r.get::<_, Vec<u8>>(0)?), to_u64(r.get(1)?)))
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
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
