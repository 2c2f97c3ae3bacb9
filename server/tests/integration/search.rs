//! The HTTP API against a real server that crawled generated images with the demo model:
//! ranking, pagination, similar, thumbnails and originals by id, and bad input.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;
use trove_models::synth::{self, Query as SynthQuery, Split};

use crate::library::{ids, json, server, COUNT, SEED};
use crate::util::{get, post, request_with};

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
    assert_eq!(page["schema"], 1, "{page:#}");
    let hits = page["hits"].as_array().expect("hits");
    assert!(!hits.is_empty(), "{page:#}");
    assert!(
        hits.iter().any(|h| red.matches(&scene_of(h))),
        "no red circle among the first five: {hits:?}"
    );

    // Query words go to the keyword index as plain substrings: FTS5 syntax, LIKE wildcards,
    // quotes and odd characters are words like any other, never an error.
    for q in [
        "%22%29+OR+*+NEAR%28a",
        "a%22b+%27%3B+DROP+TABLE+images%3B--",
        "%25%25+__+%5C%5C",
        "col%3Awords+%5E+%2B%2B+%7B%7D",
        "%E5%92%96%E5%95%A1+ab",
    ] {
        let (status, page) = json(addr, &format!("/api/search?q={q}&limit=5"));
        assert_eq!(status, 200, "{q}: {page:#}");
    }

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

    // Thumbnails are a cache: gone from disk, one is made again from the original on request.
    let thumbs = tmp.path().join("data").join("thumbs");
    std::fs::remove_dir_all(&thumbs).expect("deletes the thumbnails");
    let again = get(addr, &format!("/thumb/{first}"));
    assert_eq!(again.status, 200);
    assert_eq!(again.header("content-type"), Some("image/jpeg"));
    let kept = walkdir::WalkDir::new(&thumbs)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count();
    assert_eq!(kept, 1, "the thumbnail made again is kept");
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

#[test]
fn an_uploaded_image_finds_its_twin_and_mixes_with_text_and_other_images() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = server(tmp.path());
    let addr = server.addr;
    let file = tmp.path().join("lib").join("000005.png");
    let bytes = std::fs::read(&file).expect("read");

    // The same picture, uploaded: it is its own best match, and is not added to the library.
    let r = request_with(addr, "POST", "/api/search/image?limit=5", &[], &bytes);
    assert_eq!(r.status, 200, "{}", r.body);
    let page: Value = serde_json::from_str(&r.body).expect("json");
    let key = page["upload"].as_str().expect("upload key").to_owned();
    assert_eq!(key.len(), 24);
    let top = &page["hits"][0];
    assert!(
        top["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("000005.png")),
        "{page:#}"
    );
    assert!(top["score"].as_f64().expect("score") > 0.99, "{top}");
    assert_eq!(json(addr, "/api/status").1["counts"]["images"], COUNT);

    // Its key pages on, and its preview is served.
    let (status, first) = json(addr, &format!("/api/search?upload={key}&limit=5"));
    assert_eq!(status, 200, "{first:#}");
    assert_eq!(ids(&first), ids(&page));
    let (status, second) = json(addr, &format!("/api/search?upload={key}&offset=5&limit=5"));
    assert_eq!(status, 200);
    assert!(ids(&second).iter().all(|id| !ids(&first).contains(id)));
    let preview = get(addr, &format!("/upload/{key}"));
    assert_eq!(preview.status, 200);
    assert_eq!(preview.header("content-type"), Some("image/jpeg"));

    // The no-JavaScript form: multipart, answered with a redirect to the results page.
    let boundary = "trove-test-boundary";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&bytes);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let r = request_with(
        addr,
        "POST",
        "/search/upload",
        &[("Content-Type", &content_type)],
        &form,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("/search?upload={key}").as_str())
    );
    let page_html = get(addr, &format!("/search?upload={key}"));
    assert_eq!(page_html.status, 200);
    assert!(
        page_html.body.contains("id=\"upload-source\""),
        "the page shows the upload"
    );
    assert!(
        page_html.body.contains("class=\"result "),
        "and its results, server-rendered"
    );

    // A hostile "image" whose bytes are markup: the failed-upload page says what kind of file
    // it is, never quoting its contents.
    let mut hostile = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"<b>x.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    hostile.extend_from_slice(b"<script>alert(1)</script>");
    hostile.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = request_with(
        addr,
        "POST",
        "/search/upload",
        &[("Content-Type", &content_type)],
        &hostile,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("id=upload-error"), "{}", r.body);
    assert!(r.body.contains("not an image"), "{}", r.body);
    assert!(!r.body.contains("script"), "{}", r.body);
    assert!(!r.body.contains("alert"), "{}", r.body);

    // Mixed: text with an image, weighted; a negative image.
    let twin = top["id"].as_i64().expect("id");
    for path in [
        format!("/api/search?q=a+red+circle&like={twin}&limit=5"),
        format!("/api/search?q=a+red+circle&like={twin}&weight=0.9&limit=5"),
        format!("/api/search?q=shapes&unlike={twin}&limit=5"),
        format!("/api/search?q=a+red+circle&upload={key}&limit=5"),
    ] {
        let (status, body) = json(addr, &path);
        assert_eq!(status, 200, "{path}: {body:#}");
    }
    // With most of the weight on the image, the image's twin leads.
    let (_, leaning) = json(
        addr,
        &format!("/api/search?q=a+red+circle&upload={key}&weight=0.95&limit=3"),
    );
    assert_eq!(ids(&leaning).first(), Some(&twin), "{leaning:#}");
    // "Like this but not that": the runner-up, excluded, falls back.
    let second = ids(&page)[1];
    let (_, unliked) = json(
        addr,
        &format!("/api/search?upload={key}&unlike={second}&limit=5"),
    );
    let rank = ids(&unliked).iter().position(|&id| id == second);
    assert!(
        rank.is_none_or(|r| r > 1),
        "{second} still ranks {rank:?}: {unliked:#}"
    );

    // Bad uploads and bad mixes are 4xx with a reason.
    for (path, body, want) in [
        ("/api/search/image", b"not an image at all".as_slice(), 400),
        ("/api/search/image", b"".as_slice(), 400),
        ("/api/search/image?weight=3", bytes.as_slice(), 400),
    ] {
        let r = request_with(addr, "POST", path, &[], body);
        assert_eq!(r.status, want, "{path}: {}", r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{}",
            r.body
        );
    }
    for (path, want) in [
        ("/api/search?upload=000000000000000000000000", 404),
        ("/api/search?q=cat&like=abc", 400),
        ("/api/search?q=cat&weight=-1", 400),
        ("/upload/zzz", 400),
    ] {
        let r = get(addr, path);
        assert_eq!(r.status, want, "{path}: {}", r.body);
    }
    let huge = vec![0u8; 40 * 1024 * 1024];
    let r = request_with(addr, "POST", "/api/search/image", &[], &huge);
    assert_eq!(r.status, 413, "an upload over the limit is refused");
}

/// The query language and the reasons given for each hit, over a small library whose file
/// names are hostile markup: the reasons come back as marked text in JSON and as escaped text
/// in the page, never as markup.
#[test]
fn operators_phrases_and_reasons_over_hostile_names() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("Memes 2024");
    std::fs::create_dir_all(lib.join("work")).expect("creates");
    let hostile = "<img src=x onerror=alert(1)> monday";
    let names = [
        format!("{hostile}.png"),
        "work/tuesday.png".to_owned(),
        "plain.png".to_owned(),
    ];
    for (i, name) in names.iter().enumerate() {
        let shade = 60 * i as u8;
        image::RgbImage::from_pixel(64, 48, image::Rgb([200, shade, 40]))
            .save(lib.join(name))
            .expect("writes a picture");
    }
    let mut cmd = crate::util::trove(&tmp.path().join("data"));
    cmd.args(["--model", "trove/demo-clip", "--device", "cpu", "--library"])
        .arg(&lib);
    let server = crate::util::start_server(cmd);
    let addr = server.addr;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (_, body) = json(addr, "/api/status");
        if body["state"] == "ready"
            && !body["crawl"]["running"].as_bool().unwrap_or(true)
            && body["counts"]["embedded"] == 3
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{body:#}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let search = |q: &str| {
        let (status, page) = json(addr, &format!("/api/search?q={q}&limit=10"));
        assert_eq!(status, 200, "{q}: {page:#}");
        page
    };
    let paths = |q: &str| -> Vec<String> {
        search(q)["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| h["path"].as_str().expect("path").to_owned())
            .collect()
    };

    // A file name that holds the word comes first, and says so with the match marked.
    let page = search("monday");
    let first = &page["hits"][0];
    assert!(
        first["path"].as_str().expect("path").ends_with(&names[0]),
        "{page:#}"
    );
    let name = first["why"]["name"].as_array().expect("a name reason");
    assert!(
        name.iter()
            .any(|s| s["hit"] == true && s["text"].as_str() == Some("monday")),
        "{name:?}"
    );
    let shown: String = name.iter().filter_map(|s| s["text"].as_str()).collect();
    assert_eq!(shown, format!("Memes 2024/{}", names[0]));

    // text: answers only what holds the words; folder: and type: restrict.
    assert_eq!(paths("text:tuesday").len(), 1);
    assert!(paths("text:wednesday").is_empty());
    assert_eq!(paths("text:png+folder:work").len(), 1);
    assert_eq!(paths("text:png+folder:%22memes+2024%22").len(), 3);
    assert!(paths("monday+type:gif").is_empty());
    // -word leaves out what holds it.
    assert!(paths("text:png+-monday")
        .iter()
        .all(|p| !p.contains("monday")));
    // Operators alone list the library under them.
    let listed = search("type:png+before:2100");
    assert_eq!(listed["browsing"], true);
    // Undated pictures are neither before nor after a date.
    assert_eq!(listed["hits"].as_array().map(Vec::len), Some(0));
    assert_eq!(search("type:png")["hits"].as_array().map(Vec::len), Some(3));
    // Mistakes are explained.
    for q in [
        "after:someday",
        "type:psd",
        "text:a+like:b",
        "folder:",
        "-folder:x",
    ] {
        let (status, body) = json(addr, &format!("/api/search?q={q}"));
        assert_eq!(status, 400, "{q}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(':')),
            "{body}"
        );
    }

    // The page shows the reason as text: the name's markup is escaped, the match is marked.
    let r = get(addr, "/search?q=onerror");
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("<img src=x"), "raw markup in the page");
    assert!(
        r.body.contains("&lt;img src=x "),
        "the name is shown escaped"
    );
    assert!(r.body.contains("<mark"), "the match is marked");
}
