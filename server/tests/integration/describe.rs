//! Tags and captions through the real server: the crawl tags and captions every generated
//! picture, the API returns them with each hit, `tag:` lists a tag's pictures whatever is in
//! the value, and `trove caption ID` writes what the crawl recorded for that image.

use serde_json::Value;

use crate::library::{json, server};
use crate::util::trove;

fn tags(hit: &Value) -> Vec<String> {
    hit["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_crawl_tags_and_captions_and_the_api_searches_by_tag() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = server(tmp.path());
    let addr = server.addr;

    let (_, status) = json(addr, "/api/status");
    assert_eq!(status["captions"]["with_words"], 120, "{status:#}");
    assert_eq!(status["captions"]["note"], Value::Null, "{status:#}");

    // Every hit carries its caption and tags (here the whole library, listed).
    let (code, page) = json(addr, "/api/search?q=type:png&limit=200");
    assert_eq!(code, 200, "{page:#}");
    let hits = page["hits"].as_array().expect("hits");
    assert!(hits
        .iter()
        .all(|h| h["caption"].as_str().is_some_and(|c| c.len() > 5)));
    let tagged: Vec<&Value> = hits.iter().filter(|h| !tags(h).is_empty()).collect();
    assert!(tagged.len() > 60, "{page:#}");

    // tag: lists exactly the pictures with the tag, any case, quoted or not.
    let tag = tags(tagged[0]).remove(0);
    let query = |q: &str| {
        let (code, page) = json(addr, &format!("/api/search?q={}&limit=200", urlencoding(q)));
        assert_eq!(code, 200, "{q}: {page:#}");
        page
    };
    let listed = query(&format!("tag:{}", tag.to_uppercase()));
    let listed = listed["hits"].as_array().expect("hits");
    assert!(!listed.is_empty());
    assert!(listed.iter().all(|h| tags(h).contains(&tag)), "{listed:?}");
    assert!(listed.iter().any(|h| h["id"] == tagged[0]["id"]));
    assert_eq!(
        query(&format!("tag:\"{tag}\""))["hits"]
            .as_array()
            .map(Vec::len),
        Some(listed.len())
    );
    // Whatever the value holds, it is a value: no tag, no error.
    for hostile in [
        "tag:\"' OR 1=1 --\"",
        "tag:%",
        "tag:_",
        "tag:\"red\\\"\"",
        "tag:<script>",
    ] {
        assert!(
            query(hostile)["hits"].as_array().is_some_and(Vec::is_empty),
            "{hostile}"
        );
    }

    // trove caption ID writes the caption the crawl recorded (same pixels, same captioner).
    let id = tagged[0]["id"].as_i64().expect("id");
    let out = trove(&tmp.path().join("data"))
        .args(["caption", "--json", &id.to_string()])
        .output()
        .expect("caption runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let described: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(described[0]["text"], tagged[0]["caption"]);
    let out = trove(&tmp.path().join("data"))
        .args(["caption", "99999"])
        .output()
        .expect("caption runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no image 99999"));
}

/// A query-string value, percent-encoded.
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
