//! Imported catalogs (`sources`, `schema-6.sql`): what a photographer's catalog says about its
//! photos, copied in whole at each import and matched to Trove's images by file path, or,
//! where the folders moved, by file name and capture time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};

use super::codec::{bytes_path, path_bytes};
use super::{Catalog, Result};

/// One photo as an imported catalog describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourcePhoto {
    /// The catalog's own id for it.
    pub external_id: i64,
    /// The original's path, as the catalog has it.
    pub path: PathBuf,
    /// A file Trove indexes in its place (a recovered preview), if any.
    pub stand_in: Option<PathBuf>,
    /// Capture time (ISO 8601, no zone).
    pub taken_at: Option<String>,
    /// 0–5 stars, `None` when unrated.
    pub rating: Option<u8>,
    /// 1 pick, -1 rejected, 0 neither.
    pub flag: i8,
    /// Colour label.
    pub label: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Caption.
    pub caption: Option<String>,
    /// Keywords, each the keyword's path (outermost first) and whether it names a person.
    pub keywords: Vec<(Vec<String>, bool)>,
    /// Collections, by name.
    pub collections: Vec<String>,
}

/// What an import found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Photos in the catalog.
    pub photos: u64,
    /// Matched to an indexed file by its path.
    pub by_path: u64,
    /// Matched by file name and capture time (the folders moved).
    pub by_name: u64,
    /// Matched through a preview Trove indexes in the original's place.
    pub by_preview: u64,
    /// Not (yet) among Trove's images.
    pub unmatched: u64,
}

/// An imported catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Its id.
    pub id: i64,
    /// `lightroom`.
    pub kind: String,
    /// The catalog file.
    pub path: PathBuf,
    /// Its version.
    pub version: String,
    /// When it was last imported (unix seconds).
    pub imported_at: i64,
    /// What it matched.
    pub counts: ImportCounts,
}

/// What imported catalogs say about one image (for the lightbox).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSourceFacts {
    /// The catalog's kind (`lightroom`).
    pub kind: String,
    /// The catalog file.
    pub catalog: PathBuf,
    /// The original's path in that catalog.
    pub original: PathBuf,
    /// Whether Trove shows a preview in the original's place.
    pub preview_only: bool,
    /// Stars.
    pub rating: Option<u8>,
    /// 1 pick, -1 rejected, 0 neither.
    pub flag: i8,
    /// Colour label.
    pub label: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Caption.
    pub caption: Option<String>,
    /// Keyword paths (`Places > Japan`).
    pub keywords: Vec<String>,
    /// Collections.
    pub collections: Vec<String>,
}

/// Keyword paths are stored with this between the levels.
pub const KEYWORD_SEPARATOR: &str = " > ";

impl Catalog {
    /// Replaces what the catalog at `path` said before with `photos`, in one transaction, and
    /// matches each to an image. Returns the source's id and the counts.
    pub fn import_source(
        &mut self,
        kind: &str,
        path: &Path,
        version: &str,
        photos: &[SourcePhoto],
    ) -> Result<(i64, ImportCounts)> {
        let key = path_bytes(path);
        if key.is_empty() || key == [0] {
            // The paths of the files' own metadata sources; no catalog file is called that.
            return Err(rusqlite::Error::InvalidParameterName(
                "an imported catalog needs a file path".into(),
            )
            .into());
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO sources (kind, path, version, imported_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(path) DO UPDATE SET kind = excluded.kind, version = excluded.version,
               imported_at = excluded.imported_at",
            params![kind, key, version, super::codec::now()],
        )?;
        let source: i64 = tx.query_row("SELECT id FROM sources WHERE path = ?1", [&key], |r| {
            r.get(0)
        })?;
        tx.execute("DELETE FROM source_photos WHERE source_id = ?1", [source])?;
        let mut counts = ImportCounts {
            photos: photos.len() as u64,
            ..Default::default()
        };
        {
            let mut photo = tx.prepare_cached(
                "INSERT INTO source_photos (source_id, external_id, path, stand_in, taken_at,
                   rating, flag, label, title, caption)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT DO NOTHING",
            )?;
            let mut keyword = tx.prepare_cached(
                "INSERT OR IGNORE INTO source_keywords (source_id, external_id, keyword, path, person)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut collection = tx.prepare_cached(
                "INSERT OR IGNORE INTO source_collections (source_id, external_id, collection)
                 VALUES (?1, ?2, ?3)",
            )?;
            let mut by_path = tx.prepare_cached("SELECT image_id FROM files WHERE path = ?1")?;
            let mut matched = tx.prepare_cached(
                "UPDATE source_photos SET image_id = ?3, matched_by = ?4
                  WHERE source_id = ?1 AND external_id = ?2",
            )?;
            // Files by name, for photos whose folders moved: built once, only if needed.
            let mut by_name: Option<ByName> = None;
            for p in photos {
                photo.execute(params![
                    source,
                    p.external_id,
                    path_bytes(&p.path),
                    p.stand_in.as_deref().map(path_bytes),
                    p.taken_at,
                    p.rating,
                    p.flag,
                    p.label,
                    p.title,
                    p.caption,
                ])?;
                for (path, person) in &p.keywords {
                    let Some(name) = path.last() else { continue };
                    keyword.execute(params![
                        source,
                        p.external_id,
                        name,
                        path.join(KEYWORD_SEPARATOR),
                        person
                    ])?;
                }
                for c in &p.collections {
                    collection.execute(params![source, p.external_id, c])?;
                }
                let found = by_path
                    .query_row([path_bytes(&p.path)], |r| r.get::<_, i64>(0))
                    .optional()?
                    .map(|id| (id, "path"));
                let found = match found {
                    Some(f) => Some(f),
                    None => match &p.stand_in {
                        Some(s) => by_path
                            .query_row([path_bytes(s)], |r| r.get::<_, i64>(0))
                            .optional()?
                            .map(|id| (id, "preview")),
                        None => None,
                    },
                };
                let found = match found {
                    Some(f) => Some(f),
                    None => {
                        if by_name.is_none() {
                            by_name = Some(files_by_name(&tx)?);
                        }
                        by_name
                            .as_ref()
                            .and_then(|index| match_by_name(index, p))
                            .map(|id| (id, "name and date"))
                    }
                };
                match found {
                    Some((image, how)) => {
                        matched.execute(params![source, p.external_id, image, how])?;
                        match how {
                            "path" => counts.by_path += 1,
                            "preview" => counts.by_preview += 1,
                            _ => counts.by_name += 1,
                        }
                    }
                    None => counts.unmatched += 1,
                }
            }
        }
        tx.commit()?;
        Ok((source, counts))
    }

    /// Forgets an imported catalog and everything it brought; whether there was one. (What
    /// files say of themselves is not an imported catalog: it goes with the files.)
    pub fn remove_source(&mut self, path: &Path) -> Result<bool> {
        let n = self.conn.execute(
            "DELETE FROM sources WHERE path = ?1 AND kind NOT IN ('embedded', 'sidecar')",
            [path_bytes(path)],
        )?;
        Ok(n > 0)
    }

    /// The imported catalogs, oldest first, with what they match now.
    pub fn sources(&self) -> Result<Vec<Source>> {
        let mut st = self.conn.prepare(
            "SELECT s.id, s.kind, s.path, s.version, s.imported_at,
                    count(p.external_id),
                    coalesce(sum(p.matched_by = 'path'), 0),
                    coalesce(sum(p.matched_by = 'name and date'), 0),
                    coalesce(sum(p.matched_by = 'preview'), 0),
                    coalesce(sum(p.image_id IS NULL), 0)
               FROM sources s LEFT JOIN source_photos p ON p.source_id = s.id
              WHERE s.kind NOT IN ('embedded', 'sidecar')
              GROUP BY s.id ORDER BY s.id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(Source {
                id: r.get(0)?,
                kind: r.get(1)?,
                path: bytes_path(&r.get::<_, Vec<u8>>(2)?),
                version: r.get(3)?,
                imported_at: r.get(4)?,
                counts: ImportCounts {
                    photos: count(r.get(5)?),
                    by_path: count(r.get(6)?),
                    by_name: count(r.get(7)?),
                    by_preview: count(r.get(8)?),
                    unmatched: count(r.get(9)?),
                },
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// What imported catalogs say about an image, one entry per catalog photo matched to it.
    pub fn source_facts(&self, image_id: i64) -> Result<Vec<ImageSourceFacts>> {
        let mut st = self.conn.prepare_cached(
            "SELECT s.kind,
                    CASE s.kind
                      WHEN 'embedded' THEN p.path
                      WHEN 'sidecar' THEN
                        (SELECT m.sidecar FROM file_metadata m WHERE m.file_id = p.external_id)
                      ELSE s.path END,
                    p.path, p.matched_by = 'preview', p.rating, p.flag, p.label,
                    p.title, p.caption,
                    (SELECT group_concat(path, char(10)) FROM (SELECT k.path FROM source_keywords k
                      WHERE k.source_id = p.source_id AND k.external_id = p.external_id
                      ORDER BY k.path)),
                    (SELECT group_concat(collection, char(10)) FROM (SELECT c.collection
                      FROM source_collections c
                      WHERE c.source_id = p.source_id AND c.external_id = p.external_id
                      ORDER BY c.collection))
               FROM source_photos p JOIN sources s ON s.id = p.source_id
              WHERE p.image_id = ?1 ORDER BY s.id, p.external_id",
        )?;
        let lines = |s: Option<String>| -> Vec<String> {
            s.map(|s| s.lines().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let rows = st.query_map([image_id], |r| {
            Ok(ImageSourceFacts {
                kind: r.get(0)?,
                catalog: bytes_path(&r.get::<_, Option<Vec<u8>>>(1)?.unwrap_or_default()),
                original: bytes_path(&r.get::<_, Vec<u8>>(2)?),
                preview_only: r.get::<_, Option<bool>>(3)?.unwrap_or(false),
                rating: r.get(4)?,
                flag: r.get(5)?,
                label: r.get(6)?,
                title: r.get(7)?,
                caption: r.get(8)?,
                keywords: lines(r.get(9)?),
                collections: lines(r.get(10)?),
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

/// A count from SQL.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Indexed files by lower-case file name: each one's image and capture time.
type ByName = HashMap<Vec<u8>, Vec<(i64, Option<String>)>>;

/// Every indexed file by its name, with its image and capture date.
fn files_by_name(tx: &rusqlite::Transaction<'_>) -> Result<ByName> {
    let mut st = tx.prepare(
        "SELECT f.path, f.image_id, i.taken_at FROM files f JOIN images i ON i.id = f.image_id",
    )?;
    let mut out: HashMap<Vec<u8>, Vec<(i64, Option<String>)>> = HashMap::new();
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, Option<String>>(2)?,
        ))
    })?;
    for row in rows {
        let (path, image, taken) = row?;
        let name = file_name(&path).to_ascii_lowercase();
        out.entry(name).or_default().push((image, taken));
    }
    Ok(out)
}

/// The last part of a path's bytes.
fn file_name(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The image of the one indexed file with the photo's file name and capture time (to the
/// second); none when no file or several different images fit.
fn match_by_name(index: &ByName, p: &SourcePhoto) -> Option<i64> {
    let taken = p.taken_at.as_deref().filter(|t| t.len() >= 19)?;
    let name = file_name(&path_bytes(&p.path)).to_ascii_lowercase();
    let mut fits = index
        .get(&name)?
        .iter()
        .filter(|(_, t)| t.as_deref().is_some_and(|t| t.get(..19) == taken.get(..19)))
        .map(|(id, _)| *id);
    let first = fits.next()?;
    fits.all(|id| id == first).then_some(first)
}
