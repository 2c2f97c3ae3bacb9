//! IPTC IIM, the older caption standard of news agencies that Photoshop, Bridge and many
//! cataloguing tools still write beside XMP: object name (2:05, a title), headline (2:105),
//! keywords (2:25) and caption (2:120). Found in a JPEG's `APP13` (Photoshop's image resources,
//! resource 0x0404) or a TIFF's tag 33723.

use super::xmp::Described;

/// What the IPTC block inside `bytes` (a JPEG or a TIFF) says; `None` without one.
pub(super) fn find(bytes: &[u8]) -> Option<Described> {
    let iim = if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg_block(bytes)?
    } else {
        super::ifd::Tiff::parse(bytes)?.bytes_of(33723)?
    };
    let d = parse(iim);
    (!d.is_empty()).then_some(d)
}

/// The IIM data of a JPEG's Photoshop `APP13` segment.
fn jpeg_block(bytes: &[u8]) -> Option<&[u8]> {
    super::markers::segments(bytes).find_map(|(marker, body)| {
        let resources = body
            .strip_prefix(b"Photoshop 3.0\0")
            .filter(|_| marker == 0xED)?;
        resource(resources, 0x0404)
    })
}

/// Photoshop image resource `id`: `8BIM`, the id, a padded Pascal name, a length, the data.
fn resource(mut rest: &[u8], id: u16) -> Option<&[u8]> {
    while rest.len() >= 12 && rest.starts_with(b"8BIM") {
        let this = u16::from_be_bytes([rest[4], rest[5]]);
        let name = 1 + usize::from(rest[6]);
        let name = name + name % 2;
        let size_at = 6 + name;
        let size = u32::from_be_bytes(rest.get(size_at..size_at + 4)?.try_into().ok()?) as usize;
        let data = rest.get(size_at + 4..size_at + 4 + size)?;
        if this == id {
            return Some(data);
        }
        rest = rest.get(size_at + 4 + size + size % 2..)?;
    }
    None
}

/// Reads the application record's datasets.
fn parse(mut iim: &[u8]) -> Described {
    let mut d = Described::default();
    let mut utf8 = false;
    let mut headline = None;
    let mut object_name = None;
    let mut fields: Vec<(u8, u8, &[u8])> = Vec::new();
    while iim.len() >= 5 && iim[0] == 0x1C {
        let (record, dataset) = (iim[1], iim[2]);
        let len = u16::from_be_bytes([iim[3], iim[4]]);
        // An extended length (top bit set) is for large binary data, never text.
        if len & 0x8000 != 0 {
            break;
        }
        let Some(data) = iim.get(5..5 + usize::from(len)) else {
            break;
        };
        if (record, dataset) == (1, 90) {
            utf8 |= data == b"\x1b%G";
        }
        fields.push((record, dataset, data));
        iim = &iim[5 + usize::from(len)..];
    }
    let text = |data: &[u8]| -> Option<String> {
        let s = match std::str::from_utf8(data) {
            Ok(s) => s.to_owned(),
            // Without the UTF-8 marker, the older tools' Latin-1.
            Err(_) if !utf8 => data.iter().map(|&b| char::from(b)).collect(),
            Err(_) => String::from_utf8_lossy(data).into_owned(),
        };
        let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        (!s.is_empty()).then(|| s.to_owned())
    };
    for (record, dataset, data) in fields {
        if record != 2 {
            continue;
        }
        match dataset {
            5 => object_name = object_name.or_else(|| text(data)),
            105 => headline = headline.or_else(|| text(data)),
            120 => d.description = d.description.take().or_else(|| text(data)),
            25 => {
                if let Some(k) = text(data) {
                    if !d.subjects.contains(&k) {
                        d.subjects.push(k);
                    }
                }
            }
            _ => {}
        }
    }
    d.title = object_name.or(headline);
    d
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An IIM block with these (record 2) datasets, UTF-8 marked.
    pub(crate) fn iim(fields: &[(u8, &str)]) -> Vec<u8> {
        let mut out = vec![0x1C, 1, 90, 0, 3, 0x1B, b'%', b'G'];
        for (dataset, text) in fields {
            out.extend_from_slice(&[0x1C, 2, *dataset]);
            out.extend_from_slice(&(text.len() as u16).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out
    }

    /// A JPEG `APP13` segment holding `iim`.
    pub(crate) fn app13(iim: &[u8]) -> Vec<u8> {
        let mut res = b"Photoshop 3.0\0".to_vec();
        // A resource before the IPTC one, with a name, to walk past.
        res.extend_from_slice(b"8BIM\x04\x25\x03abc\0\0\0\x02xy");
        res.extend_from_slice(b"8BIM\x04\x04\0\0");
        res.extend_from_slice(&(iim.len() as u32).to_be_bytes());
        res.extend_from_slice(iim);
        if iim.len() % 2 == 1 {
            res.push(0);
        }
        let mut seg = vec![0xFF, 0xED];
        seg.extend_from_slice(&((res.len() + 2) as u16).to_be_bytes());
        seg.extend_from_slice(&res);
        seg
    }

    #[test]
    fn reads_title_caption_and_keywords_from_a_jpeg() {
        let block = iim(&[
            (5, "Tōkyō at night"),
            (25, "Japan"),
            (25, "neon"),
            (25, "Japan"),
            (120, "Shinjuku from the 45th floor"),
            (105, "A headline"),
        ]);
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend_from_slice(&app13(&block));
        jpeg.extend_from_slice(&[0xFF, 0xDA, 0, 2]);
        let d = find(&jpeg).expect("found");
        assert_eq!(d.title.as_deref(), Some("Tōkyō at night"));
        assert_eq!(
            d.description.as_deref(),
            Some("Shinjuku from the 45th floor")
        );
        assert_eq!(d.subjects, ["Japan", "neon"]);
    }

    #[test]
    fn latin1_without_the_utf8_marker_and_damage_is_survived() {
        let mut block = vec![0x1C, 2, 25, 0, 4];
        block.extend_from_slice(b"Caf\xe9");
        block.extend_from_slice(&[0x1C, 2, 120, 0x7F, 0xFF]); // longer than what is left
        let d = parse(&block);
        assert_eq!(d.subjects, ["Café"]);
        assert_eq!(d.description, None);
        assert!(find(&[0xFF, 0xD8, 0xFF, 0xED, 0xFF, 0xFF]).is_none());
    }
}
