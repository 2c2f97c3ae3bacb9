//! Camera raw files (CR2, CR3, CRW, NEF, NRW, ARW, SRF, SR2, RAF, ORF, RW2, DNG, PEF, SRW, 3FR,
//! IIQ, ERF, KDC, DCR, MOS, MRW, X3F, RWL): Trove shows the full-size JPEG preview the camera
//! (or the raw converter) stored in the file, with the raw file's own EXIF. It does not develop
//! the sensor data.
//!
//! Every raw format keeps its preview as an ordinary JPEG somewhere inside: in a TIFF directory
//! (CR2, NEF, ARW, DNG, PEF), in a maker note (ORF), under a tag of its own (RW2's
//! `JpgFromRaw`), in a box (CR3's `PRVW`) or at an offset in the header (RAF). Rather than a
//! reader per maker, the file is searched for JPEG starts whose markers lead to a frame header
//! that libjpeg decodes (baseline or progressive; the lossless JPEG some raws use for the
//! sensor data is not a picture) and that end where the JPEG says it does; the one with the
//! most pixels is the preview. The EXIF comes from the raw container (TIFF directories, CR3's
//! `CMT1`/`CMT2`), or else from the preview.

use std::io::Cursor;

use super::ifd::{Tiff, EXIF_IFD};
use super::{DecodeError, DecodeLimits, Raw};

/// The formats this module reads, as the catalog names them.
pub const RAW_FORMATS: [&str; 23] = [
    "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "raf", "orf", "rw2", "dng", "pef",
    "srw", "3fr", "iiq", "erf", "kdc", "dcr", "mos", "mrw", "x3f", "raw",
];

/// Which camera raw format `bytes` holds, by its bytes: a signature of its own or, for the
/// TIFF-based ones, a TIFF whose directories describe sensor data (or a DNG version).
pub(super) fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"FUJIFILMCCD-RAW") {
        return Some("raf");
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && &bytes[8..12] == b"crx " {
        return Some("cr3");
    }
    if starts(b"II\x1a\0\0\0HEAPCCDR") {
        return Some("crw");
    }
    if starts(b"\0MRM") {
        return Some("mrw");
    }
    if starts(b"FOVb") {
        return Some("x3f");
    }
    if starts(b"IIRO") || starts(b"IIRS") || starts(b"MMOR") {
        return Some("orf");
    }
    if starts(b"IIU\0") {
        return Some("rw2");
    }
    if !(starts(b"II*\0") || starts(b"MM\0*")) {
        return None;
    }
    if bytes.get(8..10) == Some(b"CR") {
        return Some("cr2");
    }
    let tiff = Tiff::parse(bytes)?;
    if tiff.has(50706) {
        return Some("dng");
    }
    // Photometric CFA or LinearRaw, or a maker's own sensor-data compression.
    let sensor = tiff.ifds.iter().enumerate().any(|(i, _)| {
        matches!(tiff.uint(i, 262), Some(32803 | 34892))
            || matches!(
                tiff.uint(i, 259),
                Some(32767 | 32769 | 32770 | 32773 | 34713 | 65000 | 65535)
            ) && tiff.uint(i, 262) != Some(2)
    });
    if !sensor {
        return None;
    }
    let make = tiff.text(271).unwrap_or_default().to_ascii_lowercase();
    Some(match () {
        () if make.starts_with("nikon") => "nef",
        () if make.starts_with("sony") => "arw",
        () if make.starts_with("pentax") || make.starts_with("ricoh") => "pef",
        () if make.starts_with("samsung") => "srw",
        () if make.starts_with("hasselblad") => "3fr",
        () if make.starts_with("phase one") => "iiq",
        () if make.starts_with("leaf") => "mos",
        () if make.starts_with("kodak") || make.starts_with("eastman") => "dcr",
        () if make.starts_with("epson") => "erf",
        () if make.starts_with("leica") => "rwl",
        () if make.starts_with("canon") => "cr2",
        () => "raw",
    })
}

/// The preview's pixels (scaled as [`super::jpeg`] does), the preview's size, and the EXIF of
/// the raw file as a TIFF block.
pub(super) fn decode(
    bytes: &[u8],
    name: &'static str,
    min_side: u32,
    limits: DecodeLimits,
) -> Result<Raw, DecodeError> {
    let mut previews = jpegs(bytes);
    previews.sort_by_key(|p| std::cmp::Reverse(u64::from(p.width) * u64::from(p.height)));
    let mut first_error = None;
    for p in &previews {
        match super::jpeg::decode(&bytes[p.start..p.end], min_side, limits) {
            Ok((rgb, w, h, preview_exif)) => {
                let exif = choose_exif(container_exif(bytes, name), preview_exif);
                return Ok((rgb, w, h, exif));
            }
            // The next one may be smaller, or a picture where this one was not.
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let upper = name.to_ascii_uppercase();
    Err(match first_error {
        Some(e @ DecodeError::TooManyPixels { .. }) => e,
        Some(DecodeError::Corrupt { detail, .. }) => DecodeError::Corrupt {
            format: "camera raw",
            detail: format!("its preview picture cannot be decoded: {detail}"),
        },
        _ => DecodeError::Unsupported(format!(
            "this {upper} camera raw file holds no preview picture Trove can show (Trove shows \
             the preview the camera stores; it does not develop raw sensor data)"
        )),
    })
}

/// A JPEG found inside a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    start: usize,
    end: usize,
    width: u32,
    height: u32,
}

/// The most JPEG starts looked at in one file.
const MAX_CANDIDATES: usize = 4096;

/// Every baseline or progressive JPEG inside `bytes` that runs whole to its end marker. The
/// search reads at most a few times the file's length in all, however many JPEG starts a
/// hostile file holds.
fn jpegs(bytes: &[u8]) -> Vec<Found> {
    let mut budget = bytes.len().saturating_mul(4).saturating_add(1 << 20);
    memchr::memmem::find_iter(bytes, &[0xFF, 0xD8, 0xFF])
        .take(MAX_CANDIDATES)
        .filter_map(|start| jpeg_at(bytes, start, &mut budget))
        .collect()
}

/// The JPEG starting at `start`, if its markers are sound: segments up to a baseline or
/// progressive frame header, then scans up to the end-of-image marker. What it reads comes
/// off `budget`; none left, no JPEG.
fn jpeg_at(bytes: &[u8], start: usize, budget: &mut usize) -> Option<Found> {
    if *budget == 0 {
        return None;
    }
    let mut reached = start;
    let found = walk_jpeg(bytes, start, &mut reached);
    *budget = budget.saturating_sub(reached - start);
    found
}

/// Walks the markers of the JPEG at `start`; `reached` is how far it read.
fn walk_jpeg(bytes: &[u8], start: usize, reached: &mut usize) -> Option<Found> {
    let mut at = start + 2;
    let mut size = None;
    loop {
        *reached = at.min(bytes.len());
        // Fill bytes (0xFF) may precede a marker.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        match marker {
            0xD9 => {
                let (width, height) = size?;
                *reached = at + 2;
                return Some(Found {
                    start,
                    end: at + 2,
                    width,
                    height,
                });
            }
            0xD0..=0xD7 | 0x01 => {
                at += 2;
                continue;
            }
            // A second start of image: not one sound JPEG.
            0xD8 => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([
            *bytes.get(at + 2)?,
            *bytes.get(at + 3)?,
        ]));
        if len < 2 || at + 2 + len > bytes.len() {
            return None;
        }
        match marker {
            // Baseline, extended and progressive Huffman frames: pictures libjpeg decodes.
            0xC0..=0xC2 => {
                let h = u16::from_be_bytes([*bytes.get(at + 5)?, *bytes.get(at + 6)?]);
                let w = u16::from_be_bytes([*bytes.get(at + 7)?, *bytes.get(at + 8)?]);
                if w == 0 || h == 0 || size.is_some() {
                    return None;
                }
                size = Some((u32::from(w), u32::from(h)));
            }
            // Lossless, hierarchical and arithmetic-coded frames: sensor data, not previews.
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            0xDA => {
                size?;
                // The entropy-coded data runs to the next marker that is not a stuffed byte
                // or a restart.
                let mut scan = at + 2 + len;
                loop {
                    let Some(ff) = bytes
                        .get(scan..)
                        .and_then(|rest| memchr::memchr(0xFF, rest))
                        .map(|i| scan + i)
                    else {
                        *reached = bytes.len();
                        return None;
                    };
                    match bytes.get(ff + 1) {
                        Some(0x00 | 0xD0..=0xD7 | 0xFF) => scan = ff + 1,
                        Some(_) => {
                            at = ff;
                            break;
                        }
                        None => {
                            *reached = bytes.len();
                            return None;
                        }
                    }
                }
                continue;
            }
            _ => {}
        }
        at += 2 + len;
    }
}

/// The container's EXIF where it says when the picture was taken, else the preview's where it
/// does (RW2 and RAF keep the whole EXIF in the preview), else whichever there is.
fn choose_exif(container: Option<Vec<u8>>, preview: Option<Vec<u8>>) -> Option<Vec<u8>> {
    // `DateTimeOriginal` in any of its directories, read in place (the block is parsed once,
    // by the caller).
    let dated = |raw: &Vec<u8>| Tiff::parse(raw).is_some_and(|t| t.has(0x9003));
    match (container, preview) {
        (Some(c), _) if dated(&c) => Some(c),
        (_, Some(p)) if dated(&p) => Some(p),
        (c, p) => c.or(p),
    }
}

/// The raw file's EXIF as a TIFF block (the form `exif::Reader::read_raw` takes): the file
/// itself for the TIFF-based formats (with a standard header where the maker changed it), CR3's
/// `CMT1` (IFD0) and `CMT2` (the EXIF directory) merged into one.
fn container_exif(bytes: &[u8], name: &str) -> Option<Vec<u8>> {
    match name {
        "cr3" => cr3_exif(bytes),
        "orf" | "rw2" => {
            let mut copy = bytes.to_vec();
            let magic = if copy[0] == b'I' { b"*\0" } else { b"\0*" };
            copy[2..4].copy_from_slice(magic);
            Some(copy)
        }
        _ if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") => {
            // Only worth handing over when it holds the facts (a DNG or NEF always does).
            let tiff = Tiff::parse(bytes)?;
            (tiff.text(271).is_some() || tiff.has(EXIF_IFD)).then(|| bytes.to_vec())
        }
        _ => None,
    }
}

/// CR3 (ISO base media): the `CMT1` and `CMT2` boxes inside Canon's `uuid` box, each a TIFF;
/// `CMT2`'s directory is the EXIF directory, so its fields are written back as such.
fn cr3_exif(bytes: &[u8]) -> Option<Vec<u8>> {
    let tiff_box = |name: &[u8]| -> Option<&[u8]> {
        let at = memchr::memmem::find(&bytes[..bytes.len().min(1 << 20)], name)?;
        let size = u32::from_be_bytes(bytes.get(at - 4..at)?.try_into().ok()?) as usize;
        bytes.get(at + 4..(at - 4).checked_add(size)?)
    };
    let reader = exif::Reader::new();
    let ifd0 = reader.read_raw(tiff_box(b"CMT1")?.to_vec()).ok()?;
    let mut fields: Vec<exif::Field> = ifd0
        .fields()
        .filter(|f| f.ifd_num == exif::In::PRIMARY)
        .cloned()
        .collect();
    if let Some(exif_ifd) = tiff_box(b"CMT2").and_then(|b| reader.read_raw(b.to_vec()).ok()) {
        fields.extend(
            exif_ifd
                .fields()
                .filter(|f| f.ifd_num == exif::In::PRIMARY)
                .map(|f| exif::Field {
                    tag: exif::Tag(exif::Context::Exif, f.tag.1),
                    ifd_num: exif::In::PRIMARY,
                    value: f.value.clone(),
                }),
        );
    }
    let mut writer = exif::experimental::Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut out = Cursor::new(Vec::new());
    writer.write(&mut out, true).ok()?;
    Some(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_whole_jpegs_and_skips_lossless_ones() {
        let img = image::RgbImage::from_pixel(40, 24, image::Rgb([200, 10, 10]));
        let mut jpeg = Vec::new();
        img.write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .expect("encodes");
        // A lossless frame header (SOF3) is sensor data.
        let lossless = [
            0xFF, 0xD8, 0xFF, 0xC3, 0, 11, 8, 0, 10, 0, 10, 1, 1, 0x11, 0, 0xFF, 0xD9,
        ];
        let mut file = b"junk\xFF\xD8\xFF\xFFjunk".to_vec();
        file.extend_from_slice(&lossless);
        let start = file.len();
        file.extend_from_slice(&jpeg);
        file.extend_from_slice(b"\xFF\xD8\xFF\xE1\x00");
        let found = jpegs(&file);
        assert_eq!(
            found,
            vec![Found {
                start,
                end: start + jpeg.len(),
                width: 40,
                height: 24
            }]
        );
        let mut truncated = jpeg.clone();
        truncated.truncate(jpeg.len() - 10);
        assert!(jpegs(&truncated).is_empty());
    }

    #[test]
    fn a_file_of_endless_jpeg_starts_costs_a_bounded_read() {
        // Blocks of 16 bytes, each a JPEG start whose metadata segment reaches exactly to the
        // next block's segment: every start walks to the end of the file. The search stops
        // once it has read four times the file's length, after a handful of them.
        let block = [0xFF, 0xD8, 0xFF, 0xE1, 0, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let file: Vec<u8> = block.iter().copied().cycle().take(16 * 100_000).collect();
        let mut budget = file.len() * 4;
        let mut walked = 0;
        for start in memchr::memmem::find_iter(&file, &[0xFF, 0xD8, 0xFF]) {
            if budget == 0 {
                break;
            }
            assert!(jpeg_at(&file, start, &mut budget).is_none());
            walked += 1;
        }
        assert!(walked <= 5, "stopped after {walked} of them");
        assert!(jpegs(&file).is_empty());
    }
}
