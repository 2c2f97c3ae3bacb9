//! Lightroom's preview files. A `.lrprev` is a run of sections, each a 32-byte header and its
//! data: `"AgHg"`, the header's length (u16, big-endian, 32), two bytes Trove does not need, the
//! data's length and the padding's after it (u64 each, big-endian), and the section's name
//! (`header`, `level_1` … `level_N`, NUL-padded). The `header` section describes the pyramid in
//! Lua-like text; each `level_N` holds one whole JPEG, level 1 the smallest. Newer Lightroom
//! Classic versions also write one plain JPEG per level; [`largest_jpeg`] takes either.
//!
//! Read from the format as public readers describe it (Arnau Siches' "Dive into Lightroom
//! catalogues" for LrC 11, arron-h/enlighten-desktop's `lrprev.cpp` for LR5, with real LR5
//! files laid out the same way); the tests build files in that layout.

use thiserror::Error;

/// The bytes every section starts with.
const MAGIC: &[u8; 4] = b"AgHg";
/// The fixed part of a section header before its name.
const FIXED: usize = 24;

/// Why a preview file gave no picture.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PreviewError {
    /// Neither a preview container nor a JPEG.
    #[error("not a Lightroom preview (no AgHg section and no JPEG)")]
    NotAPreview,
    /// The file ends before its first picture is whole.
    #[error("the preview file is truncated before any whole picture")]
    NothingWhole,
}

/// One section of a preview file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section<'a> {
    /// Its name (`header`, `level_3`).
    pub name: &'a str,
    /// Its data, without the padding.
    pub data: &'a [u8],
}

/// The sections of a preview file, in order, and whether the file ended inside one (a truncated
/// file: the sections before are whole and returned).
pub fn sections(bytes: &[u8]) -> Result<(Vec<Section<'_>>, bool), PreviewError> {
    if !bytes.starts_with(MAGIC) {
        return Err(PreviewError::NotAPreview);
    }
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < FIXED || !rest.starts_with(MAGIC) {
            return Ok((out, true));
        }
        let header = u16::from_be_bytes([rest[4], rest[5]]) as usize;
        let data_len = u64::from_be_bytes(rest[8..16].try_into().expect("8 bytes"));
        let pad_len = u64::from_be_bytes(rest[16..24].try_into().expect("8 bytes"));
        if header < FIXED || rest.len() < header {
            return Ok((out, true));
        }
        let name_bytes = &rest[FIXED..header];
        let name_end = name_bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(name_bytes.len());
        let name = std::str::from_utf8(&name_bytes[..name_end]).unwrap_or("");
        let Some(data_end) = usize::try_from(data_len)
            .ok()
            .and_then(|n| header.checked_add(n))
            .filter(|&end| end <= rest.len())
        else {
            return Ok((out, true));
        };
        out.push(Section {
            name,
            data: &rest[header..data_end],
        });
        let next = usize::try_from(pad_len)
            .ok()
            .and_then(|p| data_end.checked_add(p));
        match next {
            Some(n) if n <= rest.len() => at += n,
            // The padding runs past the end: the last section is whole, nothing follows.
            _ => return Ok((out, false)),
        }
    }
    Ok((out, false))
}

/// The largest picture a preview file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Largest<'a> {
    /// The JPEG's bytes.
    pub jpeg: &'a [u8],
    /// Its pyramid level (1 the smallest; 0 for a file that is one plain JPEG).
    pub level: u32,
    /// Its width and height, from the JPEG's frame header.
    pub size: Option<(u32, u32)>,
    /// Levels the file names, whole or not.
    pub levels: u32,
    /// Whether the file was cut short (a larger level was lost).
    pub truncated: bool,
}

/// The largest whole JPEG in a preview file: the highest level of an `.lrprev`, or the file
/// itself where it is a plain JPEG. A level counts as whole when its data is all there and is a
/// JPEG from its start marker to its end marker.
pub fn largest_jpeg(bytes: &[u8]) -> Result<Largest<'_>, PreviewError> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return if is_whole_jpeg(bytes) {
            Ok(Largest {
                jpeg: bytes,
                level: 0,
                size: jpeg_size(bytes),
                levels: 1,
                truncated: false,
            })
        } else {
            Err(PreviewError::NothingWhole)
        };
    }
    let (sections, mut truncated) = sections(bytes)?;
    let mut levels = sections
        .iter()
        .filter_map(|s| s.name.strip_prefix("level_")?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    if truncated {
        // The section the file ended in is one more level than the last whole one.
        levels += 1;
    }
    let best = sections
        .iter()
        .filter_map(|s| {
            let level = s.name.strip_prefix("level_")?.parse::<u32>().ok()?;
            Some((level, s.data))
        })
        .filter(|(level, data)| {
            let whole = is_whole_jpeg(data);
            if !whole && *level == levels {
                truncated = true;
            }
            whole
        })
        .max_by_key(|(level, _)| *level);
    let (level, jpeg) = best.ok_or(PreviewError::NothingWhole)?;
    Ok(Largest {
        jpeg,
        level,
        size: jpeg_size(jpeg),
        levels,
        truncated: truncated || level < levels,
    })
}

/// Whether the bytes start with a JPEG's start marker and end with its end marker.
fn is_whole_jpeg(b: &[u8]) -> bool {
    b.len() > 4 && b.starts_with(&[0xFF, 0xD8]) && b.ends_with(&[0xFF, 0xD9])
}

/// A JPEG's width and height from its first frame header (SOF0–SOF15 but DHT, JPG, DAC).
pub fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    while at + 4 <= b.len() {
        if b[at] != 0xFF {
            return None;
        }
        let marker = b[at + 1];
        if marker == 0xFF {
            at += 1;
            continue;
        }
        let len = u16::from_be_bytes([b[at + 2], b[at + 3]]) as usize;
        let is_frame = (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_frame {
            let f = b.get(at + 4..at + 9)?;
            let h = u16::from_be_bytes([f[1], f[2]]) as u32;
            let w = u16::from_be_bytes([f[3], f[4]]) as u32;
            return Some((w, h));
        }
        if marker == 0xDA || len < 2 {
            return None;
        }
        at += 2 + len;
    }
    None
}

/// A section as Lightroom writes it: the 32-byte header, the data, zeros to a multiple of 16
/// (for fixtures: Trove itself never writes previews).
pub fn section(name: &str, data: &[u8]) -> Vec<u8> {
    let pad = (16 - (32 + data.len()) % 16) % 16;
    let mut out = Vec::with_capacity(32 + data.len() + pad);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&32u16.to_be_bytes());
    out.extend_from_slice(&[u8::from(name != "header"), 0]);
    out.extend_from_slice(&(data.len() as u64).to_be_bytes());
    out.extend_from_slice(&(pad as u64).to_be_bytes());
    let mut n = name.as_bytes().to_vec();
    n.resize(8, 0);
    out.extend_from_slice(&n);
    out.extend_from_slice(data);
    out.extend(std::iter::repeat_n(0u8, pad));
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tiny JPEG of the given size (a real one: the `image` crate's encoder).
    pub(crate) fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&img)
            .expect("encodes");
        out
    }

    fn preview(levels: &[Vec<u8>]) -> Vec<u8> {
        let mut out = section("header", b"pyramid = { formatVersion = 3, }");
        for (i, l) in levels.iter().enumerate() {
            out.extend(section(&format!("level_{}", i + 1), l));
        }
        out
    }

    #[test]
    fn the_largest_level_is_returned_byte_exact() {
        let levels = [jpeg(16, 12), jpeg(32, 24), jpeg(64, 48)];
        let file = preview(&levels);
        let (secs, truncated) = sections(&file).expect("parses");
        assert!(!truncated);
        assert_eq!(
            secs.iter().map(|s| s.name).collect::<Vec<_>>(),
            ["header", "level_1", "level_2", "level_3"]
        );
        let got = largest_jpeg(&file).expect("a picture");
        assert_eq!(got.jpeg, &levels[2][..]);
        assert_eq!((got.level, got.levels, got.truncated), (3, 3, false));
        assert_eq!(got.size, Some((64, 48)));
    }

    #[test]
    fn a_truncated_file_gives_its_largest_whole_level() {
        let levels = [jpeg(16, 12), jpeg(32, 24), jpeg(64, 48)];
        let file = preview(&levels);
        for cut in [file.len() - 40, file.len() - levels[2].len() / 2] {
            let got = largest_jpeg(&file[..cut]).expect("a picture");
            assert_eq!(got.jpeg, &levels[1][..], "cut at {cut}");
            assert_eq!((got.level, got.levels, got.truncated), (2, 3, true));
        }
        // Cut inside the first level's header: nothing whole.
        let header_only = section("header", b"pyramid = {}").len();
        assert_eq!(
            largest_jpeg(&file[..header_only + 10]),
            Err(PreviewError::NothingWhole)
        );
    }

    #[test]
    fn plain_jpegs_and_other_files() {
        let j = jpeg(20, 10);
        let got = largest_jpeg(&j).expect("a jpeg");
        assert_eq!((got.level, got.size), (0, Some((20, 10))));
        assert_eq!(
            largest_jpeg(&j[..j.len() - 3]),
            Err(PreviewError::NothingWhole)
        );
        assert_eq!(
            largest_jpeg(b"GIF89a not a preview"),
            Err(PreviewError::NotAPreview)
        );
        assert_eq!(largest_jpeg(b""), Err(PreviewError::NotAPreview));
        // Lengths that point past the end never panic.
        let mut evil = section("level_1", &jpeg(8, 8));
        evil[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(largest_jpeg(&evil), Err(PreviewError::NothingWhole));
        let mut evil = section("level_1", &jpeg(8, 8));
        evil[16..24].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(largest_jpeg(&evil).is_ok());
        let mut evil = section("level_1", &jpeg(8, 8));
        evil[4..6].copy_from_slice(&3u16.to_be_bytes());
        assert_eq!(largest_jpeg(&evil), Err(PreviewError::NothingWhole));
    }
}
