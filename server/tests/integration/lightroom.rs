//! Lightroom Classic through the real binary: `trove import lightroom` beside a running server
//! (its keywords searchable at once, its ratings and collections filters, its facts on every
//! hit), and `trove lightroom recover` writing Lightroom's previews back as JPEGs.

use std::path::Path;

use serde_json::Value;
use trove_engine::lightroom::fixture::{Builder, Photo, Release};
use trove_engine::lightroom::lrprev::{jpeg_size, section};

use crate::library::{json, server};
use crate::util::trove;

/// The hits of `/api/search?q=…`.
pub(crate) fn query(addr: std::net::SocketAddr, q: &str) -> Vec<Value> {
    let enc: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (code, page) = json(addr, &format!("/api/search?q={enc}&limit=200"));
    assert_eq!(code, 200, "{q}: {page:#}");
    page["hits"].as_array().cloned().unwrap_or_default()
}

/// The hits' file names, sorted.
pub(crate) fn file_names(hits: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = hits
        .iter()
        .filter_map(|h| h["path"].as_str())
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_imported_catalog_is_searched_filtered_and_shown() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = server(tmp.path());
    let addr = server.addr;
    let lib = tmp.path().join("lib");
    let cat = tmp.path().join("Lightroom Catalog.lrcat");
    let mut b = Builder::new(&cat, &lib, Release::Classic13).expect("catalog");
    b.photo(&Photo {
        name: "000003.png".into(),
        rating: Some(5),
        pick: 1,
        label: "Green".into(),
        title: Some("Zebrafinch at noon".into()),
        keywords: vec!["Animals|Birds|Zebrafinch".into()],
        collections: vec!["Best of/Portfolio 2024".into()],
        ..Default::default()
    })
    .expect("photo");
    b.photo(&Photo {
        name: "000007.png".into(),
        rating: Some(3),
        keywords: vec![
            "Animals|Birds|Okapibird".into(),
            "<script>alert(1)</script>".into(),
        ],
        collections: vec!["Best of/Portfolio 2024".into()],
        ..Default::default()
    })
    .expect("photo");
    drop(b);

    let out = trove(&tmp.path().join("data"))
        .args(["import", "lightroom"])
        .arg(&cat)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("2 photos: 2 matched by path"), "{text}");
    let out = trove(&tmp.path().join("data"))
        .arg("status")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Lightroom catalog: ") && text.contains("(2 photos, 2 matched)"),
        "{text}"
    );

    assert_eq!(file_names(&query(addr, "text:zebrafinch")), ["000003.png"]);
    assert_eq!(
        file_names(&query(addr, "keyword:birds")),
        ["000003.png", "000007.png"]
    );
    assert_eq!(file_names(&query(addr, "rating:>=4")), ["000003.png"]);
    assert_eq!(
        file_names(&query(addr, "collection:\"Portfolio 2024\" pick:no")),
        ["000007.png"]
    );
    let hit = &query(addr, "text:zebrafinch")[0];
    let facts = &hit["catalog"];
    assert_eq!(facts["catalog"], "Lightroom Catalog.lrcat", "{hit:#}");
    assert_eq!(facts["rating"], 5);
    assert_eq!(facts["flag"], 1);
    assert_eq!(facts["label"], "Green");
    assert_eq!(facts["title"], "Zebrafinch at noon");
    assert_eq!(facts["keywords"][0], "Animals > Birds > Zebrafinch");
    assert_eq!(facts["collections"][0], "Best of / Portfolio 2024");
    assert!(hit["why"]["keywords"].is_array(), "{hit:#}");

    // Operator values are values: wildcards and quotes match nothing, a bad rating is a 400.
    for hostile in [
        "keyword:%",
        "collection:\"' OR 1=1 --\"",
        "label:_",
        "keyword:\\",
    ] {
        assert!(query(addr, hostile).is_empty(), "{hostile}");
    }
    let (code, _) = json(addr, "/api/search?q=rating%3A%3E%3D9");
    assert_eq!(code, 400);

    // A keyword is text on the page, never markup.
    let page = crate::util::get(addr, "/search?q=keyword%3Aokapibird");
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("<script>alert(1)</script>"),
        "unescaped"
    );

    // A file that is not a catalog: a clear error, nothing changed.
    let bogus = tmp.path().join("notes.lrcat");
    std::fs::write(&bogus, "just some notes".repeat(40)).expect("writes");
    let out = trove(&tmp.path().join("data"))
        .args(["import", "lightroom"])
        .arg(&bogus)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a Lightroom catalog"), "{err}");
    assert_eq!(file_names(&query(addr, "rating:>=4")), ["000003.png"]);

    // Through the admin route: a guest may not import; bad paths are 400s that change nothing.
    let json_type = [("Content-Type", "application/json")];
    let guest = [
        ("Content-Type", "application/json"),
        ("Cookie", "trove_guest=1"),
    ];
    let body = serde_json::json!({ "path": cat.display().to_string() }).to_string();
    let r = crate::util::request_with(addr, "POST", "/api/libraries", &guest, body.as_bytes());
    assert_eq!(r.status, 403, "{}", r.body);
    for bad in [
        "relative/Catalog.lrcat".to_owned(),
        "/no/such/Catalog.lrcat".to_owned(),
        bogus.display().to_string(),
    ] {
        let body = serde_json::json!({ "path": bad }).to_string();
        let r =
            crate::util::request_with(addr, "POST", "/api/libraries", &json_type, body.as_bytes());
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    assert_eq!(file_names(&query(addr, "rating:>=4")), ["000003.png"]);

    // Removing the catalog takes back what it brought.
    let out = trove(&tmp.path().join("data"))
        .args(["import", "remove"])
        .arg(&cat)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(query(addr, "text:zebrafinch").is_empty());
    assert!(query(addr, "rating:>=1").is_empty());
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 77]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .expect("encodes");
    out
}

#[test]
fn recover_writes_the_largest_previews_with_their_dates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cat = tmp.path().join("Archive.lrcat");
    let levels = vec![jpeg(40, 30), jpeg(80, 60), jpeg(160, 120)];
    let mut b =
        Builder::new(&cat, Path::new("/Volumes/Gone/Photos"), Release::Classic14).expect("catalog");
    b.photo(&Photo {
        folder: "2019/Kyoto".into(),
        name: "DSC_0001.NEF".into(),
        capture: Some("2019-11-03T09:30:00".into()),
        preview: levels.clone(),
        ..Default::default()
    })
    .expect("photo");
    b.photo(&Photo {
        folder: "2019/Kyoto".into(),
        name: "DSC_0002.NEF".into(),
        preview: levels.clone(),
        // Cut in the middle of the largest level.
        truncate_preview: Some(
            section("header", b"pyramid = { formatVersion = 3, }").len()
                + section("level_1", &levels[0]).len()
                + section("level_2", &levels[1]).len()
                + 32
                + levels[2].len() / 2,
        ),
        ..Default::default()
    })
    .expect("photo");
    b.photo(&Photo {
        folder: "2019/Kyoto".into(),
        name: "DSC_0003.NEF".into(),
        ..Default::default()
    })
    .expect("photo");
    drop(b);
    let out_dir = tmp.path().join("out");
    let out = trove(&tmp.path().join("data"))
        .args(["lightroom", "recover"])
        .arg(&cat)
        .arg(&out_dir)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Recovered 2 of 3 photos"), "{text}");
    assert!(
        text.contains("DSC_0003.NEF: not recovered: Lightroom has no preview of it"),
        "{text}"
    );

    let first = out_dir.join("Photos/2019/Kyoto/DSC_0001.jpg");
    let bytes = std::fs::read(&first).expect("written");
    assert_eq!(jpeg_size(&bytes), Some((160, 120)));
    // Byte-exact but for the EXIF segment carrying the capture date.
    assert!(bytes.ends_with(&levels[2][2..]), "the largest level, whole");
    let exif = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(&bytes))
        .expect("exif");
    let when = exif
        .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
        .expect("date")
        .display_value()
        .to_string();
    assert_eq!(when, "2019-11-03 09:30:00");
    let mtime = std::fs::metadata(&first)
        .expect("meta")
        .modified()
        .expect("mtime");
    let secs = mtime
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    assert_eq!(secs, 1_572_773_400);

    let second = std::fs::read(out_dir.join("Photos/2019/Kyoto/DSC_0002.jpg")).expect("written");
    assert_eq!(
        second, levels[1],
        "a truncated file gives its largest whole level"
    );

    // Again: nothing is replaced.
    let out = trove(&tmp.path().join("data"))
        .args(["lightroom", "recover", "--json"])
        .arg(&cat)
        .arg(&out_dir)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DSC_0001 (NEF).jpg"), "{text}");
    assert_eq!(std::fs::read(&first).expect("kept"), bytes);
}
