//! Lightroom's previews, found through `previews.db` ([`Previews`]), and writing the largest of
//! each photo as a JPEG named after the original, its capture time kept ([`recover`]).

use std::path::{Component, Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use thiserror::Error;

use super::lrprev::largest_jpeg;
use super::LrPhoto;

/// Why previews could not be read or written.
#[derive(Debug, Error)]
pub enum PreviewsError {
    /// The previews folder has no readable `previews.db`.
    #[error("cannot read the previews index {path}")]
    Index {
        /// `previews.db`.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A catalog's previews folder (`<catalog> Previews.lrdata`) and its index.
pub struct Previews {
    dir: PathBuf,
    conn: Connection,
}

/// A photo's largest preview, read from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The JPEG.
    pub jpeg: Vec<u8>,
    /// Its width and height.
    pub size: Option<(u32, u32)>,
    /// The file it came from.
    pub file: PathBuf,
    /// Whether a larger level was lost (a truncated file).
    pub truncated: bool,
}

/// Why a photo has no preview to recover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoPreview {
    /// The index has no entry for it (Lightroom never rendered one, or discarded it).
    NotIndexed,
    /// The index names a file that is not there.
    Missing(PathBuf),
    /// The file is there but holds no whole picture.
    Unreadable(PathBuf, String),
}

impl std::fmt::Display for NoPreview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoPreview::NotIndexed => write!(f, "Lightroom has no preview of it"),
            NoPreview::Missing(p) => write!(f, "its preview file {} is missing", p.display()),
            NoPreview::Unreadable(p, why) => write!(f, "{}: {why}", p.display()),
        }
    }
}

/// The previews folder beside a catalog: `Name.lrcat` → `Name Previews.lrdata`.
pub fn previews_dir(catalog: &Path) -> PathBuf {
    let stem = catalog
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    catalog.with_file_name(format!("{stem} Previews.lrdata"))
}

impl Previews {
    /// Opens the previews folder of a catalog; `None` when it has none.
    pub fn open(catalog: &Path) -> Result<Option<Previews>, PreviewsError> {
        let dir = previews_dir(catalog);
        let index = dir.join("previews.db");
        if !index.is_file() {
            return Ok(None);
        }
        let err = |source| PreviewsError::Index {
            path: index.clone(),
            source,
        };
        let conn = Connection::open_with_flags(
            &index,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.pragma_update(None, "query_only", true).map_err(err)?;
        conn.query_row("SELECT count(*) FROM ImageCacheEntry", [], |_| Ok(()))
            .map_err(err)?;
        Ok(Some(Previews { dir, conn }))
    }

    /// The preview files the index names for a catalog image, the likeliest first: the
    /// `.lrprev` pyramid, then one file per level (newer Lightroom Classic), largest first.
    fn files(&self, image_id: i64) -> rusqlite::Result<Option<Vec<PathBuf>>> {
        let Some((uuid, digest)) = self
            .conn
            .query_row(
                "SELECT CAST(uuid AS TEXT), CAST(digest AS TEXT) FROM ImageCacheEntry
                  WHERE CAST(imageId AS INTEGER) = ?1",
                [image_id],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
        else {
            return Ok(None);
        };
        // Some releases keep a shortened digest here and the whole one in `Pyramid`.
        let digest = self
            .conn
            .query_row(
                "SELECT CAST(digest AS TEXT) FROM Pyramid WHERE uuid = ?1
                   AND substr(CAST(digest AS TEXT), 1, length(?2)) = ?2 LIMIT 1",
                [&uuid, &digest],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .ok()
            .flatten()
            .unwrap_or(digest);
        // Names come from the index: keep them to plain names so that a hostile index cannot
        // point outside the folder.
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !plain(&uuid) || !plain(&digest) || uuid.len() < 4 {
            return Ok(Some(Vec::new()));
        }
        let shard = self.dir.join(&uuid[..1]).join(&uuid[..4]);
        let stem = format!("{uuid}-{digest}");
        let mut files = vec![shard.join(format!("{stem}.lrprev"))];
        let mut levels: Vec<(u32, PathBuf)> = std::fs::read_dir(&shard)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let size = name.strip_prefix(&stem)?.strip_prefix('_')?.parse().ok()?;
                Some((size, e.path()))
            })
            .collect();
        levels.sort_by_key(|l| std::cmp::Reverse(l.0));
        files.extend(levels.into_iter().map(|(_, p)| p));
        Ok(Some(files))
    }

    /// The largest whole preview of a catalog image (`Adobe_images.id_local`).
    pub fn largest(&self, image_id: i64) -> Result<Result<Preview, NoPreview>, PreviewsError> {
        let files = self
            .files(image_id)
            .map_err(|source| PreviewsError::Index {
                path: self.dir.join("previews.db"),
                source,
            })?;
        let Some(files) = files else {
            return Ok(Err(NoPreview::NotIndexed));
        };
        let mut why = None;
        for file in &files {
            let bytes = match std::fs::read(file) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    why.get_or_insert(NoPreview::Unreadable(file.clone(), e.to_string()));
                    continue;
                }
            };
            match largest_jpeg(&bytes) {
                Ok(l) => {
                    return Ok(Ok(Preview {
                        jpeg: l.jpeg.to_vec(),
                        size: l.size,
                        file: file.clone(),
                        truncated: l.truncated,
                    }))
                }
                Err(e) => {
                    why.get_or_insert(NoPreview::Unreadable(file.clone(), e.to_string()));
                }
            }
        }
        Ok(Err(why.unwrap_or_else(|| {
            NoPreview::Missing(files.into_iter().next().unwrap_or_default())
        })))
    }
}

/// What [`recover`] did with one photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// Written to this file (and whether a larger level had been lost).
    Written {
        /// The JPEG written.
        file: PathBuf,
        /// Its width and height.
        size: Option<(u32, u32)>,
        /// Whether the preview file was cut short (a smaller level was written).
        truncated: bool,
    },
    /// Not written, and why.
    Skipped(String),
}

/// Where a photo's recovered preview goes under `out`: its path below its root folder (under
/// the root's name), with `.jpg` for its extension; `IMG_1 (CR2).jpg` where a JPEG of the same
/// name is already taken. Only plain names are kept (no `..`, no absolute parts).
pub fn recovered_name(photo: &LrPhoto, out: &Path, taken: &dyn Fn(&Path) -> bool) -> PathBuf {
    let mut dest = out.to_path_buf();
    for c in photo.relative.components() {
        if let Component::Normal(part) = c {
            dest.push(part);
        }
    }
    if dest == out {
        dest.push(format!("image-{}", photo.id));
    }
    let ext = dest
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let plain = dest.with_extension("jpg");
    if !taken(&plain) {
        return plain;
    }
    let stem = plain
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tagged = plain.with_file_name(format!("{stem} ({}).jpg", ext.to_uppercase()));
    if !taken(&tagged) {
        return tagged;
    }
    plain.with_file_name(format!("{stem} ({}, {}).jpg", ext.to_uppercase(), photo.id))
}

/// Writes each photo's largest preview under `out` (see [`recovered_name`]), with its capture
/// time kept as the JPEG's EXIF `DateTimeOriginal` (where the preview has no EXIF of its own)
/// and as the file's modification time. Never overwrites a file that was there before; calls
/// `each` after every photo.
pub fn recover(
    photos: &[LrPhoto],
    previews: &Previews,
    out: &Path,
    each: &mut dyn FnMut(&LrPhoto, &Recovered),
) -> Result<(), PreviewsError> {
    let mut written = std::collections::HashSet::new();
    for photo in photos {
        let result = match previews.largest(photo.id)? {
            Err(why) => Recovered::Skipped(why.to_string()),
            Ok(preview) => {
                let dest = recovered_name(photo, out, &|p| written.contains(p) || p.exists());
                let jpeg = match photo.capture_time.as_deref().and_then(exif_time) {
                    Some(t) => with_capture_time(&preview.jpeg, &t),
                    None => preview.jpeg,
                };
                write_new(&dest, &jpeg)?;
                if let Some(secs) = photo.capture_time.as_deref().and_then(unix_time) {
                    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
                    if let Ok(f) = std::fs::File::options().write(true).open(&dest) {
                        let _ = f.set_modified(when);
                    }
                }
                written.insert(dest.clone());
                Recovered::Written {
                    file: dest,
                    size: preview.size,
                    truncated: preview.truncated,
                }
            }
        };
        each(photo, &result);
    }
    Ok(())
}

fn write_new(dest: &Path, bytes: &[u8]) -> Result<(), PreviewsError> {
    use std::io::Write;
    let err = |source| PreviewsError::Write {
        path: dest.to_owned(),
        source,
    };
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let mut f = std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

/// `2011-06-13T17:50:35.03` → `2011:06:13 17:50:35` (EXIF's form); `None` when it is not a date.
pub(super) fn exif_time(capture: &str) -> Option<String> {
    let (y, mo, d, h, mi, s) = parse_time(capture)?;
    Some(format!("{y:04}:{mo:02}:{d:02} {h:02}:{mi:02}:{s:02}"))
}

/// The capture time as seconds since 1970, read as UTC (Lightroom stores no zone).
pub(super) fn unix_time(capture: &str) -> Option<u64> {
    let (y, mo, d, h, mi, s) = parse_time(capture)?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = i64::from(y) - i64::from(mo <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(mo) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    u64::try_from(secs).ok()
}

fn parse_time(t: &str) -> Option<(u32, u32, u32, u32, u32, u32)> {
    let num = |a: usize, b: usize| t.get(a..b)?.parse::<u32>().ok();
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, s) = if t.len() >= 19 {
        (num(11, 13)?, num(14, 16)?, num(17, 19)?)
    } else {
        (0, 0, 0)
    };
    let ok = (1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && s < 61;
    ok.then_some((y, mo, d, h, mi, s))
}

/// The JPEG with an EXIF segment holding `DateTimeOriginal` (`time` in EXIF's form,
/// `2011:06:13 17:50:35`) after its start marker, unless it already has EXIF (then it is
/// returned as it is).
pub fn with_capture_time(jpeg: &[u8], time: &str) -> Vec<u8> {
    let has_exif = {
        let mut at = 2;
        let mut found = false;
        while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
            let marker = jpeg[at + 1];
            if marker == 0xDA {
                break;
            }
            let len = u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
            if marker == 0xE1 && jpeg.get(at + 4..at + 10) == Some(b"Exif\0\0") {
                found = true;
                break;
            }
            at += 2 + len;
        }
        found
    };
    if has_exif || jpeg.len() < 2 {
        return jpeg.to_vec();
    }
    // TIFF, big-endian: IFD0 with one entry (the Exif IFD's offset), the Exif IFD with one
    // entry (DateTimeOriginal, 20 ASCII bytes stored after it).
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2A");
    tiff.extend_from_slice(&8u32.to_be_bytes());
    let entry = |tag: u16, kind: u16, count: u32, value: u32| {
        let mut e = Vec::with_capacity(12);
        e.extend_from_slice(&tag.to_be_bytes());
        e.extend_from_slice(&kind.to_be_bytes());
        e.extend_from_slice(&count.to_be_bytes());
        e.extend_from_slice(&value.to_be_bytes());
        e
    };
    // IFD0 at 8: count (2) + one entry (12) + next (4) = 18 bytes; the Exif IFD at 26.
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend(entry(0x8769, 4, 1, 26));
    tiff.extend_from_slice(&0u32.to_be_bytes());
    // Exif IFD at 26: 18 bytes; the string at 44.
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend(entry(0x9003, 2, 20, 44));
    tiff.extend_from_slice(&0u32.to_be_bytes());
    let mut text = time.as_bytes().to_vec();
    text.resize(20, 0);
    tiff.extend(text);
    let mut out = Vec::with_capacity(jpeg.len() + tiff.len() + 10);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend(tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_times_become_exif_and_unix_times() {
        assert_eq!(
            exif_time("2011-06-13T17:50:35.03").as_deref(),
            Some("2011:06:13 17:50:35")
        );
        assert_eq!(unix_time("1970-01-02T00:00:00"), Some(86_400));
        assert_eq!(unix_time("2024-02-29T12:00:00"), Some(1_709_208_000));
        assert_eq!(exif_time("yesterday"), None);
        assert_eq!(exif_time("2011-13-01"), None);
    }

    #[test]
    fn the_capture_time_goes_into_a_readable_exif() {
        let jpeg = super::super::lrprev::tests::jpeg(8, 8);
        let with = with_capture_time(&jpeg, "2011:06:13 17:50:35");
        let exif = exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&with))
            .expect("exif");
        let f = exif
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .expect("DateTimeOriginal");
        assert_eq!(
            f.display_value().to_string(),
            "2011-06-13 17:50:35",
            "{f:?}"
        );
        // Still a picture, and a second pass leaves it alone.
        assert!(image::load_from_memory(&with).is_ok());
        assert_eq!(with_capture_time(&with, "2000:01:01 00:00:00"), with);
    }

    #[test]
    fn recovered_names_stay_inside_the_output_folder() {
        let out = Path::new("/out");
        let photo = |rel: &str| LrPhoto {
            id: 7,
            relative: PathBuf::from(rel),
            ..Default::default()
        };
        let none = |_: &Path| false;
        assert_eq!(
            recovered_name(&photo("Photos/2023/IMG_1.CR2"), out, &none),
            Path::new("/out/Photos/2023/IMG_1.jpg")
        );
        assert_eq!(
            recovered_name(&photo("../../etc/passwd"), out, &none),
            Path::new("/out/etc/passwd.jpg")
        );
        assert_eq!(
            recovered_name(&photo("/abs/IMG.NEF"), out, &none),
            Path::new("/out/abs/IMG.jpg")
        );
        let taken = |p: &Path| p == Path::new("/out/a/IMG_1.jpg");
        assert_eq!(
            recovered_name(&photo("a/IMG_1.CR2"), out, &taken),
            Path::new("/out/a/IMG_1 (CR2).jpg")
        );
    }
}
