//! The server read as an attacker would, against the real binary: script injection through a
//! shared link, cross-site requests and DNS rebinding against the admin, a proxy that makes
//! everyone local, what guests may see, and work one guest can make the server do.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use image::ImageEncoder as _;
use serde_json::Value;

use crate::crawl::png_claiming;
use crate::library::{ids, json, server_with};
use crate::util::{get, request_with, send_raw, Response};

const EVIL: (&str, &str) = ("Origin", "http://evil.example");
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// Every state-changing route an admin has, with a body it accepts.
const ADMIN_POSTS: [(&str, &str); 10] = [
    ("/api/fn/crawl_start", ""),
    ("/api/fn/crawl_stop", ""),
    ("/api/fn/library_add", "path=/tmp"),
    ("/api/fn/library_remove", "path=/tmp"),
    ("/api/fn/model_select", "model=trove/demo-clip"),
    ("/api/crawl/start", ""),
    ("/api/crawl/stop", ""),
    ("/api/libraries", "{\"path\":\"/tmp\"}"),
    ("/api/libraries/remove", "{\"path\":\"/tmp\"}"),
    ("/api/models/select", "{\"model\":\"trove/demo-clip\"}"),
];

fn header_has(r: &Response, name: &str, part: &str) -> bool {
    r.header(name).is_some_and(|v| v.contains(part))
}

#[test]
fn a_shared_link_or_another_site_cannot_act_as_the_admin() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = server_with(tmp.path(), &[("TROVE_LAN", "true")]);
    let local: SocketAddr = ([127, 0, 0, 1], server.addr.port()).into();

    // 1. The query is text in the title, never markup.
    let r = get(
        local,
        "/search?q=%3C%2Ftitle%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    );
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("<script>alert(1)"), "{}", r.body);
    assert!(
        r.body
            .contains("<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; · Trove</title>"),
        "{}",
        &r.body[..r.body.len().min(2000)]
    );
    // ...and the page's policy allows only its own scripts, by nonce; no framing, no sniffing.
    let policy = r
        .header("content-security-policy")
        .expect("a CSP")
        .to_owned();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the policy names a nonce");
    for script in r.body.split("<script").skip(1) {
        let open = script.split('>').next().unwrap_or_default();
        assert!(
            open.contains(&format!("nonce=\"{nonce}\"")) || open.contains(" src="),
            "an inline script without the nonce: <script{open}>"
        );
    }
    assert!(header_has(&r, "x-content-type-options", "nosniff"));
    let api = get(local, "/api/status");
    assert!(header_has(&api, "x-content-type-options", "nosniff"));
    assert!(header_has(
        &api,
        "content-security-policy",
        "frame-ancestors 'none'"
    ));

    // 2. Cross-site posts to every admin route are refused before they act; the same post from
    // the page itself works.
    for (path, body) in ADMIN_POSTS {
        for from in [EVIL, ("Sec-Fetch-Site", "cross-site"), ("Origin", "null")] {
            let r = request_with(local, "POST", path, &[from, FORM], body.as_bytes());
            assert_eq!(r.status, 403, "{path} from {from:?}: {}", r.body);
            assert!(r.body.contains("another site"), "{}", r.body);
        }
    }
    // The guest preview switch is a GET that sets a cookie: another site cannot flip it either.
    let r = request_with(
        local,
        "GET",
        "/guest?on=1",
        &[("Sec-Fetch-Site", "cross-site")],
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = request_with(
        local,
        "GET",
        "/guest?on=1",
        &[("Sec-Fetch-Site", "same-origin")],
        b"",
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let origin = format!("http://{local}");
    let same = [
        ("Origin", origin.as_str()),
        ("Sec-Fetch-Site", "same-origin"),
        FORM,
    ];
    let r = request_with(local, "POST", "/api/fn/crawl_stop", &same, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    // A same-origin form without JavaScript goes back to its page as before.
    let referer = format!("{origin}/");
    let no_js = [
        ("Origin", origin.as_str()),
        FORM,
        ("Accept", "text/html"),
        ("Referer", referer.as_str()),
    ];
    let r = request_with(local, "POST", "/api/fn/crawl_stop", &no_js, b"");
    assert!((300..400).contains(&r.status), "{} {}", r.status, r.body);

    // 3. A name that is not this server's (DNS rebinding) gets nothing; loopback names, address
    // literals and this machine's name work, and only loopback names make this machine admin.
    let port = local.port();
    for host in ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io"] {
        let r = send_raw(
            local,
            &format!("GET / HTTP/1.1\r\nHost: {host}:{port}"),
            b"",
        );
        assert_eq!(r.status, 421, "{host}: {}", r.body);
        let r = send_raw(
            local,
            &format!("POST /api/crawl/stop HTTP/1.1\r\nHost: {host}:{port}"),
            b"",
        );
        assert_eq!(r.status, 421, "{host}");
    }
    // The answer's status: 2xx when the crawl-stop was accepted, 403 when not an admin.
    let stop = |host: &str, extra: &str| {
        let status = send_raw(
            local,
            &format!("POST /api/crawl/stop HTTP/1.1\r\nHost: {host}{extra}"),
            b"",
        )
        .status;
        if (200..300).contains(&status) {
            200
        } else {
            status
        }
    };
    assert_eq!(stop(&format!("localhost:{port}"), ""), 200);
    assert_eq!(stop(&format!("[::1]:{port}"), ""), 200);
    // An address literal is answered, but only a loopback name is trusted as this machine.
    assert_eq!(stop(&format!("192.0.2.7:{port}"), ""), 403);

    // 4. Forwarding headers (a proxy on this machine) drop loopback admin; the token still works.
    for header in [
        "X-Forwarded-For: 203.0.113.9",
        "Forwarded: for=203.0.113.9",
        "X-Real-IP: 203.0.113.9",
    ] {
        assert_eq!(
            stop(&format!("127.0.0.1:{port}"), &format!("\r\n{header}")),
            403,
            "{header}"
        );
    }
    let token = std::fs::read_to_string(tmp.path().join("data/admin-token")).expect("token");
    assert_eq!(
        stop(
            &format!("127.0.0.1:{port}"),
            &format!(
                "\r\nX-Forwarded-For: 203.0.113.9\r\nAuthorization: Bearer {}",
                token.trim()
            )
        ),
        200
    );

    // The whole disk or the home folder is no library, and a model is an installed id only.
    let add = |path: &str| {
        request_with(
            local,
            "POST",
            "/api/libraries",
            &[("Content-Type", "application/json")],
            format!("{{\"path\":{}}}", serde_json::json!(path)).as_bytes(),
        )
    };
    let r = add("/");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("too broad"), "{}", r.body);
    let models = tmp.path().join("data/models");
    let r = request_with(
        local,
        "POST",
        "/api/models/select",
        &[("Content-Type", "application/json")],
        format!(
            "{{\"model\":{}}}",
            serde_json::json!(models.display().to_string())
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not an installed model"), "{}", r.body);

    guests_see_no_paths(tmp.path(), local);
    requests_are_bounded(local);
    originals_are_streamed_while_unchanged(local);
}

/// A guest (from the network, or the admin previewing) sees names, never folders or positions.
fn guests_see_no_paths(tmp: &Path, local: SocketAddr) {
    let lib = std::fs::canonicalize(tmp.join("lib")).expect("lib");
    let lib = lib.display().to_string();
    let (_, page) = json(local, "/api/search?q=a+red+circle&limit=3");
    let id = ids(&page)[0];
    assert!(page["hits"][0]["path"]
        .as_str()
        .expect("path")
        .starts_with(&lib));
    let guest = [("Cookie", "trove_guest=1")];
    for path in [
        "/api/search?q=a+red+circle&limit=3".to_owned(),
        format!("/api/images/{id}"),
        "/api/status".to_owned(),
        "/api/libraries".to_owned(),
        "/search?q=a+red+circle".to_owned(),
        "/".to_owned(),
    ] {
        let r = request_with(local, "GET", &path, &guest, b"");
        assert_eq!(r.status, 200, "{path}");
        assert!(
            !r.body.contains(&lib),
            "{path} shows a guest {lib}: {}",
            r.body
        );
    }
    // What matched in a folder's name is not shown to a guest (the match in a file name is).
    let (_, mine) = json(local, "/api/search?q=text:lib&limit=3");
    let name: String = mine["hits"][0]["why"]["name"]
        .as_array()
        .expect("a name reason")
        .iter()
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert!(name.starts_with("lib/"), "{mine:#}");
    let r = request_with(local, "GET", "/api/search?q=text:lib&limit=3", &guest, b"");
    let theirs: Value = serde_json::from_str(&r.body).expect("json");
    let hits = theirs["hits"].as_array().expect("hits");
    assert!(!hits.is_empty(), "{theirs:#}");
    assert!(
        hits.iter().all(|h| h["why"]["name"].is_null()),
        "{theirs:#}"
    );
    let r = request_with(local, "GET", &format!("/api/images/{id}"), &guest, b"");
    let info: Value = serde_json::from_str(&r.body).expect("json");
    assert!(info["gps_lat"].is_null() && !info["path"].as_str().expect("name").contains('/'));
    // The shared status stream too.
    let mut events = TcpStream::connect(local).expect("connect");
    events
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        events,
        "GET /api/status/events HTTP/1.1\r\nHost: {local}\r\nCookie: trove_guest=1\r\n\r\n"
    )
    .expect("write");
    let event = read_event(&mut BufReader::new(events));
    assert!(
        event.1.contains("\"roots\"") && !event.1.contains(&lib),
        "{}",
        event.1
    );
}

/// Negative terms and example images are deduplicated and capped.
fn requests_are_bounded(local: SocketAddr) {
    let repeated = format!("/api/search?q=red{}", "+-cat".repeat(150));
    let (status, body) = json(local, &repeated);
    assert_eq!(status, 200, "{body}");
    let many: String = (0..17).map(|i| format!("+-w{i}")).collect();
    let (status, body) = json(local, &format!("/api/search?q=red{many}"));
    assert_eq!(status, 400, "{body}");
    let like: Vec<String> = (1..=33).map(|i| i.to_string()).collect();
    let (status, body) = json(local, &format!("/api/search?like={}", like.join(",")));
    assert_eq!(status, 400, "{body}");
    let (status, body) = json(local, &format!("/api/search?like={}", "1,".repeat(300)));
    assert_eq!(status, 200, "{body}");
}

/// `/image/<id>` streams the indexed file, and stops serving it once it is replaced.
fn originals_are_streamed_while_unchanged(local: SocketAddr) {
    let (_, page) = json(local, "/api/search?q=a+blue+square&limit=1");
    let id = ids(&page)[0];
    let path = page["hits"][0]["path"].as_str().expect("path").to_owned();
    let bytes = std::fs::read(&path).expect("original");
    let r = get(local, &format!("/image/{id}"));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(r.header("content-type"), Some("image/png"));
    let mut changed = bytes.clone();
    changed.extend_from_slice(b"appended");
    std::fs::write(&path, &changed).expect("replace");
    assert_eq!(get(local, &format!("/image/{id}")).status, 404);
}

/// A process's peak resident memory in MB (0 where `/proc` is missing).
fn peak_rss_mb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// The next `status` event: its id and data.
fn read_event(reader: &mut impl BufRead) -> (u64, String) {
    let (mut id, mut data) = (None, String::new());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read event") > 0,
            "stream ended"
        );
        let l = line.trim_end();
        if let Some(v) = l.strip_prefix("id:") {
            id = v.trim().parse().ok();
        } else if let Some(v) = l.strip_prefix("data:") {
            data.push_str(v.trim_start());
        } else if l.is_empty() && !data.is_empty() {
            return (id.expect("events carry an id"), data);
        }
    }
}

#[test]
fn one_guest_cannot_tie_up_the_server() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = server_with(tmp.path(), &[]);
    let addr = server.addr;

    // Decompression bombs are refused from their headers, quickly and in bounded memory: a
    // real 10000×10000 PNG of zeros (100 KB, 300 MB decoded), one that only claims the size,
    // and a JPEG of 2,000 scans.
    let peak_before = peak_rss_mb(server.child.id());
    let mut zeros = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut zeros,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(
        &vec![0u8; 10_000 * 10_000],
        10_000,
        10_000,
        image::ExtendedColorType::L8,
    )
    .expect("encodes");
    assert!(zeros.len() < 2_000_000, "{} bytes", zeros.len());
    let started = Instant::now();
    for png in [zeros, png_claiming(10_000, 10_000)] {
        let r = request_with(addr, "POST", "/api/search/image", &[], &png);
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("the 40 MP limit"), "{}", r.body);
    }
    let mut bomb = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
    bomb.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    for _ in 0..2000 {
        bomb.extend([0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0]);
        bomb.extend([0x00; 4]);
    }
    bomb.extend([0xFF, 0xD9]);
    let r = request_with(addr, "POST", "/api/search/image", &[], &bomb);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("scans"), "{}", r.body);
    assert!(started.elapsed() < Duration::from_secs(20));
    let grown = peak_rss_mb(server.child.id()).saturating_sub(peak_before);
    assert!(grown < 150, "the server's peak memory grew by {grown} MB");

    // 50 slow-loris connections do not stop a search, and the server drops them.
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .expect("write");
            s
        })
        .collect();
    let (status, _) = json(addr, "/api/search?q=a+red+circle&limit=3");
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_secs(12));
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf);
        assert!(
            buf.is_empty() || text.starts_with("HTTP/1.1 408"),
            "a slow header was answered: {text}"
        );
    }

    // A thousand live status pages cost one status computation a second between them.
    let started = Instant::now();
    let clients: Vec<BufReader<TcpStream>> = (0..1000)
        .map(|_| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .expect("timeout");
            write!(s, "GET /api/status/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("write");
            BufReader::new(s)
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for mut client in clients {
        for _ in 0..2 {
            seen.insert(read_event(&mut client).0);
        }
    }
    let seconds = started.elapsed().as_secs();
    assert!(
        seen.len() as u64 <= seconds + 3,
        "{} computations in {seconds} s: {seen:?}",
        seen.len()
    );
}
