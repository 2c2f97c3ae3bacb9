//! What `trove index` reads beyond plain pictures: the formats cameras and photo tools write
//! (camera raw previews, AVIF, MPO, Netpbm, every TIFF variant), and what files say of
//! themselves (XMP and IPTC inside, XMP sidecars beside), searched and kept current.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value;

use crate::crawl::{index, reason_for, status, synth_images};
use crate::util::trove;

/// The fixtures of `server/engine/tests/fixtures/formats` (see its `make.py`).
fn format_fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/tests/fixtures/formats");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e != "py"))
        .collect();
    files.sort();
    files
}

#[test]
fn camera_raw_avif_mpo_netpbm_and_photo_tool_tiffs_are_indexed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("lib");
    std::fs::create_dir(&lib).expect("mkdir");
    let fixtures = format_fixtures();
    for f in &fixtures {
        std::fs::copy(f, lib.join(f.file_name().expect("name"))).expect("copies");
    }
    // A TIFF in a compression no decoder here reads (JPEG 2000): skipped, saying what it is.
    let mut tiff = std::fs::read(lib.join("lzw-predictor.tif")).expect("reads");
    let ifd0 = u32::from_le_bytes(tiff[4..8].try_into().expect("4 bytes")) as usize;
    let entries = usize::from(u16::from_le_bytes([tiff[ifd0], tiff[ifd0 + 1]]));
    let compression = (0..entries)
        .map(|i| ifd0 + 2 + i * 12)
        .find(|&at| tiff[at..at + 2] == 259u16.to_le_bytes())
        .expect("a compression entry");
    tiff[compression + 8..compression + 10].copy_from_slice(&34712u16.to_le_bytes());
    std::fs::write(lib.join("jpeg2000.tif"), tiff).expect("writes");

    let data = tmp.path().join("data");
    let summary = index(&data, &lib);
    assert_eq!(summary["state"], "done", "{summary:#}");
    let st = status(&data);
    assert!(
        reason_for(&st, "no-preview.dng").contains("DNG camera raw file holds no preview"),
        "{st:#}"
    );
    assert!(
        reason_for(&st, "jpeg2000.tif")
            .contains("this TIFF uses RGB colour, JPEG 2000 compression"),
        "{st:#}"
    );
    let indexed = fixtures.len() as u64 - 1;
    assert_eq!(st["counts"]["skipped"], 2, "{st:#}");
    assert_eq!(st["counts"]["files"], indexed, "{st:#}");
    assert_eq!(st["counts"]["embedded"], indexed, "{st:#}");

    // Each under its format, with the raw file's camera and capture time, turned upright.
    let db = Connection::open(data.join("catalog.db")).expect("opens the catalog");
    let row = |name: &str| -> (String, i64, i64, Option<String>, Option<String>) {
        db.query_row(
            "SELECT i.format, i.width, i.height, i.camera_make, i.taken_at
               FROM files f JOIN images i ON i.id = f.image_id
              WHERE CAST(f.path AS TEXT) LIKE '%/' || ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let date = Some("2024-05-01T13:45:10".to_owned());
    assert_eq!(
        row("nikon.nef"),
        (
            "nef".into(),
            128,
            192,
            Some("NIKON CORPORATION".into()),
            date.clone()
        )
    );
    assert_eq!(
        row("canon.cr3"),
        ("cr3".into(), 128, 192, Some("Canon".into()), date.clone())
    );
    assert_eq!(
        row("fujifilm.raf"),
        (
            "raf".into(),
            192,
            128,
            Some("FUJIFILM".into()),
            date.clone()
        )
    );
    assert_eq!(row("photo.avif").0, "avif");
    assert_eq!(row("stereo.mpo").0, "mpo");
    assert_eq!(row("photo.pam").0, "pnm");
    assert_eq!(row("cielab.tif").0, "tiff");

    // `type:raw` finds the eight raw files, `type:nef` the one.
    let hits = |query: &str| search_names(&data, query).len();
    assert_eq!(hits("type:raw"), 8);
    assert_eq!(hits("type:NEF"), 1);
    assert_eq!(hits("type:pnm"), 4);
}

/// An XMP packet with these keywords (`A|B` for a path), and optionally a title and rating.
fn xmp(keywords: &[&str], title: Option<&str>, rating: Option<i8>) -> String {
    let (flat, paths): (Vec<&str>, Vec<&str>) = keywords.iter().partition(|k| !k.contains('|'));
    let li = |v: &[&str]| -> String {
        v.iter()
            .map(|k| format!("<rdf:li>{k}</rdf:li>"))
            .collect::<String>()
    };
    format!(
        r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:lr="http://ns.adobe.com/lightroom/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"{}>
{}<dc:subject><rdf:Bag>{}</rdf:Bag></dc:subject>
<lr:hierarchicalSubject><rdf:Bag>{}</rdf:Bag></lr:hierarchicalSubject>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"#,
        rating.map(|r| format!(r#" xmp:Rating="{r}""#)).unwrap_or_default(),
        title
            .map(|t| format!(r#"<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{t}</rdf:li></rdf:Alt></dc:title>"#))
            .unwrap_or_default(),
        li(&flat),
        li(&paths),
    )
}

/// A JPEG of `png` with an XMP packet (`APP1`) and an IPTC keyword (`APP13`) inside.
fn jpeg_with_metadata(png: &Path, packet: &str, iptc_keyword: &str) -> Vec<u8> {
    let img = image::open(png).expect("opens");
    let mut jpeg = std::io::Cursor::new(Vec::new());
    img.write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .expect("encodes");
    let jpeg = jpeg.into_inner();
    let segment = |marker: u8, body: &[u8]| -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&u16::try_from(body.len() + 2).expect("fits").to_be_bytes());
        s.extend_from_slice(body);
        s
    };
    let mut app1 = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    app1.extend_from_slice(packet.as_bytes());
    let mut iim = vec![0x1C, 2, 25];
    iim.extend_from_slice(
        &u16::try_from(iptc_keyword.len())
            .expect("fits")
            .to_be_bytes(),
    );
    iim.extend_from_slice(iptc_keyword.as_bytes());
    let mut app13 = b"Photoshop 3.0\08BIM\x04\x04\0\0".to_vec();
    app13.extend_from_slice(&u32::try_from(iim.len()).expect("fits").to_be_bytes());
    app13.extend_from_slice(&iim);
    let mut out = jpeg[..2].to_vec();
    out.extend(segment(0xE1, &app1));
    out.extend(segment(0xED, &app13));
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The file names `query` finds, from `trove search --json`, with what their files said.
fn search_names(data: &Path, query: &str) -> Vec<(String, Value)> {
    let out = trove(data)
        .args(["--model", "trove/demo-clip", "--device", "cpu"])
        .args(["search", query, "--limit", "100", "--json"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page: Value = serde_json::from_slice(&out.stdout).expect("JSON page");
    page["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            let path = h["path"].as_str().expect("path");
            let name = path.rsplit('/').next().expect("name").to_owned();
            (name, h["described"].clone())
        })
        .collect()
}

#[test]
fn what_files_say_of_themselves_is_searched_filtered_and_kept_current() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("lib");
    synth_images(&lib, 3);
    let names = |data: &Path, q: &str| -> Vec<String> {
        let mut v: Vec<String> = search_names(data, q).into_iter().map(|(n, _)| n).collect();
        v.sort();
        v
    };
    // Inside a JPEG: XMP with a keyword path and a title, IPTC with one more keyword.
    let packet = xmp(
        &["umbrella", "Places|Japan|Kyoto"],
        Some("Kyoto in the rain"),
        None,
    );
    std::fs::write(
        lib.join("kyoto.jpg"),
        jpeg_with_metadata(&lib.join("000000.png"), &packet, "temple"),
    )
    .expect("writes");
    // A camera raw file with a Lightroom-style sidecar (`DSC_0001.xmp`).
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/tests/fixtures/formats");
    std::fs::copy(fixtures.join("nikon.nef"), lib.join("DSC_0001.NEF")).expect("copies");
    let sidecar = lib.join("DSC_0001.xmp");
    std::fs::write(&sidecar, xmp(&["Places|Japan|Hokkaido"], None, Some(5))).expect("writes");
    // A darktable-style sidecar (`000001.png.xmp`) rejecting a picture.
    std::fs::write(lib.join("000001.png.xmp"), xmp(&["blurry"], None, Some(-1))).expect("writes");

    let data = tmp.path().join("data");
    let summary = index(&data, &lib);
    assert_eq!(summary["state"], "done", "{summary:#}");
    assert_eq!(names(&data, "keyword:Japan"), ["DSC_0001.NEF", "kyoto.jpg"]);
    assert_eq!(names(&data, "keyword:Kyoto"), ["kyoto.jpg"]);
    assert_eq!(
        names(&data, "keyword:temple"),
        ["kyoto.jpg"],
        "IPTC keywords count"
    );
    assert_eq!(names(&data, "rating:5"), ["DSC_0001.NEF"]);
    assert_eq!(names(&data, "pick:rejected"), ["000001.png"]);
    // Typed words find them too, first.
    assert_eq!(search_names(&data, "Hokkaido")[0].0, "DSC_0001.NEF");
    let hits = search_names(&data, "umbrella");
    assert_eq!(hits[0].0, "kyoto.jpg");
    let said = &hits[0].1[0];
    assert_eq!(said["catalog"], "kyoto.jpg", "{said:#}");
    assert_eq!(said["title"], "Kyoto in the rain", "{said:#}");
    let hits = search_names(&data, "keyword:Hokkaido");
    assert_eq!(hits[0].1[0]["catalog"], "DSC_0001.xmp", "{:#}", hits[0].1);
    assert_eq!(hits[0].1[0]["rating"], 5, "{:#}", hits[0].1);

    // The sidecar is edited (the raw file is not): the next crawl reads it again.
    std::fs::write(
        &sidecar,
        xmp(&["Places|Japan|Sapporo", "snow"], None, Some(2)),
    )
    .expect("writes");
    let again = index(&data, &lib);
    assert_eq!(
        again["progress"]["embedded"], 0,
        "nothing is embedded again: {again:#}"
    );
    assert_eq!(names(&data, "keyword:Sapporo"), ["DSC_0001.NEF"]);
    assert!(names(&data, "keyword:Hokkaido").is_empty());
    assert!(names(&data, "rating:5").is_empty());
    assert_eq!(names(&data, "rating:2"), ["DSC_0001.NEF"]);
    // Removed: what it said goes with it.
    std::fs::remove_file(&sidecar).expect("removes");
    index(&data, &lib);
    assert!(names(&data, "keyword:snow").is_empty());
    // A new sidecar beside an unchanged file is found.
    std::fs::write(lib.join("kyoto.jpg.xmp"), xmp(&["Gion"], None, Some(4))).expect("writes");
    index(&data, &lib);
    assert_eq!(names(&data, "keyword:Gion"), ["kyoto.jpg"]);
    assert_eq!(
        names(&data, "keyword:temple"),
        ["kyoto.jpg"],
        "its own metadata stays"
    );

    // A catalog from before Trove read files' metadata learns it at the next crawl.
    {
        let db = Connection::open(data.join("catalog.db")).expect("opens");
        db.execute_batch(
            "DELETE FROM source_photos WHERE source_id IN
               (SELECT id FROM sources WHERE kind IN ('embedded', 'sidecar'));
             DELETE FROM file_metadata;",
        )
        .expect("forgets");
    }
    assert!(names(&data, "keyword:Kyoto").is_empty());
    let again = index(&data, &lib);
    assert_eq!(again["progress"]["embedded"], 0, "{again:#}");
    assert_eq!(names(&data, "keyword:Kyoto"), ["kyoto.jpg"]);
    assert_eq!(names(&data, "keyword:Gion"), ["kyoto.jpg"]);
    assert_eq!(names(&data, "pick:rejected"), ["000001.png"]);
}
