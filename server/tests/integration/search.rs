//! The HTTP API against a real server that crawled generated images with the demo model:
//! ranking, pagination, similar, thumbnails and originals by id, and bad input.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use trove_models::synth::{self, write_set, Output, Query as SynthQuery, Split};

use crate::util::{get, post, request_with, start_server, trove, Server};

const SEED: u64 = 21;
const COUNT: u64 = 120;

fn json(addr: SocketAddr, path: &str) -> (u16, Value) {
    let r = get(addr, path);
    let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

/// A server over `COUNT` generated images, once its first crawl has finished.
fn server(tmp: &Path) -> Server {
    server_with(tmp, &[])
}

fn server_with(tmp: &Path, env: &[(&str, &str)]) -> Server {
    let lib = tmp.join("lib");
    write_set(&lib, SEED, Split::Test, COUNT, 192, Output::Png, &|_| {}).expect("generates");
    let mut cmd = trove(&tmp.join("data"));
    cmd.args(["--model", "trove/demo-clip", "--device", "cpu", "--library"])
        .arg(&lib)
        .envs(env.iter().copied());
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

fn ids(page: &Value) -> Vec<i64> {
    page["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["id"].as_i64())
        .collect()
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

#[test]
fn guests_on_the_network_search_but_only_the_admin_crawls() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = server_with(tmp.path(), &[("TROVE_LAN", "true")]);
    let port = server.addr.port();
    let token = std::fs::read_to_string(tmp.path().join("data").join("admin-token"))
        .expect("the admin token is kept in the data directory");
    let local: SocketAddr = ([127, 0, 0, 1], port).into();

    // On this machine: admin, with the controls on the home page.
    let home = get(local, "/");
    assert!(
        home.body.contains("id=\"crawl-controls\""),
        "local admin sees the controls"
    );
    assert!(home.body.contains("id=\"browse\"") && home.body.contains("class=\"result "));
    // An admin previewing the guest view sees none.
    let guest_view = request_with(local, "GET", "/", &[("Cookie", "trove_guest=1")], b"");
    assert!(!guest_view.body.contains("id=\"crawl-controls\""));
    assert!(guest_view.body.contains("id=\"guest-note\""));
    let r = request_with(
        local,
        "POST",
        "/api/crawl/start",
        &[("Cookie", "trove_guest=1")],
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // The server functions behind the page answer with their error's own status too...
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let r = request_with(
        local,
        "POST",
        "/api/fn/crawl_start",
        &[("Cookie", "trove_guest=1"), form],
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("only the admin"), "{}", r.body);
    let r = request_with(local, "POST", "/api/fn/model_select", &[form], b"model=");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("choose a model"), "{}", r.body);
    // ...except a plain form post from a page without JavaScript, which goes back to it.
    let r = request_with(
        local,
        "POST",
        "/api/fn/model_select",
        &[form, ("Accept", "text/html"), ("Referer", "/")],
        b"model=",
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let r = get(local, "/guest?on=1");
    assert_eq!(r.status, 303);
    assert!(r
        .header("set-cookie")
        .is_some_and(|c| c.starts_with("trove_guest=1")));

    // Library folders: the admin adds and removes them; guests cannot.
    let more = tmp.path().join("more");
    std::fs::create_dir_all(&more).expect("folder");
    for i in 0..3 {
        std::fs::copy(
            tmp.path().join("lib").join(format!("{i:06}.png")),
            more.join(format!("copy-{i}.png")),
        )
        .expect("copy");
    }
    let body = serde_json::json!({ "path": more.display().to_string() }).to_string();
    let json_type = [("Content-Type", "application/json")];
    let guest = [
        ("Content-Type", "application/json"),
        ("Cookie", "trove_guest=1"),
    ];
    let r = request_with(local, "POST", "/api/libraries", &guest, body.as_bytes());
    assert_eq!(r.status, 403, "{}", r.body);
    let r = request_with(local, "POST", "/api/libraries", &json_type, body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("added"), "{}", r.body);
    for bad in [
        serde_json::json!({ "path": "relative/folder" }),
        serde_json::json!({ "path": "/no/such/folder" }),
        serde_json::json!({ "path": more.display().to_string() }),
        serde_json::json!({ "path": tmp.path().join("data").display().to_string() }),
    ] {
        let r = request_with(
            local,
            "POST",
            "/api/libraries",
            &json_type,
            bad.to_string().as_bytes(),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let listed = loop {
        let (_, roots) = json(local, "/api/libraries");
        let entry = roots
            .as_array()
            .expect("roots")
            .iter()
            .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/more")))
            .cloned();
        let running = json(local, "/api/status").1["crawl"]["running"].as_bool();
        if let Some(e) = entry.filter(|e| e["files"] == 3 && running == Some(false)) {
            break e;
        }
        assert!(
            Instant::now() < deadline,
            "the added folder was not crawled: {roots:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(listed["configured"], false);
    let configured = serde_json::json!({ "path": tmp.path().join("lib").display().to_string() });
    let r = request_with(
        local,
        "POST",
        "/api/libraries/remove",
        &json_type,
        configured.to_string().as_bytes(),
    );
    assert_eq!(r.status, 409, "a configured folder stays: {}", r.body);
    let r = request_with(
        local,
        "POST",
        "/api/libraries/remove",
        &json_type,
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Copies of library images: their content stays, only the three files are forgotten.
    assert!(r.body.contains("0 images forgotten"), "{}", r.body);
    let (_, roots) = json(local, "/api/libraries");
    assert!(!roots.to_string().contains("/more"), "{roots:#}");
    assert_eq!(json(local, "/api/status").1["counts"]["files"], COUNT);

    // From the network: a guest, unless the token comes along.
    let Some(ip) = server::web::lan_ip() else {
        eprintln!("no network address on this machine: the guest path is covered by access.rs' unit tests");
        return;
    };
    let lan: SocketAddr = (ip, port).into();
    let (status, page) = json(lan, "/api/search?q=a+red+circle&limit=3");
    assert_eq!(status, 200, "guests search: {page:#}");
    assert_eq!(get(lan, &format!("/thumb/{}", ids(&page)[0])).status, 200);
    let home = get(lan, "/");
    assert_eq!(home.status, 200);
    assert!(
        !home.body.contains("id=\"crawl-controls\""),
        "guests see no controls"
    );
    assert_eq!(post(lan, "/api/crawl/start").status, 403);
    assert_eq!(post(lan, "/api/crawl/stop").status, 403);
    let bearer = format!("Bearer {}", token.trim());
    let r = request_with(
        lan,
        "POST",
        "/api/crawl/start",
        &[("Authorization", &bearer)],
        b"",
    );
    assert!(
        r.status == 202 || r.status == 409,
        "{} {}",
        r.status,
        r.body
    );
    let wrong = request_with(lan, "GET", "/admin?token=nope", &[], b"");
    assert_eq!(wrong.status, 403);
    let login = get(lan, &format!("/admin?token={}", token.trim()));
    assert_eq!(login.status, 303);
    let cookie = login
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("the admin cookie")
        .to_owned();
    let home = request_with(lan, "GET", "/", &[("Cookie", &cookie)], b"");
    assert!(
        home.body.contains("id=\"crawl-controls\""),
        "the admin link makes an admin"
    );
}

/// Waits until the server uses `model`, its crawl has finished and every image is searchable.
fn settled_on(addr: SocketAddr, model: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (_, status) = json(addr, "/api/status");
        if status["model"] == model
            && status["state"] == "ready"
            && status["crawl"]["running"] == false
            && status["counts"]["embedded"] == COUNT
        {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "not settled on {model}: {status:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_admin_switches_models_and_back_and_guests_cannot() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = server(tmp.path());
    let data = tmp.path().join("data");
    // A second model, installed as `trove model pull` would: the tiny random CLIP fixture.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/tiny-clip");
    let installed = data.join("models").join("test--tiny-clip");
    std::fs::create_dir_all(&installed).expect("models folder");
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "preprocessor_config.json",
    ] {
        std::fs::copy(fixture.join(file), installed.join(file)).expect("install");
    }
    let (status, list) = json(server.addr, "/api/models");
    assert_eq!(status, 200);
    assert_eq!(list["active"], "trove/demo-clip");
    let models = list["models"].as_array().expect("models");
    assert!(
        models
            .iter()
            .any(|m| m["id"] == "trove/demo-clip" && m["active"] == true && m["demo"] == true),
        "{list:#}"
    );
    assert!(
        models
            .iter()
            .any(|m| m["id"] == "test/tiny-clip" && m["family"] == "clip" && m["active"] == false),
        "{list:#}"
    );

    let json_type = [("Content-Type", "application/json")];
    let select = |model: &str, headers: &[(&str, &str)]| {
        let body = serde_json::json!({ "model": model }).to_string();
        request_with(
            server.addr,
            "POST",
            "/api/models/select",
            headers,
            body.as_bytes(),
        )
    };
    let guest = [
        ("Content-Type", "application/json"),
        ("Cookie", "trove_guest=1"),
    ];
    let r = select("test/tiny-clip", &guest);
    assert_eq!(r.status, 403, "{}", r.body);
    let r = select("nobody/missing", &json_type);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("nobody/missing"), "{}", r.body);
    let r = select("", &json_type);
    assert_eq!(r.status, 400, "{}", r.body);

    let r = select("test/tiny-clip", &json_type);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("now using test/tiny-clip"), "{}", r.body);
    let status = settled_on(server.addr, "test/tiny-clip");
    assert_eq!(
        status["crawl"]["embedded"], COUNT,
        "every image is embedded again with the new model: {status:#}"
    );
    assert_eq!(status["demo_model"], false);
    let saved = std::fs::read_to_string(data.join("model-choice")).expect("the choice is kept");
    assert_eq!(saved.trim(), "test/tiny-clip");
    assert_eq!(
        json(server.addr, "/api/models").1["active"],
        "test/tiny-clip"
    );
    // Its embeddings answer queries (a random model ranks nothing, but it answers).
    let (status, page) = json(server.addr, "/api/search?q=a+red+circle&limit=5");
    assert_eq!(status, 200, "{page:#}");
    let (status, similar) = json(server.addr, "/api/similar/1?limit=5");
    assert_eq!(status, 200, "{similar:#}");
    assert!(!ids(&similar).is_empty() && !ids(&similar).contains(&1));

    // Back to the demo model: its embeddings were kept, so nothing is embedded again.
    let r = select("trove/demo-clip", &json_type);
    assert_eq!(r.status, 200, "{}", r.body);
    let status = settled_on(server.addr, "trove/demo-clip");
    assert_eq!(status["crawl"]["embedded"], 0, "{status:#}");
    assert_eq!(status["demo_model"], true);
    let (_, page) = json(server.addr, "/api/search?q=a+meme+that+says+hello&limit=3");
    assert!(!ids(&page).is_empty(), "{page:#}");
    let r = select("trove/demo-clip", &json_type);
    assert!(r.body.contains("already in use"), "{}", r.body);
}
