//! A JPEG's metadata segments, walked the one way every reader here needs them (EXIF for
//! libjpeg-turbo's path, the MPO index, IPTC).

/// A JPEG's segments before its first scan, as `(marker, body)`: where the metadata is (EXIF
/// in `APP1`, the MPO index in `APP2`, IPTC in `APP13`). Stops at the scan, at the end of the
/// image, at anything malformed, and after 64 segments.
pub(super) fn segments(bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut at = if bytes.starts_with(&[0xFF, 0xD8]) {
        2
    } else {
        usize::MAX
    };
    std::iter::from_fn(move || {
        // Fill bytes (0xFF) may precede a marker.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([
            *bytes.get(at + 2)?,
            *bytes.get(at + 3)?,
        ]));
        let body = bytes.get(at + 4..at + 2 + len)?;
        at += 2 + len;
        Some((marker, body))
    })
    .take(64)
}
