//! What files say about themselves (`schema-7.sql`): the XMP and IPTC inside an image file and
//! the XMP sidecar beside it, kept as two sources (`embedded`, `sidecar`) with one photo row
//! per file, so that their keywords, titles, captions, ratings and labels go where an imported
//! catalog's go: the keyword index, the `keyword:`/`rating:`/`label:` filters, the lightbox.
//! The crawl writes them with the file ([`super::Outcome`]); `file_metadata` records that a
//! file was read and with which sidecar, so an edited, new or deleted sidecar is read again.

use rusqlite::{params, Transaction};

use super::{Catalog, Result, KEYWORD_SEPARATOR};
use crate::media::xmp::Described;

/// The source kind of what is inside image files.
pub const EMBEDDED: &str = "embedded";
/// The source kind of XMP sidecars.
pub const SIDECAR: &str = "sidecar";

/// An XMP sidecar as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Sidecar {
    /// Its path bytes.
    pub path: Vec<u8>,
    /// Its size.
    pub size: u64,
    /// Its modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// What it says.
    pub described: Described,
}

/// What one file says about its picture.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileMetadata {
    /// Its own XMP and IPTC, when they say anything.
    pub embedded: Option<Box<Described>>,
    /// Its sidecar, when it has one.
    pub sidecar: Option<Box<Sidecar>>,
}

/// The sidecar a file was last read with: path bytes, size, modification time.
pub type SeenSidecar = (Vec<u8>, u64, i64);

/// A file whose name begins like a sidecar's, with the sidecar it was last read with (`None`
/// inside when none; the outer `None` when its metadata was never read).
#[derive(Debug, Clone, PartialEq)]
pub struct SidecarOwner {
    /// The file's row.
    pub file_id: i64,
    /// Its path bytes.
    pub path: Vec<u8>,
    /// What it was last read with.
    pub read_with: Option<Option<SeenSidecar>>,
}

impl Catalog {
    /// Indexed files whose path starts with `prefix` (a folder and a file stem with its dot),
    /// with the sidecar each was last read with.
    pub fn sidecar_owners(&self, prefix: &[u8]) -> Result<Vec<SidecarOwner>> {
        // The prefix's range in the path index: the last byte one higher bounds it.
        let mut upper = prefix.to_vec();
        match upper.last_mut() {
            Some(b) if *b < u8::MAX => *b += 1,
            _ => return Ok(Vec::new()),
        }
        let mut st = self.conn.prepare_cached(
            "SELECT f.id, f.path, m.file_id IS NOT NULL, m.sidecar, m.sidecar_size,
                    m.sidecar_mtime_ns
               FROM files f LEFT JOIN file_metadata m ON m.file_id = f.id
              WHERE f.path >= ?1 AND f.path < ?2 LIMIT 64",
        )?;
        let rows = st.query_map(params![prefix, upper], |r| {
            Ok(SidecarOwner {
                file_id: r.get(0)?,
                path: r.get(1)?,
                read_with: seen_sidecar(r, 2)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

/// The id of the source of `kind` (made by `schema-7.sql`).
fn source_id(tx: &Transaction<'_>, kind: &str) -> Result<i64> {
    Ok(tx
        .prepare_cached("SELECT id FROM sources WHERE kind = ?1")?
        .query_row([kind], |r| r.get(0))?)
}

/// Replaces what file `file_id` (at `path`) says inside itself.
pub(super) fn write_embedded(
    tx: &Transaction<'_>,
    file_id: i64,
    path: &[u8],
    embedded: Option<&Described>,
) -> Result<()> {
    write_photo(tx, EMBEDDED, file_id, path, embedded)
}

/// Replaces what file `file_id`'s sidecar says, and records that its metadata was read with
/// this sidecar (or none).
pub(super) fn write_sidecar(
    tx: &Transaction<'_>,
    file_id: i64,
    path: &[u8],
    sidecar: Option<&Sidecar>,
) -> Result<()> {
    write_photo(tx, SIDECAR, file_id, path, sidecar.map(|s| &s.described))?;
    tx.prepare_cached(
        "INSERT INTO file_metadata (file_id, sidecar, sidecar_size, sidecar_mtime_ns)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(file_id) DO UPDATE SET sidecar = excluded.sidecar,
           sidecar_size = excluded.sidecar_size, sidecar_mtime_ns = excluded.sidecar_mtime_ns",
    )?
    .execute(params![
        file_id,
        sidecar.map(|s| &s.path),
        sidecar.map(|s| i64::try_from(s.size).unwrap_or(i64::MAX)),
        sidecar.map(|s| s.mtime_ns)
    ])?;
    Ok(())
}

/// One file's photo row in the source of `kind`, its keywords written before it is matched to
/// the file's image (so the keyword index's trigger sees them).
fn write_photo(
    tx: &Transaction<'_>,
    kind: &str,
    file_id: i64,
    path: &[u8],
    described: Option<&Described>,
) -> Result<()> {
    let source = source_id(tx, kind)?;
    tx.prepare_cached("DELETE FROM source_photos WHERE source_id = ?1 AND external_id = ?2")?
        .execute(params![source, file_id])?;
    let Some(d) = described.filter(|d| !d.is_empty()) else {
        return Ok(());
    };
    // XMP's rating: -1 rejected, 0 unrated, 1-5 stars.
    let rating = d.rating.filter(|r| (1..=5).contains(r));
    let flag = if d.rating == Some(-1) { -1 } else { 0 };
    tx.prepare_cached(
        "INSERT INTO source_photos (source_id, external_id, path, rating, flag, label, title,
           caption)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        source,
        file_id,
        path,
        rating,
        flag,
        d.label,
        d.title,
        d.description
    ])?;
    let mut keyword = tx.prepare_cached(
        "INSERT OR IGNORE INTO source_keywords (source_id, external_id, keyword, path, person)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (parts, person) in d.keywords() {
        let Some(last) = parts.last() else { continue };
        keyword.execute(params![
            source,
            file_id,
            last,
            parts.join(KEYWORD_SEPARATOR),
            person
        ])?;
    }
    tx.prepare_cached(
        "UPDATE source_photos SET matched_by = 'path',
           image_id = (SELECT image_id FROM files WHERE id = ?2)
         WHERE source_id = ?1 AND external_id = ?2",
    )?
    .execute(params![source, file_id])?;
    Ok(())
}

/// Columns `at..at + 4` of a row: whether a file's metadata was read (`m.file_id IS NOT NULL`),
/// and the sidecar's path, size and modification time.
pub(super) fn seen_sidecar(
    r: &rusqlite::Row<'_>,
    at: usize,
) -> rusqlite::Result<Option<Option<SeenSidecar>>> {
    let read: bool = r.get(at)?;
    let path: Option<Vec<u8>> = r.get(at + 1)?;
    let size: Option<i64> = r.get(at + 2)?;
    let mtime: Option<i64> = r.get(at + 3)?;
    Ok(read.then(|| {
        path.map(|p| {
            (
                p,
                u64::try_from(size.unwrap_or(0)).unwrap_or(0),
                mtime.unwrap_or(0),
            )
        })
    }))
}
