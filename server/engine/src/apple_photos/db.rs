//! Reading an Apple Photos library's database (`<library>/database/Photos.sqlite`, Core Data
//! over SQLite), read-only, for Photos 5 (macOS 10.15) to Photos 10 (macOS 15): each photo's
//! original file, capture time, favourite flag, title, description, keywords, the albums it is
//! in (with their folders) and the people named in it.
//!
//! Apple documents none of it. The tables, columns and version numbers are those osxphotos
//! (MIT, RhetTbull/osxphotos 0.77.2: `_constants.py`'s `_DB_TABLE_NAMES` and model-version
//! ranges, `photosdb/photosdb.py`'s queries) reads, cross-checked for Photos 5 to 8 against
//! ScottKjr3347's iOS Photos.sqlite queries. The names that move between versions (the asset
//! table, `ZGENERICASSET` until Photos 5 and `ZASSET` since; the join tables, whose names carry
//! Core Data's entity numbers; the face columns, `ZASSET`/`ZPERSON` until Photos 8 and
//! `ZASSETFORFACE`/`ZPERSONFORFACE` since) are found in the database itself rather than looked
//! up by version, so a library of a release not yet seen is read where its shape allows.
//!
//! Photos keeps its database open while it runs (WAL). Trove never writes it: the database and
//! its log are copied to a temporary folder and the copy is read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

pub use super::error::{photos_release, PhotosError};

/// One photo as the library describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryPhoto {
    /// The asset's `Z_PK`.
    pub id: i64,
    /// Its UUID.
    pub uuid: String,
    /// The original's path (`originals/<dir>/<file>` inside the library, or a referenced file).
    pub original: PathBuf,
    /// The name the file had when it was imported (`IMG_1234.HEIC`).
    pub original_name: Option<String>,
    /// Capture time in the photo's own time zone, ISO 8601 without a zone.
    pub taken_at: Option<String>,
    /// Marked as a favourite.
    pub favorite: bool,
    /// Title.
    pub title: Option<String>,
    /// Description (caption).
    pub description: Option<String>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Albums it is in, with their folders (`Travel / Japan 2023`).
    pub albums: Vec<String>,
    /// People named in it.
    pub people: Vec<String>,
}

/// An open (copied) Photos database.
#[derive(Debug)]
pub struct PhotosDb {
    conn: Connection,
    /// The database as found in the library.
    pub path: PathBuf,
    /// `PLModelVersion` from `Z_METADATA`.
    pub model_version: Option<i64>,
    /// The folder the copy is in (deleted with this).
    _copy: tempfile::TempDir,
}

/// The table and column names this database uses.
struct Shape {
    asset: &'static str,
    keyword_join: (String, String, String),
    album_join: (String, String, String),
    face: Option<(&'static str, &'static str)>,
}

impl PhotosDb {
    /// Copies the library's database (and its log) and opens the copy.
    pub fn open(library: &Path) -> Result<PhotosDb, PhotosError> {
        let db = library.join("database/Photos.sqlite");
        if !db.is_file() {
            if library.join("database/photos.db").is_file()
                || library.join("database/Library.apdb").is_file()
            {
                return Err(PhotosError::TooOld {
                    path: library.to_owned(),
                });
            }
            return Err(PhotosError::NotALibrary {
                path: library.to_owned(),
            });
        }
        let read = |source| PhotosError::Read {
            path: db.clone(),
            source,
        };
        let copy = tempfile::tempdir().map_err(read)?;
        let target = copy.path().join("Photos.sqlite");
        std::fs::copy(&db, &target).map_err(read)?;
        let wal = library.join("database/Photos.sqlite-wal");
        if wal.is_file() {
            std::fs::copy(&wal, copy.path().join("Photos.sqlite-wal")).map_err(read)?;
        }
        let damaged = |source| PhotosError::Damaged {
            path: db.clone(),
            source,
        };
        let conn = Connection::open_with_flags(
            &target,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(damaged)?;
        // Reading the schema is the first thing to fail on a file that is not SQLite.
        let tables: Vec<String> = table_names(&conn).map_err(damaged)?;
        if tables.iter().any(|t| t == "RKMaster" || t == "RKVersion") {
            return Err(PhotosError::TooOld {
                path: library.to_owned(),
            });
        }
        let model_version = if tables.iter().any(|t| t == "Z_METADATA") {
            conn.query_row(
                "SELECT Z_PLIST FROM Z_METADATA ORDER BY Z_VERSION DESC LIMIT 1",
                [],
                |r| r.get::<_, Option<Vec<u8>>>(0),
            )
            .ok()
            .flatten()
            .and_then(|p| model_version(&p))
        } else {
            None
        };
        Ok(PhotosDb {
            conn,
            path: db,
            model_version,
            _copy: copy,
        })
    }

    fn missing(&self, what: String) -> PhotosError {
        PhotosError::UnknownShape {
            path: self.path.clone(),
            version: self
                .model_version
                .map_or_else(|| "unknown".into(), |v| v.to_string()),
            missing: what,
        }
    }

    /// Finds the names this database uses for what Trove reads.
    fn shape(&self) -> Result<Shape, PhotosError> {
        let tables = table_names(&self.conn).map_err(|e| self.damaged(e))?;
        let has = |t: &str| tables.iter().any(|x| x == t);
        let asset = if has("ZASSET") {
            "ZASSET"
        } else if has("ZGENERICASSET") {
            "ZGENERICASSET"
        } else {
            return Err(self.missing("the ZASSET table".into()));
        };
        for t in ["ZADDITIONALASSETATTRIBUTES", "ZKEYWORD", "ZGENERICALBUM"] {
            if !has(t) {
                return Err(self.missing(format!("the {t} table")));
            }
        }
        let numbered = |name: &str, prefix_col: &str, other_suffix: &str| {
            // `Z_<n><NAME>` tables with a `Z_<n><prefix_col>` column and a
            // `Z_<m><other_suffix>` one.
            tables.iter().find_map(|t| {
                let n = t.strip_prefix("Z_")?.strip_suffix(name)?;
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let cols = column_names(&self.conn, t).ok()?;
                let own = format!("Z_{n}{prefix_col}");
                let other = cols.iter().find(|c| {
                    c.strip_prefix("Z_")
                        .and_then(|c| c.strip_suffix(other_suffix))
                        .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
                })?;
                cols.contains(&own).then(|| (t.clone(), own, other.clone()))
            })
        };
        let keyword_join = numbered("KEYWORDS", "ASSETATTRIBUTES", "KEYWORDS")
            .ok_or_else(|| self.missing("the keyword join table (Z_1KEYWORDS)".into()))?;
        let album_join = numbered("ASSETS", "ALBUMS", "ASSETS")
            .ok_or_else(|| self.missing("the album join table (Z_<n>ASSETS)".into()))?;
        let face = if has("ZDETECTEDFACE") && has("ZPERSON") {
            let cols = column_names(&self.conn, "ZDETECTEDFACE").map_err(|e| self.damaged(e))?;
            let pick = |a: &'static str, b: &'static str| {
                if cols.iter().any(|c| c == a) {
                    Some(a)
                } else if cols.iter().any(|c| c == b) {
                    Some(b)
                } else {
                    None
                }
            };
            pick("ZASSETFORFACE", "ZASSET").zip(pick("ZPERSONFORFACE", "ZPERSON"))
        } else {
            None
        };
        Ok(Shape {
            asset,
            keyword_join,
            album_join,
            face,
        })
    }

    fn damaged(&self, source: rusqlite::Error) -> PhotosError {
        PhotosError::Damaged {
            path: self.path.clone(),
            source,
        }
    }

    /// Every photo in the library (not movies, not what is in the trash), with what the library
    /// says about it; originals are under `library`.
    pub fn photos(&self, library: &Path) -> Result<Vec<LibraryPhoto>, PhotosError> {
        let shape = self.shape()?;
        let a = shape.asset;
        let sql = format!(
            "SELECT a.Z_PK, a.ZUUID, a.ZDIRECTORY, a.ZFILENAME, a.ZDATECREATED, a.ZFAVORITE,
                    aa.ZTITLE, aa.ZORIGINALFILENAME, aa.ZTIMEZONEOFFSET, d.ZLONGDESCRIPTION
               FROM {a} a
               LEFT JOIN ZADDITIONALASSETATTRIBUTES aa ON aa.ZASSET = a.Z_PK
               LEFT JOIN ZASSETDESCRIPTION d ON d.Z_PK = aa.ZASSETDESCRIPTION
              WHERE a.ZKIND = 0 AND coalesce(a.ZTRASHEDSTATE, 0) = 0
              ORDER BY a.Z_PK"
        );
        let sql = if table_names(&self.conn)
            .map_err(|e| self.damaged(e))?
            .iter()
            .any(|t| t == "ZASSETDESCRIPTION")
        {
            sql
        } else {
            sql.replace("d.ZLONGDESCRIPTION", "NULL").replace(
                "LEFT JOIN ZASSETDESCRIPTION d ON d.Z_PK = aa.ZASSETDESCRIPTION",
                "",
            )
        };
        let mut st = self.conn.prepare(&sql).map_err(|e| self.damaged(e))?;
        let text = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let rows = st
            .query_map([], |r| {
                let dir: Option<String> = r.get(2)?;
                let file: Option<String> = r.get(3)?;
                let created: Option<f64> = r.get(4)?;
                let offset: Option<i64> = r.get(8)?;
                Ok(LibraryPhoto {
                    id: r.get(0)?,
                    uuid: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    original: original_path(library, dir.as_deref(), file.as_deref()),
                    original_name: text(r.get(7)?),
                    taken_at: created.and_then(|c| local_time(c, offset.unwrap_or(0))),
                    favorite: r.get::<_, Option<i64>>(5)?.unwrap_or(0) != 0,
                    title: text(r.get(6)?),
                    description: text(r.get(9)?),
                    keywords: Vec::new(),
                    albums: Vec::new(),
                    people: Vec::new(),
                })
            })
            .map_err(|e| self.damaged(e))?;
        let mut photos: Vec<LibraryPhoto> = rows
            .collect::<Result<_, _>>()
            .map_err(|e| self.damaged(e))?;
        let index: HashMap<i64, usize> =
            photos.iter().enumerate().map(|(i, p)| (p.id, i)).collect();

        let (kt, kattr, kkw) = &shape.keyword_join;
        let keywords = self
            .pairs(&format!(
                "SELECT aa.ZASSET, k.ZTITLE FROM {kt} j
                   JOIN ZADDITIONALASSETATTRIBUTES aa ON aa.Z_PK = j.{kattr}
                   JOIN ZKEYWORD k ON k.Z_PK = j.{kkw}"
            ))
            .map_err(|e| self.damaged(e))?;
        for (asset, k) in keywords {
            if let Some(&i) = index.get(&asset) {
                push_unique(&mut photos[i].keywords, k);
            }
        }

        let albums = self.album_names().map_err(|e| self.damaged(e))?;
        let (at, aalb, aas) = &shape.album_join;
        let members = self
            .ids(&format!("SELECT j.{aas}, j.{aalb} FROM {at} j"))
            .map_err(|e| self.damaged(e))?;
        for (asset, album) in members {
            if let (Some(&i), Some(name)) = (index.get(&asset), albums.get(&album)) {
                push_unique(&mut photos[i].albums, name.clone());
            }
        }

        if let Some((fa, fp)) = shape.face {
            let people = self
                .pairs(&format!(
                    "SELECT f.{fa}, coalesce(nullif(trim(p.ZFULLNAME), ''), trim(p.ZDISPLAYNAME))
                       FROM ZDETECTEDFACE f JOIN ZPERSON p ON p.Z_PK = f.{fp}"
                ))
                .map_err(|e| self.damaged(e))?;
            for (asset, name) in people {
                if name == "_UNKNOWN_" {
                    continue;
                }
                if let Some(&i) = index.get(&asset) {
                    push_unique(&mut photos[i].people, name);
                }
            }
        }
        for p in &mut photos {
            p.albums.sort();
        }
        Ok(photos)
    }

    /// User and shared albums not in the trash, by `Z_PK`, each named with its folders.
    fn album_names(&self) -> rusqlite::Result<HashMap<i64, String>> {
        let mut st = self.conn.prepare(
            "SELECT Z_PK, ZTITLE, ZKIND, ZPARENTFOLDER, coalesce(ZTRASHEDSTATE, 0)
               FROM ZGENERICALBUM",
        )?;
        let rows: Vec<AlbumRow> = st
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        let by_id: HashMap<i64, &AlbumRow> = rows.iter().map(|r| (r.0, r)).collect();
        let mut out = HashMap::new();
        for (id, title, kind, parent, trashed) in &rows {
            // 2: a user's album; 1505: a shared one.
            if !matches!(kind, 2 | 1505) || *trashed != 0 {
                continue;
            }
            let Some(title) = title.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
                continue;
            };
            let mut parts = vec![title.to_owned()];
            let mut up = *parent;
            // Folders (4000) up to the root folder (3999), a few dozen deep at most.
            for _ in 0..64 {
                let Some(folder) = up.and_then(|p| by_id.get(&p)) else {
                    break;
                };
                if folder.2 != 4000 {
                    break;
                }
                if let Some(t) = folder.1.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                    parts.push(t.to_owned());
                }
                up = folder.3;
            }
            parts.reverse();
            out.insert(*id, parts.join(" / "));
        }
        Ok(out)
    }

    fn pairs(&self, sql: &str) -> rusqlite::Result<Vec<(i64, String)>> {
        let mut st = self.conn.prepare(sql)?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            if let (Some(a), Some(t)) = row? {
                let t = t.trim().to_owned();
                if !t.is_empty() {
                    out.push((a, t));
                }
            }
        }
        Ok(out)
    }

    fn ids(&self, sql: &str) -> rusqlite::Result<Vec<(i64, i64)>> {
        let mut st = self.conn.prepare(sql)?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            if let (Some(a), Some(b)) = row? {
                out.push((a, b));
            }
        }
        Ok(out)
    }
}

/// An album or folder: `Z_PK`, title, kind, parent folder, trashed state.
type AlbumRow = (i64, Option<String>, i64, Option<i64>, i64);

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
    let names = st.query_map([], |r| r.get(0))?;
    names.collect()
}

fn column_names(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = st.query_map([table], |r| r.get(0))?;
    names.collect()
}

/// `PLModelVersion` from `Z_METADATA`'s property list.
fn model_version(plist_bytes: &[u8]) -> Option<i64> {
    let value = plist::Value::from_reader(std::io::Cursor::new(plist_bytes)).ok()?;
    let v = value.as_dictionary()?.get("PLModelVersion")?;
    v.as_signed_integer()
        .or_else(|| v.as_unsigned_integer().and_then(|u| i64::try_from(u).ok()))
        .or_else(|| v.as_string().and_then(|s| s.trim().parse().ok()))
}

/// Where a photo's original is: `originals/<dir>/<file>` in the library, or `<dir>/<file>`
/// when the directory is absolute (a file Photos references in place).
fn original_path(library: &Path, dir: Option<&str>, file: Option<&str>) -> PathBuf {
    let (dir, file) = (dir.unwrap_or(""), file.unwrap_or(""));
    let base = if dir.starts_with('/') {
        PathBuf::from(dir)
    } else {
        library.join("originals").join(dir)
    };
    base.join(file)
}

/// Core Data's seconds since 2001-01-01 UTC, at `offset` seconds from UTC, as
/// `YYYY-MM-DDTHH:MM:SS`.
fn local_time(created: f64, offset: i64) -> Option<String> {
    if !created.is_finite() {
        return None;
    }
    let secs = created.floor() as i64 + 978_307_200 + offset;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (0..=9999).contains(&y).then(|| {
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_data_dates_in_the_photos_own_zone() {
        // 2023-04-02 06:12:44 UTC is 702_108_764 s after 2001-01-01.
        assert_eq!(
            local_time(702_108_764.5, 0).as_deref(),
            Some("2023-04-02T06:12:44")
        );
        assert_eq!(
            local_time(702_108_764.0, 9 * 3600).as_deref(),
            Some("2023-04-02T15:12:44")
        );
        assert_eq!(local_time(f64::NAN, 0), None);
        assert_eq!(photos_release(18402), Some("Photos 10 (macOS 15)"));
        assert_eq!(photos_release(12000), None);
    }
}
