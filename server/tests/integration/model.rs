//! `trove model pull` against a local stand-in for the Hugging Face Hub (HF_ENDPOINT), and
//! `trove model list`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::util::trove;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tests/fixtures")
        .join(name)
}

/// Serves `GET /{owner}/{name}/resolve/main/{file}` from `repos/{name}/{file}`, with the
/// headers hf-hub reads (etag, x-repo-commit, ranges).
async fn resolve(
    State(repos): State<PathBuf>,
    UrlPath((_owner, name, file)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let Ok(bytes) = tokio::fs::read(repos.join(&name).join(&file)).await else {
        return (StatusCode::NOT_FOUND, "Entry not found").into_response();
    };
    let total = bytes.len();
    let (start, end) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .map_or((0, total.saturating_sub(1)), |(a, b)| {
            let start = a.parse().unwrap_or(0);
            let end = b.parse().unwrap_or(total - 1).min(total - 1);
            (start, end)
        });
    let etag = format!("\"{:x}-{total}\"", file.len());
    (
        StatusCode::PARTIAL_CONTENT,
        [
            (header::ETAG.as_str(), etag),
            (
                "x-repo-commit",
                "0123456789abcdef0123456789abcdef01234567".to_owned(),
            ),
            (
                header::CONTENT_RANGE.as_str(),
                format!("bytes {start}-{end}/{total}"),
            ),
        ],
        bytes[start..=end].to_vec(),
    )
        .into_response()
}

/// PyPI's JSON description of a release: `repos/pypi/{name}-{version}.json`.
async fn pypi_json(
    State(repos): State<PathBuf>,
    UrlPath((name, version)): UrlPath<(String, String)>,
) -> Response {
    match tokio::fs::read(repos.join("pypi").join(format!("{name}-{version}.json"))).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

/// A package file: `repos/pypi/{file}`.
async fn package(State(repos): State<PathBuf>, UrlPath(file): UrlPath<String>) -> Response {
    match tokio::fs::read(repos.join("pypi").join(&file)).await {
        Ok(bytes) => bytes.into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

/// A hub on 127.0.0.1 serving `repos`; runs until the test process ends.
fn start_hub(repos: PathBuf) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            let app = Router::new()
                .route("/{owner}/{name}/resolve/main/{file}", get(resolve))
                .route("/pypi/{name}/{version}/json", get(pypi_json))
                .route("/packages/{file}", get(package))
                .with_state(repos);
            axum::serve(listener, app).await.expect("serve");
        });
    });
    rx.recv().expect("hub address")
}

/// A folder of fake repositories: `tiny-clip` (complete), `no-tokenizer`, and `siglip-v1`
/// (SentencePiece's `spiece.model` instead of `tokenizer.json`, as Google's SigLIP v1 repos).
fn repos() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (repo, files) in [
        (
            "tiny-clip",
            &[
                "config.json",
                "model.safetensors",
                "tokenizer.json",
                "preprocessor_config.json",
            ][..],
        ),
        (
            "no-tokenizer",
            &[
                "config.json",
                "model.safetensors",
                "preprocessor_config.json",
            ][..],
        ),
    ] {
        let dir = tmp.path().join(repo);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in files {
            std::fs::copy(fixture("tiny-clip").join(f), dir.join(f)).expect("copy");
        }
    }
    let dir = tmp.path().join("siglip-v1");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for f in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        std::fs::copy(fixture("tiny-siglip").join(f), dir.join(f)).expect("copy");
    }
    std::fs::copy(
        fixture("siglip-spiece/spiece.model"),
        dir.join("spiece.model"),
    )
    .expect("copy");
    tmp
}

#[test]
fn a_siglip_v1_repository_is_pulled_with_its_spiece_model() {
    let repos = repos();
    let hub = start_hub(repos.path().to_path_buf());
    let data = tempfile::tempdir().expect("tempdir");
    let out = trove(data.path())
        .env("HF_ENDPOINT", format!("http://{hub}"))
        .args(["model", "pull", "test/siglip-v1"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "pull failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = data.path().join("models/test--siglip-v1");
    assert!(dir.join("spiece.model").is_file());
    assert!(!dir.join("tokenizer.json").exists());
    let out = trove(data.path())
        .args(["model", "list", "--json"])
        .output()
        .expect("run");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // The same answer as GET /api/models: the built-in demo model first, then the installed.
    assert_eq!(listed["schema"], 1, "{listed:#}");
    let model = &listed["models"][1];
    assert_eq!(model["id"], "test/siglip-v1", "{listed:#}");
    assert_eq!(model["family"], "siglip", "{listed:#}");
    assert!(model["problem"].is_null(), "{listed:#}");
}

#[test]
fn pull_installs_a_model_that_list_then_shows() {
    let repos = repos();
    let hub = start_hub(repos.path().to_path_buf());
    let data = tempfile::tempdir().expect("tempdir");

    let out = trove(data.path())
        .args(["model", "list"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("No models installed"), "{text}");
    assert!(text.contains("trove model pull"), "{text}");

    let out = trove(data.path())
        .env("HF_ENDPOINT", format!("http://{hub}"))
        .args(["model", "pull", "test/tiny-clip"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "pull failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = data.path().join("models/test--tiny-clip");
    for f in trove_models::MODEL_FILES {
        let got = std::fs::read(dir.join(f)).expect("installed file");
        let want = std::fs::read(fixture("tiny-clip").join(f)).expect("fixture");
        assert!(got == want, "{f} differs from the hub's copy");
    }

    let out = trove(data.path())
        .env("TROVE_MODEL", "test/tiny-clip")
        .args(["model", "list"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("test/tiny-clip"), "{text}");
    assert!(
        text.contains("clip") && text.contains("8-d") && text.contains("32px"),
        "{text}"
    );
    assert!(text.contains("(configured)"), "{text}");

    let out = trove(data.path())
        .args(["model", "list", "--json"])
        .output()
        .expect("run");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(listed["models"][0]["demo"], true, "{listed:#}");
    let model = &listed["models"][1];
    assert_eq!(model["id"], "test/tiny-clip", "{listed:#}");
    assert_eq!(model["dim"], 8, "{listed:#}");
    assert_eq!(model["image_size"], 32, "{listed:#}");
}

#[test]
fn a_failed_pull_explains_itself_and_installs_nothing() {
    let repos = repos();
    let hub = start_hub(repos.path().to_path_buf());
    let data = tempfile::tempdir().expect("tempdir");
    let out = trove(data.path())
        .env("HF_ENDPOINT", format!("http://{hub}"))
        .args(["model", "pull", "test/no-tokenizer"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tokenizer.json"), "{err}");
    assert!(!data.path().join("models/test--no-tokenizer").exists());

    let out = trove(data.path())
        .args(["model", "pull", "../../etc"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("repository id"));
}

/// The real PP-OCRv4 weights (from `scripts/setup.sh test`), or `None` when they are absent and
/// not required (`TROVE_REQUIRE_OCR=1` makes that a failure).
fn ocr_weights() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.data/ocr/pp-ocrv4");
    if dir.join("ch_PP-OCRv4_det_infer.onnx").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("TROVE_REQUIRE_OCR").as_deref() != Ok("1"),
        "TROVE_REQUIRE_OCR=1 but no OCR weights in {}",
        dir.display()
    );
    eprintln!("skipped: no OCR weights in {}", dir.display());
    None
}

/// Writes a wheel holding `files` (name in the wheel, bytes) into `repos/pypi`, and the JSON
/// that lists it, as PyPI answers for rapidocr-onnxruntime 1.4.4.
fn publish_wheel(repos: &Path, hub: SocketAddr, files: &[(&str, Vec<u8>)]) {
    use std::io::Write as _;
    let dir = repos.join("pypi");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let name = "rapidocr_onnxruntime-1.4.4-py3-none-any.whl";
    let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.join(name)).expect("creates"));
    let options =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("rapidocr_onnxruntime/__init__.py", options)
        .expect("zips");
    for (path, bytes) in files {
        zip.start_file(*path, options).expect("zips");
        zip.write_all(bytes).expect("zips");
    }
    zip.finish().expect("zips");
    let json = serde_json::json!({
        "info": {"name": "rapidocr-onnxruntime", "version": "1.4.4"},
        "urls": [
            {"packagetype": "sdist", "filename": "rapidocr_onnxruntime-1.4.4.tar.gz",
             "url": format!("http://{hub}/packages/none.tar.gz")},
            {"packagetype": "bdist_wheel", "filename": name,
             "url": format!("http://{hub}/packages/{name}")},
        ],
    });
    std::fs::write(
        dir.join("rapidocr-onnxruntime-1.4.4.json"),
        serde_json::to_vec(&json).expect("json"),
    )
    .expect("writes");
}

#[test]
fn the_text_reader_is_pulled_from_pypi_checked_and_a_wrong_one_is_refused() {
    let Some(weights) = ocr_weights() else {
        return;
    };
    let repos = repos();
    let hub = start_hub(repos.path().to_path_buf());
    let pull = |data: &Path| {
        trove(data)
            .env("TROVE_PYPI_URL", format!("http://{hub}"))
            .args(["model", "pull", "paddleocr/pp-ocrv4"])
            .output()
            .expect("run")
    };
    let installed = |data: &Path| data.join("models/paddleocr--pp-ocrv4");

    // Nothing published: the error says what failed and how to install offline.
    let data = tempfile::tempdir().expect("tempdir");
    let out = pull(data.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("404") && err.contains("install-ocr"), "{err}");
    assert!(!installed(data.path()).exists());

    // Other weights under the right names: refused by hash, nothing installed.
    let files = ["ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx"];
    let fake: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| {
            (
                format!("rapidocr_onnxruntime/models/{f}"),
                b"not a model".to_vec(),
            )
        })
        .collect();
    let borrowed: Vec<(&str, Vec<u8>)> =
        fake.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    publish_wheel(repos.path(), hub, &borrowed);
    let out = pull(data.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BLAKE3"), "{err}");
    assert!(!installed(data.path()).join(files[0]).exists());

    // The real files: installed with the licence notice, and the next crawl can read.
    let real: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| {
            (
                format!("rapidocr_onnxruntime/models/{f}"),
                std::fs::read(weights.join(f)).expect("reads"),
            )
        })
        .collect();
    let borrowed: Vec<(&str, Vec<u8>)> =
        real.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    publish_wheel(repos.path(), hub, &borrowed);
    let out = pull(data.path());
    assert!(
        out.status.success(),
        "pull failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Installed the text reader"));
    for f in files {
        assert_eq!(
            std::fs::read(installed(data.path()).join(f)).expect("installed"),
            std::fs::read(weights.join(f)).expect("reads")
        );
    }
    let notice = std::fs::read_to_string(installed(data.path()).join("NOTICE")).expect("notice");
    assert!(notice.contains("Apache License"), "{notice}");
    assert!(!data.path().join("models/.pulling-ocr").exists());

    // A crawl reads the words once; --read-again reads them again; `trove search --json` says
    // why the picture matched.
    let lib = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/tests/fixtures/words/monday.png"),
        lib.path().join("monday.png"),
    )
    .expect("copies");
    let index = |extra: &[&str]| -> serde_json::Value {
        let out = trove(data.path())
            .args(["index", "--json"])
            .args(extra)
            .arg(lib.path())
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let read = |summary: &serde_json::Value| summary["progress"]["text"]["read"].clone();
    assert_eq!(read(&index(&[])), 1);
    assert_eq!(read(&index(&[])), 0);
    assert_eq!(read(&index(&["--read-again"])), 1);
    let out = trove(data.path())
        .args(["search", "--json", "monday"])
        .output()
        .expect("run");
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let words = &page["hits"][0]["why"]["words"];
    assert_eq!(words[0]["text"], "MONDAY", "{page:#}");
    assert_eq!(words[0]["hit"], true, "{page:#}");
}
