//! A small, bounded reader of TIFF directories (IFDs), classic and BigTIFF, either byte order,
//! with the header variants camera raw files use (Olympus `IIRO`, Panasonic `IIU`). It reads
//! tags, never pixels: enough to tell a camera raw file from a TIFF picture, to find its
//! directories, and to say in words what a TIFF holds when Trove cannot read it.

use std::collections::HashSet;

/// One parsed directory entry.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub tag: u16,
    typ: u16,
    count: u64,
    /// Where the value lies: inline in the entry or at an offset.
    at: usize,
}

/// A TIFF-structured file's byte order, offset width and directories.
#[derive(Debug)]
pub(super) struct Tiff<'a> {
    bytes: &'a [u8],
    little: bool,
    big: bool,
    /// IFD0 and its chain (IFD1, …), then every SubIFD, EXIF IFD and their chains, each once.
    pub ifds: Vec<Vec<Entry>>,
}

/// The most directories and entries read (a hostile file cannot make this loop long).
const MAX_IFDS: usize = 64;
const MAX_ENTRIES: u64 = 4096;

pub(super) const SUB_IFDS: u16 = 330;
pub(super) const EXIF_IFD: u16 = 34665;

impl<'a> Tiff<'a> {
    /// Parses the header and walks every directory reachable from IFD0; `None` when `bytes`
    /// does not start like a TIFF.
    pub fn parse(bytes: &'a [u8]) -> Option<Tiff<'a>> {
        let little = match bytes.get(..2)? {
            b"II" => true,
            b"MM" => false,
            _ => return None,
        };
        let mut t = Tiff {
            bytes,
            little,
            big: false,
            ifds: Vec::new(),
        };
        let magic = t.u16_at(2)?;
        let first = match magic {
            // TIFF, Olympus ORF (`IIRO`, `IIRS`, `MMOR`), Panasonic RW2 (`IIU`).
            42 | 0x4F52 | 0x5352 | 0x0055 => t.u32_at(4)? as u64,
            43 => {
                t.big = true;
                if t.u16_at(4)? != 8 {
                    return None;
                }
                t.u64_at(8)?
            }
            _ => return None,
        };
        let mut queue = vec![first];
        let mut seen = HashSet::new();
        while let Some(offset) = queue.pop() {
            if t.ifds.len() >= MAX_IFDS || offset == 0 || !seen.insert(offset) {
                continue;
            }
            let Some((entries, next)) = t.read_ifd(offset) else {
                continue;
            };
            queue.push(next);
            for e in &entries {
                if e.tag == SUB_IFDS || e.tag == EXIF_IFD {
                    queue.extend(t.uints(e).into_iter().take(MAX_IFDS));
                }
            }
            t.ifds.push(entries);
        }
        (!t.ifds.is_empty()).then_some(t)
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn u64_at(&self, at: usize) -> Option<u64> {
        let b: [u8; 8] = self.bytes.get(at..at + 8)?.try_into().ok()?;
        Some(if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }

    fn read_ifd(&self, offset: u64) -> Option<(Vec<Entry>, u64)> {
        let offset = usize::try_from(offset).ok()?;
        let (count, first, size) = if self.big {
            (self.u64_at(offset)?, offset + 8, 20)
        } else {
            (u64::from(self.u16_at(offset)?), offset + 2, 12)
        };
        if count == 0 || count > MAX_ENTRIES {
            return None;
        }
        let mut entries = Vec::with_capacity(count as usize);
        for i in 0..count as usize {
            let at = first + i * size;
            let tag = self.u16_at(at)?;
            let typ = self.u16_at(at + 2)?;
            let (n, value) = if self.big {
                (self.u64_at(at + 4)?, at + 12)
            } else {
                (u64::from(self.u32_at(at + 4)?), at + 8)
            };
            let inline = if self.big { 8 } else { 4 };
            let bytes = type_size(typ).saturating_mul(n);
            let at = if bytes <= inline {
                value
            } else if self.big {
                usize::try_from(self.u64_at(value)?).ok()?
            } else {
                self.u32_at(value)? as usize
            };
            entries.push(Entry {
                tag,
                typ,
                count: n,
                at,
            });
        }
        let end = first + count as usize * size;
        let next = if self.big {
            self.u64_at(end).unwrap_or(0)
        } else {
            u64::from(self.u32_at(end).unwrap_or(0))
        };
        Some((entries, next))
    }

    /// An entry's values as unsigned integers (BYTE, SHORT, LONG, LONG8, IFD types), at most
    /// 1,024 of them.
    pub fn uints(&self, e: &Entry) -> Vec<u64> {
        let size = type_size(e.typ) as usize;
        (0..e.count.min(1024) as usize)
            .map_while(|i| {
                let at = e.at + i * size;
                match e.typ {
                    1 | 7 => self.bytes.get(at).map(|&b| u64::from(b)),
                    3 => self.u16_at(at).map(u64::from),
                    4 | 13 => self.u32_at(at).map(u64::from),
                    16 | 18 => self.u64_at(at),
                    _ => None,
                }
            })
            .collect()
    }

    /// The first value of `tag` in directory `ifd`.
    pub fn uint(&self, ifd: usize, tag: u16) -> Option<u64> {
        let e = self.ifds.get(ifd)?.iter().find(|e| e.tag == tag)?;
        self.uints(e).first().copied()
    }

    /// The ASCII value of `tag` in the first directory that has it, trimmed.
    pub fn text(&self, tag: u16) -> Option<String> {
        let e = self
            .ifds
            .iter()
            .flatten()
            .find(|e| e.tag == tag && e.typ == 2)?;
        let end = e.at.checked_add(usize::try_from(e.count.min(4096)).ok()?)?;
        let raw = self.bytes.get(e.at..end)?;
        let text = String::from_utf8_lossy(raw);
        let text = text.trim_end_matches('\0').trim();
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// The bytes of `tag`'s value in the first directory that has it, whatever its type.
    pub fn bytes_of(&self, tag: u16) -> Option<&'a [u8]> {
        let e = self.ifds.iter().flatten().find(|e| e.tag == tag)?;
        let len = usize::try_from(type_size(e.typ).checked_mul(e.count)?).ok()?;
        self.bytes.get(e.at..e.at.checked_add(len)?)
    }

    /// Whether any directory has `tag`.
    pub fn has(&self, tag: u16) -> bool {
        self.ifds.iter().flatten().any(|e| e.tag == tag)
    }
}

fn type_size(typ: u16) -> u64 {
    match typ {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => 1,
    }
}

/// What a TIFF picture is, in words, for a skip reason: its colour, compression and depth
/// (`CIELab colour, LZW compression, 8 bits`).
pub(super) fn describe(bytes: &[u8]) -> Option<String> {
    let t = Tiff::parse(bytes)?;
    let photometric = t.uint(0, 262).map(|p| match p {
        0 | 1 => "greyscale".to_owned(),
        2 => "RGB".to_owned(),
        3 => "palette".to_owned(),
        4 => "transparency-mask".to_owned(),
        5 => "CMYK".to_owned(),
        6 => "YCbCr".to_owned(),
        8 => "CIELab".to_owned(),
        9 => "ICC Lab".to_owned(),
        10 => "ITU Lab".to_owned(),
        32844 => "LogL".to_owned(),
        32845 => "LogLuv".to_owned(),
        32803 => "raw sensor (CFA)".to_owned(),
        34892 => "linear raw".to_owned(),
        p => format!("photometric {p}"),
    });
    let compression = t.uint(0, 259).map(|c| match c {
        1 => "no".to_owned(),
        2 => "CCITT RLE".to_owned(),
        3 => "CCITT fax 3".to_owned(),
        4 => "CCITT fax 4".to_owned(),
        5 => "LZW".to_owned(),
        6 => "old-style JPEG".to_owned(),
        7 => "JPEG".to_owned(),
        8 | 32946 => "Deflate".to_owned(),
        32773 => "PackBits".to_owned(),
        34712 => "JPEG 2000".to_owned(),
        34887 => "LERC".to_owned(),
        34925 => "LZMA".to_owned(),
        50000 => "Zstandard".to_owned(),
        50001 => "WebP".to_owned(),
        50002 | 52546 => "JPEG XL".to_owned(),
        c => format!("type {c}"),
    });
    let bits = t.uint(0, 258);
    let float = t.uint(0, 339) == Some(3);
    let mut parts = Vec::new();
    if let Some(p) = photometric {
        parts.push(format!("{p} colour"));
    }
    if let Some(c) = compression {
        parts.push(format!("{c} compression"));
    }
    if let Some(b) = bits {
        parts.push(format!(
            "{b}-bit{}",
            if float { " floating point" } else { "" }
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}
