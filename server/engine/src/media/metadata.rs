//! EXIF: the facts Trove keeps (camera, lens, capture time, GPS) and the orientation applied
//! to the pixels.

use image::RgbImage;

use super::ImageFacts;

/// Applies an EXIF orientation (2–8) to pixels.
pub(super) fn orient(img: RgbImage, orientation: u16) -> RgbImage {
    use image::imageops;
    match orientation {
        2 => imageops::flip_horizontal(&img),
        3 => imageops::rotate180(&img),
        4 => imageops::flip_vertical(&img),
        5 => imageops::flip_horizontal(&imageops::rotate90(&img)),
        6 => imageops::rotate90(&img),
        7 => imageops::flip_horizontal(&imageops::rotate270(&img)),
        8 => imageops::rotate270(&img),
        _ => img,
    }
}

pub(super) fn read(exif: &exif::Exif, facts: &mut ImageFacts) {
    use exif::{In, Tag, Value};
    let text = |tag: Tag| {
        exif.get_field(tag, In::PRIMARY).and_then(|f| {
            let Value::Ascii(parts) = &f.value else {
                return None;
            };
            parts
                .first()
                .map(|p| {
                    String::from_utf8_lossy(p)
                        .trim()
                        .trim_end_matches('\0')
                        .to_owned()
                })
                .filter(|s| !s.is_empty())
        })
    };
    facts.camera_make = text(Tag::Make);
    facts.camera_model = text(Tag::Model);
    facts.lens = text(Tag::LensModel);
    facts.taken_at = text(Tag::DateTimeOriginal)
        .or_else(|| text(Tag::DateTime))
        .and_then(|s| exif_date(&s));
    facts.orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|v| u16::try_from(v).ok());
    let coord = |tag: Tag, reference: Tag, negative: &str| -> Option<f64> {
        let field = exif.get_field(tag, In::PRIMARY)?;
        let Value::Rational(parts) = &field.value else {
            return None;
        };
        if parts.len() < 3 || parts.iter().any(|r| r.denom == 0) {
            return None;
        }
        let deg = parts[0].to_f64() + parts[1].to_f64() / 60.0 + parts[2].to_f64() / 3600.0;
        let sign = match text(reference) {
            Some(r) if r.eq_ignore_ascii_case(negative) => -1.0,
            _ => 1.0,
        };
        Some(sign * deg).filter(|v| v.is_finite())
    };
    facts.gps_lat = coord(Tag::GPSLatitude, Tag::GPSLatitudeRef, "S").filter(|v| v.abs() <= 90.0);
    facts.gps_lon =
        coord(Tag::GPSLongitude, Tag::GPSLongitudeRef, "W").filter(|v| v.abs() <= 180.0);
}

/// `2024:05:01 13:45:10` → `2024-05-01T13:45:10`; anything malformed → `None`.
fn exif_date(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && digits(11..13)
        && digits(14..16)
        && digits(17..19))
    {
        return None;
    }
    if &s[0..4] == "0000" {
        return None;
    }
    Some(format!(
        "{}-{}-{}T{}:{}:{}",
        &s[0..4],
        &s[5..7],
        &s[8..10],
        &s[11..13],
        &s[14..16],
        &s[17..19]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_dates_become_iso() {
        assert_eq!(
            exif_date("2024:05:01 13:45:10").as_deref(),
            Some("2024-05-01T13:45:10")
        );
        assert_eq!(exif_date("0000:00:00 00:00:00"), None);
        assert_eq!(exif_date("garbage"), None);
    }
}
