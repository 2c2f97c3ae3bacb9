//! `trove index` on real files: bad input, moves and deletions, and kill -9 in the middle.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::Value;
use trove_models::synth::{write_set, Output, Split};

use crate::util::trove;

/// `count` generated PNGs (the demo model knows what they show) in `dir`.
pub(crate) fn synth_images(dir: &Path, count: u64) {
    write_set(dir, 11, Split::Test, count, 128, Output::Png, &|_| {}).expect("generates");
    std::fs::remove_file(dir.join("captions.jsonl")).expect("removes captions");
}

pub(crate) fn index(data: &Path, folder: &Path) -> Value {
    index_with(data, folder, "trove/demo-clip")
}

fn index_with(data: &Path, folder: &Path, model: &str) -> Value {
    let out = trove(data)
        .args(["--model", model, "--device", "cpu", "index", "--json"])
        .arg(folder)
        .output()
        .expect("runs trove index");
    assert!(
        out.status.success(),
        "trove index failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON summary")
}

pub(crate) fn status(data: &Path) -> Value {
    let out = trove(data)
        .args(["--model", "trove/demo-clip", "status", "--json"])
        .output()
        .expect("runs trove status");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("JSON status")
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid-looking PNG whose header claims `w`×`h` pixels (a decompression bomb).
pub fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        png.extend(&body);
        png.extend(crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    png
}

pub(crate) fn reason_for<'a>(status: &'a Value, name: &str) -> &'a str {
    status["skipped"]
        .as_array()
        .expect("skipped list")
        .iter()
        .find(|s| s["path"].as_str().is_some_and(|p| p.ends_with(name)))
        .and_then(|s| s["reason"].as_str())
        .unwrap_or_else(|| panic!("{name} was not recorded as skipped: {status:#}"))
}

#[test]
fn bad_files_are_skipped_with_reasons_and_the_crawl_goes_on() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("lib");
    synth_images(&lib, 12);
    let good = std::fs::read(lib.join("000000.png")).expect("reads");
    std::fs::write(lib.join("notes.jpg"), b"shopping list: eggs, milk\n").expect("writes");
    std::fs::write(lib.join("empty.png"), b"").expect("writes");
    let jpeg = {
        let img = image::open(lib.join("000001.png")).expect("opens");
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg)
            .expect("encodes");
        out.into_inner()
    };
    std::fs::write(lib.join("photo.jpg"), &jpeg).expect("writes");
    std::fs::write(lib.join("truncated.jpg"), &jpeg[..jpeg.len() / 2]).expect("writes");
    std::fs::write(lib.join("bomb.png"), png_claiming(50_000, 50_000)).expect("writes");
    std::fs::write(lib.join("png-named.jpg"), &good).expect("writes");
    assert!(std::process::Command::new("mkfifo")
        .arg(lib.join("pipe.jpg"))
        .status()
        .expect("mkfifo")
        .success());
    std::fs::write(tmp.path().join("outside.png"), &good).expect("writes");
    std::os::unix::fs::symlink(tmp.path().join("outside.png"), lib.join("link.png"))
        .expect("links");
    std::os::unix::fs::symlink(&lib, lib.join("loop")).expect("links");
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.png");
        std::fs::write(lib.join(name), &good).expect("writes a non-UTF-8 name");
    }
    let long = format!("{}.png", "x".repeat(240));
    std::fs::write(lib.join(&long), &good).expect("writes a long name");
    std::fs::create_dir(lib.join("sub")).expect("mkdir");
    std::fs::write(lib.join("sub/readme.txt"), b"not an image, ignored").expect("writes");

    let data = tmp.path().join("data");
    let summary = index(&data, &lib);
    assert_eq!(summary["state"], "done", "{summary:#}");
    assert_eq!(summary["schema"], 1, "{summary:#}");
    assert_eq!(
        summary["progress"]["running"], false,
        "a finished crawl is not running: {summary:#}"
    );
    let st = status(&data);
    assert!(
        reason_for(&st, "notes.jpg").contains("not an image"),
        "{st:#}"
    );
    assert!(reason_for(&st, "empty.png").contains("empty"));
    assert!(reason_for(&st, "truncated.jpg").contains("damaged or truncated"));
    assert!(reason_for(&st, "bomb.png").contains("50000×50000"));
    assert!(reason_for(&st, "pipe.jpg").contains("not a regular file"));
    assert!(reason_for(&st, "link.png").contains("symbolic link"));
    // 12 generated + photo.jpg + png-named.jpg + non-UTF-8 + long name; the four copies of
    // 000000.png share one image.
    assert_eq!(st["counts"]["files"], 16, "{st:#}");
    assert_eq!(st["counts"]["images"], 13, "{st:#}");
    assert_eq!(st["counts"]["embedded"], 13, "{st:#}");
    assert_eq!(st["counts"]["skipped"], 6, "{st:#}");
    assert!(data.join("catalog.db").is_file());
    let thumbs = walkdir::WalkDir::new(data.join("thumbs"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count();
    assert_eq!(thumbs, 13, "one grid thumbnail per distinct image");

    // Nothing changed: the second crawl touches nothing.
    let again = index(&data, &lib);
    assert_eq!(again["progress"]["embedded"], 0, "{again:#}");
    assert_eq!(again["progress"]["unchanged"], 16, "{again:#}");
    assert_eq!(again["progress"]["skipped"], 6, "{again:#}");
}

#[test]
fn moved_files_keep_their_embedding_and_deleted_files_disappear() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("lib");
    synth_images(&lib, 10);
    let data = tmp.path().join("data");
    let first = index(&data, &lib);
    assert_eq!(first["progress"]["embedded"], 10, "{first:#}");

    std::fs::create_dir(lib.join("album")).expect("mkdir");
    std::fs::rename(lib.join("000003.png"), lib.join("album/renamed.png")).expect("moves");
    std::fs::remove_file(lib.join("000004.png")).expect("deletes");
    let second = index(&data, &lib);
    let p = &second["progress"];
    assert_eq!(p["embedded"], 0, "a move re-embeds nothing: {second:#}");
    assert_eq!(p["reused"], 1, "{second:#}");
    assert_eq!(p["unchanged"], 8, "{second:#}");
    assert_eq!(
        p["removed"], 2,
        "the old path and the deleted file: {second:#}"
    );
    let st = status(&data);
    assert_eq!(st["counts"]["files"], 9);
    assert_eq!(st["counts"]["embedded"], 9);
    assert_eq!(st["last_crawl"]["state"], "done", "{st:#}");

    // The command line answers with the API's wire types.
    let out = trove(&data)
        .args(["--model", "trove/demo-clip", "--device", "cpu"])
        .args(["search", "a shape", "--limit", "3", "--json"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page: Value = serde_json::from_slice(&out.stdout).expect("JSON page");
    assert_eq!(page["schema"], 1, "{page:#}");
    assert_eq!(page["browsing"], false, "{page:#}");
    assert!(
        page["hits"].as_array().is_some_and(|h| h.len() <= 3),
        "{page:#}"
    );
    assert!(page.get("results").is_none(), "{page:#}");
}

#[test]
fn new_weights_under_the_same_model_name_embed_the_library_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("lib");
    synth_images(&lib, 5);
    let data = tmp.path().join("data");
    let model = tmp.path().join("model");
    trove_engine::model_store::install_demo(&model).expect("model folder");
    let name = model.to_str().expect("utf-8 path");
    assert_eq!(index_with(&data, &lib, name)["progress"]["embedded"], 5);
    assert_eq!(index_with(&data, &lib, name)["progress"]["embedded"], 0);
    // Other weights in the same folder (the lowest bit of the last value changed).
    let weights = model.join("model.safetensors");
    let mut bytes = std::fs::read(&weights).expect("reads");
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    std::fs::write(&weights, bytes).expect("writes");
    let again = index_with(&data, &lib, name);
    assert_eq!(again["progress"]["embedded"], 5, "{again:#}");
    assert_eq!(again["progress"]["unchanged"], 0, "{again:#}");
    assert_eq!(index_with(&data, &lib, name)["progress"]["embedded"], 0);
}

#[test]
fn a_missing_root_keeps_its_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("lib");
    synth_images(&lib, 3);
    let data = tmp.path().join("data");
    index(&data, &lib);
    let out = trove(&data)
        .args(["--model", "trove/demo-clip", "index"])
        .arg(tmp.path().join("unplugged-drive"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unplugged-drive"), "{err}");
    assert_eq!(status(&data)["counts"]["files"], 3);
}

fn catalog_counts(db: &Path) -> Option<(i64, i64, i64)> {
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let one = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).ok();
    Some((
        one("SELECT COUNT(*) FROM files")?,
        one("SELECT COUNT(*) FROM images")?,
        one("SELECT COUNT(*) FROM embeddings")?,
    ))
}

#[test]
fn kill_dash_nine_loses_no_committed_batch_and_the_next_run_resumes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("lib");
    synth_images(&lib, 240);
    let data = tmp.path().join("data");
    let db: PathBuf = data.join("catalog.db");
    let mut committed = 0;
    for threshold in [1, 60, 150] {
        let mut child = trove(&data)
            .args(["--model", "trove/demo-clip", "--device", "cpu", "index"])
            .arg(&lib)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawns");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if catalog_counts(&db).is_some_and(|(files, ..)| files >= threshold) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no progress past {threshold} files"
            );
            if child.try_wait().expect("polls").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().expect("kill -9");
        child.wait().expect("reaps");
        let conn = Connection::open(&db).expect("opens after the kill");
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("checks");
        assert_eq!(check, "ok");
        let (files, images, embeddings) = catalog_counts(&db).expect("counts");
        assert!(
            files >= committed,
            "committed work was lost: {files} < {committed}"
        );
        assert_eq!(
            images, embeddings,
            "every committed image has its embedding"
        );
        assert!(files <= 240);
        committed = files;
    }
    let summary = index(&data, &lib);
    let p = &summary["progress"];
    let embedded = p["embedded"].as_i64().expect("number");
    let unchanged = p["unchanged"].as_i64().expect("number");
    assert_eq!(
        unchanged, committed,
        "the resumed crawl skips exactly what was committed: {summary:#}"
    );
    assert_eq!(embedded + unchanged, 240, "{summary:#}");
    assert_eq!(catalog_counts(&db), Some((240, 240, 240)));
    let st = status(&data);
    assert_eq!(st["counts"]["embedded"], 240);
}
