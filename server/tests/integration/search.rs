//! The HTTP API against a real server that crawled generated images with the demo model:
//! ranking, pagination, similar, thumbnails and originals by id, and bad input.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use trove_models::synth::{self, write_set, Output, Query as SynthQuery, Split};

use crate::util::{get, post, start_server, trove, Server};

const SEED: u64 = 21;
const COUNT: u64 = 120;

fn json(addr: SocketAddr, path: &str) -> (u16, Value) {
    let r = get(addr, path);
    let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

/// A server over `COUNT` generated images, once its first crawl has finished.
fn server(tmp: &Path) -> Server {
    let lib = tmp.join("lib");
    write_set(&lib, SEED, Split::Test, COUNT, 192, Output::Png, &|_| {}).expect("generates");
    let mut cmd = trove(&tmp.join("data"));
    cmd.args(["--model", "trove/demo-clip", "--device", "cpu", "--library"])
        .arg(&lib);
    let server = start_server(cmd);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, body) = json(server.addr, "/api/status");
        assert_eq!(status, 200);
        if body["state"] == "ready"
            && !body["crawl"]["running"].as_bool().unwrap_or(true)
            && body["counts"]["embedded"] == COUNT
        {
            break;
        }
        assert!(body["state"] != "error", "{body:#}");
        assert!(Instant::now() < deadline, "crawl did not finish: {body:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
    server
}

/// The scene of a hit, from its file name (`000123.png` is image 123 of the set).
fn scene_of(hit: &Value) -> synth::Scene {
    let path = hit["path"].as_str().expect("path");
    let index: u64 = Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .expect("generated file name");
    synth::generate(SEED, Split::Test, index, 8).scene
}

#[test]
fn the_api_searches_pages_and_serves_images_by_id() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = server(tmp.path());
    let addr = server.addr;

    // Text search: the best hits answer the query (the demo model confuses some shapes of one
    // colour, so "among the first five of 120").
    let red = SynthQuery::Objects {
        objects: vec![synth::ObjectQuery::any(
            synth::Shape::Circle,
            synth::Colour::Red,
        )],
        background: None,
    };
    let (status, page) = json(addr, "/api/search?q=a+red+circle&limit=5");
    assert_eq!(status, 200, "{page:#}");
    let hits = page["hits"].as_array().expect("hits");
    assert!(!hits.is_empty(), "{page:#}");
    assert!(
        hits.iter().any(|h| red.matches(&scene_of(h))),
        "no red circle among the first five: {hits:?}"
    );

    // Paging: no duplicates, no gaps, a clear end.
    let mut seen = HashSet::new();
    let mut offset = 0;
    let mut pages = 0;
    loop {
        let (status, page) = json(
            addr,
            &format!("/api/search?q=shapes&offset={offset}&limit=7"),
        );
        assert_eq!(status, 200, "{page:#}");
        for hit in page["hits"].as_array().expect("hits") {
            assert!(
                seen.insert(hit["id"].as_i64().expect("id")),
                "duplicate {hit}"
            );
        }
        pages += 1;
        match page["next_offset"].as_u64() {
            Some(next) => offset = next as usize,
            None => break,
        }
        assert!(pages < 100, "paging never ends");
    }
    let (_, all) = json(addr, "/api/search?q=shapes&limit=200");
    assert_eq!(
        all["hits"].as_array().expect("hits").len(),
        seen.len(),
        "pages and one big page agree"
    );

    // Similar: excludes the image itself.
    let first = hits[0]["id"].as_i64().expect("id");
    let (status, similar) = json(addr, &format!("/api/similar/{first}?limit=10"));
    assert_eq!(status, 200, "{similar:#}");
    let ids: Vec<i64> = similar["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["id"].as_i64())
        .collect();
    assert!(!ids.is_empty() && !ids.contains(&first), "{ids:?}");

    // Thumbnails and originals by id only.
    let thumb = get(addr, &format!("/thumb/{first}"));
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.header("content-type"), Some("image/jpeg"));
    let original = get(addr, &format!("/image/{first}"));
    assert_eq!(original.status, 200);
    assert_eq!(original.header("content-type"), Some("image/png"));
    let (status, meta) = json(addr, &format!("/api/images/{first}"));
    assert_eq!(status, 200);
    assert_eq!(meta["format"], "png");
    assert_eq!(get(addr, "/thumb/999999").status, 404);
    assert_eq!(get(addr, "/image/999999").status, 404);
    assert_eq!(json(addr, "/api/similar/999999").0, 404);
}

#[test]
fn bad_input_gets_a_clear_4xx_and_never_a_file_outside_the_library() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = server(tmp.path());
    let addr = server.addr;
    let long = "a".repeat(10_000);
    for path in [
        "/api/search".to_owned(),
        "/api/search?q=".to_owned(),
        "/api/search?q=%20%20".to_owned(),
        format!("/api/search?q={long}"),
        "/api/search?q=cat&limit=0".to_owned(),
        "/api/search?q=cat&limit=100000".to_owned(),
        "/api/search?q=cat&offset=-1".to_owned(),
        "/api/search?q=cat&sort=sideways".to_owned(),
        "/api/search?q=cat&colour=red".to_owned(),
        "/api/search?q=cat&from=yesterday".to_owned(),
        "/api/search?q=%FF%FE".to_owned(),
        "/api/search?q=-cat".to_owned(),
        "/api/similar/abc".to_owned(),
        "/api/similar/1?limit=x".to_owned(),
    ] {
        let r = get(addr, &path);
        assert_eq!(r.status, 400, "{path} gave {} {}", r.status, r.body);
        let body: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {}",
            r.body
        );
    }
    for path in [
        "/image/..%2F..%2F..%2Fetc%2Fpasswd",
        "/image/%2Fetc%2Fpasswd",
        "/thumb/..%2Fcatalog.db",
        "/image/1%2F..%2F..",
    ] {
        let r = get(addr, path);
        assert!(
            r.status == 400 || r.status == 404,
            "{path} gave {}",
            r.status
        );
        assert!(!r.body.contains("root:"), "{path} leaked a file");
    }
    // Admin: a crawl may be started from this machine.
    let r = post(addr, "/api/crawl/start");
    assert!(
        r.status == 202 || r.status == 409,
        "{} {}",
        r.status,
        r.body
    );
}
