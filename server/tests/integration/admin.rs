//! The admin's side against a real server: guests on the network search but cannot crawl,
//! change the libraries or the model; the admin (this machine, or the token) can.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::library::{ids, json, server, server_with, COUNT};
use crate::util::{get, post, request_with};

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
        assert_eq!(roots["schema"], 1, "{roots:#}");
        let entry = roots["libraries"]
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
