//! Decoding: sizes, scales, EXIF and orientation, reasons for bad input, and every format.

use super::*;

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).expect("encodes");
    out.into_inner()
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg).expect("encodes");
    out.into_inner()
}

#[test]
fn jpegs_decode_scaled_but_report_their_full_size() {
    let d = decode(&jpeg(2400, 1600), 200, DecodeLimits::default()).expect("decodes");
    assert_eq!((d.facts.width, d.facts.height), (2400, 1600));
    assert_eq!(d.facts.format, "jpeg");
    // 1/8 scale gives 300x200, the smallest that keeps 200 px on the short side.
    assert_eq!(d.rgb.dimensions(), (300, 200));
}

#[test]
fn small_images_keep_their_size() {
    let d = decode(&png(40, 30), 256, DecodeLimits::default()).expect("decodes");
    assert_eq!(d.rgb.dimensions(), (40, 30));
    assert_eq!(d.facts.format, "png");
}

#[test]
fn bad_input_gets_a_reason() {
    let limits = DecodeLimits::default();
    assert_eq!(
        decode(b"", 8, limits).expect_err("fails"),
        DecodeError::Empty
    );
    let text = decode(b"hello, I am text", 8, limits)
        .expect_err("fails")
        .to_string();
    assert!(
        text.contains("not an image") && text.contains("text") && !text.contains("hello"),
        "{text}"
    );
    for (bytes, kind) in [
        (&b"%PDF-1.7 secret"[..], "PDF"),
        (b"<html><script>x</script>", "web page"),
        (b"\x00\x01\x02\x03secret", "no known image format"),
    ] {
        let text = decode(bytes, 8, limits).expect_err("fails").to_string();
        assert!(
            text.contains(kind) && !text.contains("secret") && !text.contains("script"),
            "{text}"
        );
    }
    let mut truncated = jpeg(64, 64);
    truncated.truncate(truncated.len() / 3);
    let err = decode(&truncated, 8, limits).expect_err("fails");
    assert!(matches!(err, DecodeError::Corrupt { .. }), "{err}");
    let tiny = DecodeLimits {
        max_pixels: 100,
        max_bytes: 1 << 20,
    };
    let err = decode(&png(20, 20), 8, tiny).expect_err("fails");
    assert!(err.to_string().contains("20×20"), "{err}");
}

#[cfg(feature = "heic")]
#[test]
fn heic_decodes_with_its_exif() {
    // 96x64, red left half, blue right half; EXIF Make "TroveCam" (made with pillow-heif).
    let bytes = include_bytes!("../../tests/fixtures/red-left-blue-right.heic");
    let d = decode(bytes, 32, DecodeLimits::default()).expect("decodes");
    assert_eq!(d.facts.format, "heic");
    assert_eq!((d.facts.width, d.facts.height), (96, 64));
    assert_eq!(d.facts.camera_make.as_deref(), Some("TroveCam"));
    let left = d.rgb.get_pixel(5, 30).0;
    let right = d.rgb.get_pixel(d.rgb.width() - 5, 30).0;
    assert!(left[0] > 150 && left[2] < 80, "{left:?}");
    assert!(right[2] > 150 && right[0] < 80, "{right:?}");
    let mut truncated = bytes.to_vec();
    truncated.truncate(bytes.len() / 2);
    assert!(decode(&truncated, 32, DecodeLimits::default()).is_err());
}

#[test]
fn jpeg_exif_is_read_and_its_orientation_applied() {
    // 32x16, red left half, blue right half; EXIF Make "TroveCam", Orientation 6 (rotate
    // 90° clockwise to display), DateTimeOriginal 2024:05:01 13:45:10 (made with Pillow).
    let bytes = include_bytes!("../../tests/fixtures/rotated-exif.jpg");
    let d = decode(bytes, 64, DecodeLimits::default()).expect("decodes");
    assert_eq!(d.facts.camera_make.as_deref(), Some("TroveCam"));
    assert_eq!(d.facts.taken_at.as_deref(), Some("2024-05-01T13:45:10"));
    assert_eq!(d.facts.orientation, Some(6));
    assert_eq!((d.facts.width, d.facts.height), (16, 32), "displayed size");
    assert_eq!(d.rgb.dimensions(), (16, 32));
    // Rotated clockwise: the red (left) half is now on top.
    let top = d.rgb.get_pixel(8, 4).0;
    let bottom = d.rgb.get_pixel(8, 28).0;
    assert!(top[0] > 150 && top[2] < 90, "{top:?}");
    assert!(bottom[2] > 150 && bottom[0] < 90, "{bottom:?}");
}

/// The formats cameras and photo tools write, from `tests/fixtures/formats`.
mod formats {
    use super::*;

    /// Where the fixture's red (or white) half ends up once decoded and turned upright.
    #[derive(Debug, Clone, Copy)]
    enum Layout {
        RedLeft,
        RedTop,
        RedBottom,
        WhiteLeft,
    }

    fn check_layout(name: &str, rgb: &RgbImage, layout: Layout) {
        let (w, h) = rgb.dimensions();
        let at = |x: u32, y: u32| rgb.get_pixel(x, y).0;
        let (first, second) = match layout {
            Layout::RedLeft | Layout::WhiteLeft => (at(w / 8, h / 2), at(w - 1 - w / 8, h / 2)),
            Layout::RedTop => (at(w / 2, h / 8), at(w / 2, h - 1 - h / 8)),
            Layout::RedBottom => (at(w / 2, h - 1 - h / 8), at(w / 2, h / 8)),
        };
        if let Layout::WhiteLeft = layout {
            assert!(first.iter().all(|&c| c > 200), "{name}: {first:?}");
            assert!(second.iter().all(|&c| c < 50), "{name}: {second:?}");
        } else {
            assert!(
                first[0] > 150 && first[2] < 90,
                "{name}: red half {first:?}"
            );
            assert!(
                second[2] > 150 && second[0] < 90,
                "{name}: blue half {second:?}"
            );
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/formats")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Every fixture `tests/fixtures/formats/make.py` writes (but the one without a preview),
    /// decoded, the right way up, with its facts.
    #[test]
    fn every_format_decodes_upright_with_its_facts() {
        use Layout::*;
        let nikon = Some("NIKON CORPORATION");
        type Case<'a> = (&'a str, &'a str, (u32, u32), Layout, Option<&'a str>);
        let cases: &[Case] = &[
            ("animated.apng", "png", (96, 64), RedLeft, None),
            ("stereo.mpo", "mpo", (96, 64), RedLeft, Some("TroveCam")),
            ("photo.ppm", "pnm", (96, 64), RedLeft, None),
            ("photo.pam", "pnm", (96, 64), RedLeft, None),
            ("grey.pgm", "pnm", (96, 64), WhiteLeft, None),
            ("bits.pbm", "pnm", (96, 64), WhiteLeft, None),
            ("rgb16.tif", "tiff", (96, 64), RedLeft, None),
            ("palette.tif", "tiff", (96, 64), RedLeft, None),
            ("cielab.tif", "tiff", (96, 64), RedLeft, None),
            ("jpeg-ycbcr.tif", "tiff", (96, 64), RedLeft, None),
            ("lzw-predictor.tif", "tiff", (96, 64), RedLeft, None),
            (
                "deflate-predictor-tiled.tif",
                "tiff",
                (96, 64),
                RedLeft,
                None,
            ),
            ("bigtiff.tif", "tiff", (96, 64), RedLeft, None),
            ("cmyk.tif", "tiff", (96, 64), RedLeft, None),
            ("multipage.tif", "tiff", (96, 64), RedLeft, None),
            ("nikon.nef", "nef", (128, 192), RedBottom, nikon),
            ("canon.cr2", "cr2", (192, 128), RedLeft, Some("Canon")),
            ("canon.cr3", "cr3", (128, 192), RedTop, Some("Canon")),
            ("sony.arw", "arw", (192, 128), RedLeft, Some("SONY")),
            ("pixel.dng", "dng", (192, 128), RedLeft, Some("Google")),
            (
                "olympus.orf",
                "orf",
                (192, 128),
                RedLeft,
                Some("OLYMPUS CORPORATION"),
            ),
            (
                "panasonic.rw2",
                "rw2",
                (192, 128),
                RedLeft,
                Some("Panasonic"),
            ),
            ("fujifilm.raf", "raf", (192, 128), RedLeft, Some("FUJIFILM")),
        ];
        #[cfg(feature = "heic")]
        let cases = [
            cases,
            &[("photo.avif", "avif", (96, 64), RedLeft, Some("TroveCam"))][..],
        ]
        .concat();
        for &(name, format, size, layout, make) in cases.iter() {
            #[cfg(not(feature = "libtiff"))]
            if ["palette.tif", "cielab.tif", "jpeg-ycbcr.tif", "bigtiff.tif"].contains(&name) {
                continue;
            }
            let d = decode(&fixture(name), 32, DecodeLimits::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(d.facts.format, format, "{name}");
            assert_eq!((d.facts.width, d.facts.height), size, "{name}");
            let (w, h) = d.rgb.dimensions();
            assert_eq!(w * size.1, h * size.0, "{name}: {w}x{h} keeps the shape");
            assert!(w.min(h) >= 32, "{name}: {w}x{h} has the pixels asked for");
            check_layout(name, &d.rgb, layout);
            assert_eq!(d.facts.camera_make.as_deref(), make, "{name}");
            if make.is_some() {
                assert_eq!(
                    d.facts.taken_at.as_deref(),
                    Some("2024-05-01T13:45:10"),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn what_cannot_be_shown_says_why() {
        let err = decode(&fixture("no-preview.dng"), 32, DecodeLimits::default())
            .expect_err("no preview")
            .to_string();
        assert!(
            err.contains("DNG camera raw file holds no preview"),
            "{err}"
        );
        // A TIFF whose compression neither decoder knows: what it is, not "damaged".
        let mut tiff = fixture("lzw-predictor.tif");
        let t = ifd::Tiff::parse(&tiff).expect("a TIFF");
        let _ = t;
        let at = find_entry(&tiff, 259).expect("has a compression tag");
        tiff[at + 8..at + 10].copy_from_slice(&34712u16.to_le_bytes());
        let err = decode(&tiff, 32, DecodeLimits::default())
            .expect_err("JPEG 2000")
            .to_string();
        assert!(
            err.contains("this TIFF uses RGB colour, JPEG 2000 compression, 8-bit"),
            "{err}"
        );
        // A raw whose preview is cut short gets no half picture.
        let mut nef = fixture("nikon.nef");
        let start = memchr::memmem::find(&nef, &[0xFF, 0xD8, 0xFF]).expect("a preview");
        nef[start + 400..start + 1200].fill(0);
        nef.truncate(start + 1200);
        let err = decode(&nef, 32, DecodeLimits::default()).expect_err("cut");
        assert!(!err.to_string().is_empty());
    }

    /// The offset of `tag`'s entry in IFD0 of a little-endian classic TIFF.
    fn find_entry(tiff: &[u8], tag: u16) -> Option<usize> {
        let ifd0 = u32::from_le_bytes(tiff[4..8].try_into().ok()?) as usize;
        let n = usize::from(u16::from_le_bytes(tiff[ifd0..ifd0 + 2].try_into().ok()?));
        (0..n)
            .map(|i| ifd0 + 2 + i * 12)
            .find(|&at| u16::from_le_bytes([tiff[at], tiff[at + 1]]) == tag)
    }
}
