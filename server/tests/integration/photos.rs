//! Apple Photos through the real server: an admin adds a `.photoslibrary` like a folder; its
//! keywords, albums, people and favourites are searchable once its pictures are crawled, an
//! iCloud-only photo shows through its derivative, a guest cannot import, a bad library is a
//! 400 that changes nothing, and removing the library takes back what it brought.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use trove_engine::apple_photos::fixture::{Builder, Photo, Release};

use crate::library::{json, server};
use crate::lightroom::{file_names, query};
use crate::util::{request_with, trove};

const FUJI: &str = "F88C2797-1B6B-4B55-9BD8-2E35C81BDD12";
const CLOUD: &str = "C01D0000-AAAA-4BBB-8CCC-DDDDEEEEFFFF";

fn names(addr: std::net::SocketAddr, q: &str) -> Vec<String> {
    file_names(&query(addr, q))
}

/// Waits for the server's crawl to end.
fn crawled(addr: std::net::SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, body) = json(addr, "/api/status");
        if body["crawl"]["running"] == false {
            return;
        }
        assert!(Instant::now() < deadline, "the crawl did not end: {body:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn picture(i: u64) -> Vec<u8> {
    let img = trove_models::synth::generate(
        5,
        trove_models::synth::Split::Test,
        i,
        trove_models::synth::DEFAULT_SIZE,
    )
    .image;
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encodes");
    out.into_inner()
}

fn library(dir: &Path) -> std::path::PathBuf {
    let lib = dir.join("Family <Photos>.photoslibrary");
    let mut b = Builder::new(&lib, Release::Photos9).expect("library");
    let fuji = Photo {
        uuid: FUJI.into(),
        ext: "jpeg".into(),
        created: 702_108_764.0,
        favorite: true,
        title: Some("<b>Fuji</b> from the plane".into()),
        keywords: vec!["Japan".into()],
        albums: vec![vec!["Travel".into(), "Japan 2023".into()]],
        people: vec!["Akiko Tanaka".into()],
        ..Photo::default()
    };
    b.photo(&fuji).expect("photo");
    let original = b.original(&fuji);
    std::fs::create_dir_all(original.parent().expect("folder")).expect("folder");
    std::fs::write(&original, picture(0)).expect("writes");
    b.photo(&Photo {
        uuid: CLOUD.into(),
        ext: "heic".into(),
        keywords: vec!["cloud".into()],
        ..Photo::default()
    })
    .expect("photo");
    let derivatives = lib.join("resources/derivatives/C");
    std::fs::create_dir_all(&derivatives).expect("folder");
    std::fs::write(
        derivatives.join(format!("{CLOUD}_1_105_c.jpeg")),
        picture(1),
    )
    .expect("writes");
    lib
}

#[test]
fn a_photos_library_added_on_the_home_page_is_imported_crawled_and_shown() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = server(tmp.path());
    let addr = server.addr;
    let lib = library(tmp.path());
    let admin = [("Content-Type", "application/json")];
    let guest = [
        ("Content-Type", "application/json"),
        ("Cookie", "trove_guest=1"),
    ];
    let body = serde_json::json!({ "path": lib.display().to_string() }).to_string();
    let r = request_with(addr, "POST", "/api/libraries", &guest, body.as_bytes());
    assert_eq!(r.status, 403, "{}", r.body);

    // Bad libraries: 400s that change nothing.
    let empty = tmp.path().join("Empty.photoslibrary");
    std::fs::create_dir_all(&empty).expect("folder");
    for bad in [
        "relative/Photos.photoslibrary".to_owned(),
        "/no/such/Photos.photoslibrary".to_owned(),
        empty.display().to_string(),
    ] {
        let b = serde_json::json!({ "path": bad }).to_string();
        let r = request_with(addr, "POST", "/api/libraries", &admin, b.as_bytes());
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let (_, libraries) = json(addr, "/api/libraries");
    assert_eq!(
        libraries["catalogs"].as_array().map(Vec::len),
        Some(0),
        "{libraries:#}"
    );

    let r = request_with(addr, "POST", "/api/libraries", &admin, body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Photos 9"), "{}", r.body);
    crawled(addr);
    // The stand-in written at import is crawled with the library's originals.
    let fuji = format!("{FUJI}.jpeg");
    assert_eq!(names(addr, "keyword:Japan"), [fuji.as_str()]);
    assert_eq!(names(addr, r#"collection:"Japan 2023""#), [fuji.as_str()]);
    assert_eq!(names(addr, "pick:yes"), [fuji.as_str()]);
    assert_eq!(names(addr, "text:akiko"), [fuji.as_str()]);
    assert_eq!(names(addr, "keyword:cloud"), [format!("{CLOUD}.jpeg")]);
    let (_, libraries) = json(addr, "/api/libraries");
    let catalogs = libraries["catalogs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(catalogs.len(), 1, "{libraries:#}");
    assert_eq!(catalogs[0]["kind"], "photos");
    assert_eq!(catalogs[0]["matched"], 2, "{libraries:#}");
    let shown: Vec<&str> = libraries["libraries"]
        .as_array()
        .expect("libraries")
        .iter()
        .filter_map(|l| l["path"].as_str())
        .collect();
    assert!(shown.iter().any(|p| p.ends_with("originals")), "{shown:?}");
    assert!(!shown.iter().any(|p| p.contains("stand-ins")), "{shown:?}");
    // A title is text on the page, never markup.
    let page = crate::util::get(addr, "/search?q=keyword%3AJapan");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<b>Fuji</b>"), "unescaped");
    let hit: Value = json(addr, "/api/search?q=keyword%3Acloud").1["hits"][0].clone();
    assert_eq!(
        hit["catalog"]["stands_in_for"],
        format!("{CLOUD}.heic"),
        "{hit:#}"
    );

    // Removing the library takes back what it brought, its pictures included.
    let out = trove(&tmp.path().join("data"))
        .args(["import", "remove"])
        .arg(&lib)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(names(addr, "keyword:Japan").is_empty());
}
