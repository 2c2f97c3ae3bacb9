//! Search latency and load, end to end over HTTP against the real `trove` server.
//!
//! Long file: one harness-free benchmark program (its catalog writer, HTTP client, load run and
//! index-only part) that `cargo bench` builds as a single binary; its parts share the run's
//! settings and figures.
//!
//! ```sh
//! cargo bench -p server --bench search            # 100k images, ViT-B/32 text tower if made
//! TROVE_BENCH_MILLION=1 cargo bench -p server --bench search   # also the 1M-vector HNSW index
//! TROVE_BENCH_MILLION=only cargo bench -p server --bench search   # only that
//! ```
//!
//! 1. A catalog of `TROVE_BENCH_IMAGES` (100,000) images is written straight into SQLite, with
//!    synthetic embeddings clustered around the text embeddings of 40 subjects (so text queries
//!    have thousands of relevant results above the cutoff, as on a real library), and words
//!    "read" in every fifth (its subject's words and two more subjects', so text queries have
//!    thousands of keyword matches to blend too). The files do not exist; search never reads
//!    them.
//! 2. The real `trove serve` opens it (rebuilding the HNSW index from the catalog) with the
//!    model in `TROVE_BENCH_MODEL`, by default the random-weight ViT-B/32 that
//!    `models/scripts/make_fixtures.py full .data/full` makes (the demo model if it is absent),
//!    on the CPU.
//! 3. Latency: distinct text queries one after another (no query cache hits), then similar
//!    queries, `GET /api/search?q=…&limit=60` and `GET /api/similar/<id>?limit=60`: p50, p90,
//!    p99. Text queries alternate between the plain query (vectors and keywords blended) and
//!    the same kind of query asked of the vectors only (`like: …`, another subject so that the
//!    text tower's query cache never answers it), so what blending costs is measured side by
//!    side on the same server and minutes.
//! 4. Load: the server restarts with a folder of generated images to crawl, and 200 clients
//!    (`TROVE_BENCH_CLIENTS`) search for 30 s (`TROVE_BENCH_LOAD_S`) while it crawls: errors,
//!    p50, p99, requests per second. Only 127.0.0.1 is ever contacted.
//! 5. With `TROVE_BENCH_MILLION=1` (or `only`): one million synthetic vectors in an HNSW index
//!    built in process (the index part only; `TROVE_BENCH_VECTORS` sets the count), its search
//!    latency at the engine's first bucket (k = 256), and how well that bucket's first ten and
//!    first 60 hold the true ten nearest (found by brute force): recall, and how much less
//!    similar the ten shown are than the true ten. `TROVE_BENCH_BREADTHS=768,1536` measures
//!    several search breadths; `TROVE_BENCH_DATA=lowrank` draws vectors that vary along 32
//!    directions per subject instead of all 512; `TROVE_BENCH_INDEX=FILE` saves the built index
//!    there, and a later run with the same file loads it instead of building. The graph is the
//!    engine's unless `TROVE_BENCH_STORED` (f32, f16 or bf16), `TROVE_BENCH_LINKS` or
//!    `TROVE_BENCH_INSERT_BREADTH` say otherwise, to weigh another against it.
//!
//! `TROVE_BENCH_KEEP=DIR` keeps the catalog (and the index the server saves) in `DIR` and
//! reuses them when a later run finds them there, so a second run skips minutes of setup.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::pages::search::encode;
use trove_engine::catalog::{Catalog, FileFacts, Outcome};
use trove_engine::media::ImageFacts;
use trove_engine::vectors::{Graph, Neighbour, ScalarKind, VectorIndex};
use trove_models::{Compute, DevicePreference, Embedder};

const SUBJECTS: [&str; 40] = [
    "a dog on a beach",
    "a cat asleep on a sofa",
    "money",
    "a surprised face",
    "bokeh lights at night",
    "Mt Fuji from a plane window",
    "a birthday cake",
    "a red sports car",
    "snowy mountains",
    "a bowl of ramen",
    "a crowded street in Tokyo",
    "a sunset over the sea",
    "a wedding",
    "a baby laughing",
    "fireworks",
    "a forest in autumn",
    "a screenshot of code",
    "a receipt",
    "a whiteboard with notes",
    "a bicycle",
    "a cup of coffee",
    "a concert crowd",
    "a lighthouse",
    "a horse in a field",
    "a waterfall",
    "a city skyline",
    "a meme about mondays",
    "a pizza",
    "a train station",
    "a child on a swing",
    "a snowman",
    "a desert road",
    "a boat on a lake",
    "flowers in a vase",
    "a graduation photo",
    "a selfie in a mirror",
    "a hiking trail",
    "a plate of sushi",
    "a rainy window",
    "a dog wearing a hat",
];
const VARIANTS: [&str; 12] = [
    "",
    "photo of ",
    "a picture of ",
    "close-up of ",
    "blurry ",
    "old photo of ",
    "my ",
    "funny ",
    "black and white ",
    "wide shot of ",
    "night photo of ",
    "instagram of ",
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: reproducible noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Roughly normal (the sum of four uniforms, centred).
    fn normal(&mut self) -> f32 {
        (self.unit() + self.unit() + self.unit() + self.unit() - 2.0) * 1.732
    }
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
    v.iter_mut().for_each(|x| *x /= n);
}

/// A vector near `centre`: cosine about 0.4 to it, the rest noise.
fn near(centre: &[f32], rng: &mut Rng) -> Vec<f32> {
    let mut noise: Vec<f32> = (0..centre.len()).map(|_| rng.normal()).collect();
    normalise(&mut noise);
    let mut v: Vec<f32> = centre
        .iter()
        .zip(&noise)
        .map(|(c, n)| 0.45 * c + n)
        .collect();
    normalise(&mut v);
    v
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    let s = serde_json::json!({
        "what": name,
        "requests": ms.len(),
        "p50_ms": (percentile(&ms, 0.5) * 100.0).round() / 100.0,
        "p90_ms": (percentile(&ms, 0.9) * 100.0).round() / 100.0,
        "p99_ms": (percentile(&ms, 0.99) * 100.0).round() / 100.0,
        "max_ms": (ms.last().copied().unwrap_or(f64::NAN) * 100.0).round() / 100.0,
    });
    println!("{s}");
    s
}

/// `GET path` on a fresh connection: (status, body, milliseconds).
fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String, f64)> {
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body, ms))
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path, model: &Path, library: Option<&Path>) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trove"));
    cmd.env("TROVE_DATA_DIR", data)
        .env("XDG_CONFIG_HOME", data.join("xdg"))
        .env_remove("TROVE_LIBRARY")
        .env(
            "RUST_LOG",
            std::env::var("TROVE_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .arg("--model")
        .arg(model)
        .args(["--device", "cpu"]);
    if let Some(lib) = library {
        cmd.arg("--library").arg(lib);
    }
    let mut child = cmd
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn trove");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines.next().expect("server exited").expect("stdout");
        if let Some(a) = line.strip_prefix("trove: listening on http://") {
            break a.parse().expect("address");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, addr }
}

/// Waits until the library is open; with `idle`, also until no crawl runs.
fn wait_ready(addr: SocketAddr, idle: bool) -> serde_json::Value {
    loop {
        if let Ok((200, body, _)) = get(addr, "/api/status") {
            let s: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            assert!(s["state"] != "error", "{s:#}");
            let crawling = s["crawl"]["running"].as_bool().unwrap_or(true);
            if s["state"] == "ready" && (!idle || !crawling) {
                return s;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo bench -- --list` and `cargo test --benches` ask what is here.
        return;
    }
    let images = env_usize("TROVE_BENCH_IMAGES", 100_000);
    let queries = env_usize("TROVE_BENCH_QUERIES", 300);
    let clients = env_usize("TROVE_BENCH_CLIENTS", 200);
    let load_s = env_usize("TROVE_BENCH_LOAD_S", 30);
    let work = tempfile::Builder::new()
        .prefix("bench-search-")
        .tempdir_in(workspace().join("target"))
        .expect("work folder");
    let kept = std::env::var_os("TROVE_BENCH_KEEP").map(|d| workspace().join(d));
    let data = kept.clone().unwrap_or_else(|| work.path().join("data"));
    let model = bench_model(work.path());
    let model_name = model.display().to_string();
    println!(
        "model: {model_name}; {images} images; {queries} queries; {clients} clients for {load_s} s"
    );

    // 1. The catalog.
    let t = Instant::now();
    let (dim, centres) = subject_centres(&model);
    if std::env::var("TROVE_BENCH_MILLION").is_ok_and(|v| v == "only") {
        println!("{}", million(work.path(), dim, &centres));
        return;
    }
    if kept.is_some() && data.join("catalog.db").is_file() {
        println!("catalog reused from {}", data.display());
    } else {
        write_catalog(&data, &model, &centres, images, work.path());
        println!(
            "catalog of {images} images written in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }

    // 2. The server (its index is rebuilt from the catalog on open).
    let t = Instant::now();
    let server = start(&data, &model, None);
    let status = wait_ready(server.addr, true);
    println!(
        "server ready with {} searchable images in {:.1} s (HNSW index built from the catalog)",
        status["counts"]["embedded"],
        t.elapsed().as_secs_f64()
    );

    // 3. Latency, one query at a time.
    let texts: Vec<String> = VARIANTS
        .iter()
        .flat_map(|v| SUBJECTS.iter().map(move |s| format!("{v}{s}")))
        .take(queries)
        .collect();
    let mut results = latency(server.addr, &texts, images, queries);
    drop(server);
    if clients == 0 {
        println!("{}", serde_json::Value::Array(results));
        return;
    }

    // 4. Load while crawling.
    results.push(load_while_crawling(
        &data,
        &model,
        work.path(),
        &texts,
        (clients, load_s),
    ));

    // 5. One million vectors, the index part only.
    if std::env::var("TROVE_BENCH_MILLION").is_ok_and(|v| v == "1") {
        results.push(million(work.path(), dim, &centres));
    }
    println!("{}", serde_json::Value::Array(results));
}

/// The model to run: `TROVE_BENCH_MODEL`, else the random-weight ViT-B/32 fixture, else the
/// demo model.
fn bench_model(work: &Path) -> PathBuf {
    match std::env::var_os("TROVE_BENCH_MODEL") {
        Some(m) => PathBuf::from(m),
        None => {
            let full = workspace().join(".data/full/clip-vit-base-patch32");
            if full.join("model.safetensors").is_file() {
                full
            } else {
                eprintln!("note: {} is absent (models/scripts/make_fixtures.py full .data/full makes it); using the demo model", full.display());
                let demo = work.join("demo-clip");
                trove_engine::model_store::install_demo(&demo).expect("demo model");
                demo
            }
        }
    }
}

/// The model's width and the text embeddings of the 40 subjects, the centres of the synthetic
/// library's clusters.
fn subject_centres(model: &Path) -> (usize, Vec<Vec<f32>>) {
    let embedder = Embedder::load(model, &Compute::select(DevicePreference::Cpu).expect("cpu"))
        .expect("model loads");
    let centres: Vec<Vec<f32>> = SUBJECTS
        .iter()
        .map(|s| embedder.embed_query(s).expect("embeds").to_vec())
        .collect();
    let dim = embedder.dim();
    drop(embedder);
    (dim, centres)
}

/// Writes a catalog of `images` images straight into SQLite, with embeddings near the subjects'
/// centres and files that do not exist (search never reads them).
fn write_catalog(data: &Path, model: &Path, centres: &[Vec<f32>], images: usize, work: &Path) {
    let model_name = model.display().to_string();
    let dim = centres[0].len();
    let mut store = Catalog::open(&data.join("catalog.db")).expect("catalog");
    // With the weights' fingerprint, as the server registers it (else it re-embeds).
    let weights = trove_engine::engine::fingerprint(model).expect("fingerprint");
    let (model_id, _) = store
        .prepare_model(&model_name, dim, &weights)
        .expect("model row");
    let root = work.join("photos-not-on-disk");
    let root_id = store.ensure_root(&root).expect("root");
    let crawl = store.begin_crawl(model_id).expect("crawl");
    let mut rng = Rng(7);
    let mut batch = Vec::with_capacity(5000);
    // Every fifth picture has words read in it: its subject's words and two more, so the
    // keyword index answers text queries with thousands of matches, as on a meme library.
    let mut words: std::collections::HashMap<[u8; 32], String> = std::collections::HashMap::new();
    for i in 0..images as u64 {
        let subject = (rng.next() % centres.len() as u64) as usize;
        let centre = &centres[subject];
        let mut image = ImageFacts {
            hash: *blake3::hash(&i.to_le_bytes()).as_bytes(),
            format: "jpeg".into(),
            width: 4000,
            height: 3000,
            bytes: 3_000_000 + rng.next() % 3_000_000,
            ..ImageFacts::default()
        };
        image.taken_at = Some(format!(
            "20{:02}-{:02}-{:02}T12:00:00",
            10 + rng.next() % 15,
            1 + rng.next() % 12,
            1 + rng.next() % 28
        ));
        if i % 5 == 0 {
            let extra = |r: u64| SUBJECTS[(r % SUBJECTS.len() as u64) as usize];
            let text = format!(
                "{}\n{} {}",
                SUBJECTS[subject % SUBJECTS.len()],
                extra(rng.next()),
                extra(rng.next())
            );
            words.insert(image.hash, text.to_uppercase());
        }
        let path = root
            .join(format!("{:03}", i / 1000))
            .join(format!("IMG_{i:06}.jpg"));
        batch.push(Outcome::Indexed {
            file: FileFacts {
                root_id,
                path: path.as_os_str().as_encoded_bytes().to_vec(),
                size: image.bytes,
                mtime_ns: 1_600_000_000_000_000_000,
                inode: i + 1,
                metadata: Default::default(),
            },
            image,
            embedding: Some(near(centre, &mut rng)),
        });
        if batch.len() == 5000 {
            store
                .write_batch(crawl, model_id, std::mem::take(&mut batch))
                .expect("writes");
        }
    }
    store.write_batch(crawl, model_id, batch).expect("writes");
    let ids: Vec<(i64, Vec<u8>)> = {
        let db = rusqlite::Connection::open(data.join("catalog.db")).expect("opens");
        let mut stmt = db.prepare("SELECT id, hash FROM images").expect("prepares");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("reads");
        rows.collect::<Result<_, _>>().expect("reads")
    };
    let records: Vec<trove_engine::catalog::TextRecord> = ids
        .into_iter()
        .filter_map(|(id, hash)| {
            let hash: [u8; 32] = hash.try_into().ok()?;
            Some(trove_engine::catalog::TextRecord {
                image_id: id,
                text: words.remove(&hash)?,
                lines_json: "[]".into(),
            })
        })
        .collect();
    for chunk in records.chunks(5000) {
        store
            .record_text("bench/words@0", chunk)
            .expect("writes words");
    }
}

/// Latency, one request at a time: distinct text queries, similar-to-an-image, and a deep page.
fn latency(
    addr: SocketAddr,
    texts: &[String],
    images: usize,
    queries: usize,
) -> Vec<serde_json::Value> {
    // Every other query asks the vectors only (each subject both ways across the variants):
    // blending's cost, side by side.
    let mut ms_by_kind = [Vec::new(), Vec::new()];
    let mut hits = 0usize;
    for (i, q) in texts.iter().enumerate() {
        let kind = (i + i / SUBJECTS.len()) % 2;
        let asked = if kind == 0 {
            q.clone()
        } else {
            format!("like: {q}")
        };
        let (status, body, ms) =
            get(addr, &format!("/api/search?q={}&limit=60", encode(&asked))).expect("search");
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).expect("json");
        hits += page["hits"].as_array().map_or(0, Vec::len);
        ms_by_kind[kind].push(ms);
    }
    let [blended, vectors] = ms_by_kind;
    let mut results = vec![
        summary(
            "text query, vectors and keywords blended, HTTP in, JSON out (first time asked)",
            blended,
        ),
        summary("text query, vectors only (like: …), same run", vectors),
    ];
    println!(
        "  mean results on the first page: {:.1}",
        hits as f64 / texts.len() as f64
    );
    let mut similar_ms = Vec::new();
    let mut rng = Rng(11);
    for _ in 0..queries {
        let id = 1 + rng.next() % images as u64;
        let (status, body, ms) =
            get(addr, &format!("/api/similar/{id}?limit=60")).expect("similar");
        assert_eq!(status, 200, "{body}");
        similar_ms.push(ms);
    }
    results.push(summary(
        "similar to an image, HTTP in, JSON out",
        similar_ms,
    ));
    let mut deep_ms = Vec::new();
    for q in texts.iter().take(50) {
        let (status, body, ms) = get(
            addr,
            &format!("/api/search?q={}&offset=1200&limit=60", encode(q)),
        )
        .expect("deep page");
        assert_eq!(status, 200, "{body}");
        deep_ms.push(ms);
    }
    results.push(summary("text query, page 21 (offset 1200)", deep_ms));
    results
}

/// `clients` clients search for `load_s` seconds while the server crawls a folder of generated
/// images: errors, latency, requests per second, and how far the crawl got meanwhile.
fn load_while_crawling(
    data: &Path,
    model: &Path,
    work: &Path,
    texts: &[String],
    (clients, load_s): (usize, usize),
) -> serde_json::Value {
    let lib = work.join("to-crawl");
    let count = env_usize("TROVE_BENCH_CRAWL_IMAGES", 2000) as u64;
    trove_models::synth::write_set(
        &lib,
        3,
        trove_models::synth::Split::Test,
        count,
        256,
        trove_models::synth::Output::Png,
        &|_| {},
    )
    .expect("images to crawl");
    let server = start(data, model, Some(&lib));
    wait_ready(server.addr, false);
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let crawling_samples = Arc::new(AtomicU64::new(0));
    let watcher = {
        let stop = stop.clone();
        let crawling = crawling_samples.clone();
        std::thread::spawn(move || {
            let mut seen = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if let Ok((200, body, _)) = get(addr, "/api/status") {
                    let s: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    seen += 1;
                    if s["crawl"]["running"].as_bool() == Some(true) {
                        crawling.fetch_add(1, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            seen
        })
    };
    let t = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let (stop, errors, samples, texts) = (
                stop.clone(),
                errors.clone(),
                samples.clone(),
                texts.to_vec(),
            );
            std::thread::spawn(move || {
                let mut rng = Rng(c as u64 + 100);
                let mut mine = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let q = &texts[(rng.next() % texts.len() as u64) as usize];
                    let offset = 60 * (rng.next() % 3);
                    match get(
                        addr,
                        &format!("/api/search?q={}&offset={offset}&limit=60", encode(q)),
                    ) {
                        Ok((200, _, ms)) => mine.push(ms),
                        Ok(_) | Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                samples.lock().expect("samples").extend(mine);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(load_s as u64));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("client");
    }
    let elapsed = t.elapsed().as_secs_f64();
    let polls = watcher.join().expect("watcher");
    let ms = std::mem::take(&mut *samples.lock().expect("samples"));
    let done = ms.len();
    let mut load = summary(
        &format!("{clients} clients searching while a crawl runs"),
        ms,
    );
    load["errors"] = errors.load(Ordering::Relaxed).into();
    load["requests_per_s"] = (((done as f64 / elapsed) * 10.0).round() / 10.0).into();
    load["crawl_running_share"] =
        (crawling_samples.load(Ordering::Relaxed) as f64 / polls.max(1) as f64).into();
    let after = wait_ready(addr, false);
    println!(
        "  errors {}, {} requests/s; the crawl was running in {:.0}% of status polls; {} of {count} new images embedded by the end of the load",
        load["errors"],
        load["requests_per_s"],
        load["crawl_running_share"].as_f64().unwrap_or(0.0) * 100.0,
        after["crawl"]["embedded"]
    );
    drop(server);
    load
}

fn million(dir: &Path, dim: usize, centres: &[Vec<f32>]) -> serde_json::Value {
    let n = env_usize("TROVE_BENCH_VECTORS", 1_000_000);
    let data = std::env::var("TROVE_BENCH_DATA").unwrap_or_else(|_| "clusters".into());
    let vector = match data.as_str() {
        "clusters" => Data::Clusters,
        "lowrank" => Data::LowRank(
            (0..centres.len() as u64)
                .map(|s| directions(dim, LOW_RANK, 77 + s))
                .collect(),
        ),
        other => panic!("TROVE_BENCH_DATA is clusters or lowrank, not {other}"),
    };
    let draw = Draw {
        vector: &vector,
        centres,
        name: &data,
    };
    let (index, build_s) = built_or_loaded(dir, dim, n, &draw);

    // The truth for the quality queries, by brute force, once.
    let mut rng = Rng(5);
    let queries: Vec<Vec<f32>> = (0..env_usize("TROVE_BENCH_RECALL_QUERIES", 100))
        .map(|_| vector.draw(centres, &mut rng))
        .collect();
    let t = Instant::now();
    let truths: Vec<Vec<Neighbour>> = queries
        .iter()
        .map(|q| index.search_exact(q, 10).expect("exact"))
        .collect();
    println!(
        "  exact search: {:.0} ms a query",
        t.elapsed().as_secs_f64() * 1000.0 / queries.len() as f64
    );

    let breadths: Vec<usize> = std::env::var("TROVE_BENCH_BREADTHS")
        .unwrap_or_else(|_| trove_engine::vectors::EXPANSION_SEARCH.to_string())
        .split(',')
        .map(|b| b.trim().parse().expect("TROVE_BENCH_BREADTHS: numbers"))
        .collect();
    let runs = breadths
        .into_iter()
        .map(|breadth| {
            let mut s = breadth_run(&index, breadth, &draw, &queries, &truths);
            if let Some((b, graph)) = build_s {
                s["build_s"] = b.round().into();
                s["graph"] = describe(graph).into();
            }
            s
        })
        .collect();
    serde_json::Value::Array(runs)
}

/// How the index-only part draws its vectors.
struct Draw<'a> {
    vector: &'a Data,
    centres: &'a [Vec<f32>],
    name: &'a str,
}

/// The index of `n` drawn vectors: loaded from `TROVE_BENCH_INDEX` when that file exists (a
/// relative path is taken from the workspace: cargo runs benches in the package's folder),
/// else built on one thread per core (and kept there when it is set). The build's seconds and
/// graph, when it was built.
fn built_or_loaded(
    dir: &Path,
    dim: usize,
    n: usize,
    draw: &Draw<'_>,
) -> (Arc<VectorIndex>, Option<(f64, Graph)>) {
    let (vector, centres, data) = (draw.vector, draw.centres, draw.name);
    let kept = std::env::var_os("TROVE_BENCH_INDEX").map(|p| workspace().join(p));
    let path = kept.clone().unwrap_or_else(|| dir.join("million.usearch"));
    let t = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    if kept.is_some() && path.is_file() {
        let index = VectorIndex::load(&path, "bench", dim).expect("loads the kept index");
        println!(
            "  loaded {} vectors from {} in {:.0} s",
            index.len(),
            path.display(),
            t.elapsed().as_secs_f64()
        );
        (Arc::new(index), None)
    } else {
        let graph = bench_graph();
        let index = Arc::new(VectorIndex::new(&path, "bench", dim, graph).expect("index"));
        // Drawn before the clock starts: the build time is the index's alone.
        let drawn: Vec<Vec<Vec<f32>>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|w| {
                    s.spawn(move || {
                        let mut rng = Rng(1000 + w as u64);
                        (w..n)
                            .step_by(threads)
                            .map(|_| vector.draw(centres, &mut rng))
                            .collect()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("draws"))
                .collect()
        });
        let t = Instant::now();
        let done = Arc::new(AtomicU64::new(0));
        std::thread::scope(|s| {
            for (w, vectors) in drawn.iter().enumerate() {
                let (index, done) = (index.clone(), done.clone());
                s.spawn(move || {
                    for (i, v) in (w..n).step_by(threads).zip(vectors) {
                        index.add(i as i64 + 1, v).expect("adds");
                        let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if d % 100_000 == 0 {
                            eprintln!("  {d} vectors in {:.0} s", t.elapsed().as_secs_f64());
                        }
                    }
                });
            }
        });
        let build_s = t.elapsed().as_secs_f64();
        println!(
            "  built {n} {data} vectors in {build_s:.0} s on {threads} threads ({})",
            describe(graph)
        );
        if kept.is_some() {
            index.save().expect("saves the index");
        }
        (index, Some((build_s, graph)))
    }
}

/// The graph the index-only part builds: the engine's, or what the environment says.
fn bench_graph() -> Graph {
    let engine = Graph::ENGINE;
    let stored = match std::env::var("TROVE_BENCH_STORED").as_deref() {
        Err(_) => engine.stored,
        Ok("f32") => ScalarKind::F32,
        Ok("f16") => ScalarKind::F16,
        Ok("bf16") => ScalarKind::BF16,
        Ok(other) => panic!("TROVE_BENCH_STORED is f32, f16 or bf16, not {other}"),
    };
    Graph {
        stored,
        links: env_usize("TROVE_BENCH_LINKS", engine.links),
        insert_breadth: env_usize("TROVE_BENCH_INSERT_BREADTH", engine.insert_breadth),
    }
}

fn describe(graph: Graph) -> String {
    let stored = match graph.stored {
        ScalarKind::F32 => "f32",
        ScalarKind::F16 => "f16",
        ScalarKind::BF16 => "bf16",
        _ => "another type",
    };
    let engine = if graph == Graph::ENGINE {
        ", the engine's"
    } else {
        ""
    };
    format!(
        "{} links, inserts {} wide, {stored} vectors{engine}",
        graph.links, graph.insert_breadth
    )
}

/// Latency and quality of HNSW search `breadth` wide, as the engine asks: its first bucket, of
/// which the first ten (and the first page of 60) show. The shortfall is how much less
/// similar the ten shown are, on average, than the true ten: small when a miss only swaps
/// near-ties.
fn breadth_run(
    index: &VectorIndex,
    breadth: usize,
    draw: &Draw<'_>,
    queries: &[Vec<f32>],
    truths: &[Vec<Neighbour>],
) -> serde_json::Value {
    let (vector, centres, data, n) = (draw.vector, draw.centres, draw.name, index.len());
    index.set_search_breadth(breadth);
    let mut ms = Vec::new();
    let mut rng = Rng(9);
    for _ in 0..300 {
        let q = vector.draw(centres, &mut rng);
        let t = Instant::now();
        let hits = index
            .search_hnsw(&q, trove_engine::search::FIRST_BUCKET)
            .expect("search");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(!hits.is_empty());
    }
    let mut s = summary(
        &format!(
            "HNSW search of {n} {data} vectors, k = {} (the engine's first bucket), {breadth} wide",
            trove_engine::search::FIRST_BUCKET
        ),
        ms,
    );
    let (mut at10, mut at60, mut shortfall) = (0usize, 0usize, 0f64);
    for (q, truth) in queries.iter().zip(truths) {
        let approx = index
            .search_hnsw(q, trove_engine::search::FIRST_BUCKET)
            .expect("hnsw");
        let shown = |k: usize| {
            truth
                .iter()
                .filter(|t| approx.iter().take(k).any(|h| h.id == t.id))
                .count()
        };
        at10 += shown(10);
        at60 += shown(60);
        let mean = |hits: &[Neighbour]| {
            hits.iter()
                .take(10)
                .map(|h| f64::from(h.similarity))
                .sum::<f64>()
                / 10.0
        };
        shortfall += mean(truth) - mean(&approx);
    }
    let q = queries.len() as f64;
    let (at10, at60, shortfall) = (
        at10 as f64 / (q * 10.0),
        at60 as f64 / (q * 10.0),
        shortfall / q,
    );
    s["breadth"] = breadth.into();
    s["recall_at_10"] = at10.into();
    s["recall_10_at_60"] = at60.into();
    s["similarity_shortfall"] = shortfall.into();
    s["true_10th_similarity"] = (truths
        .iter()
        .map(|t| f64::from(t[t.len() - 1].similarity))
        .sum::<f64>()
        / q)
        .into();
    println!(
        "  {breadth} wide: recall@10 {at10:.3}, 10@60 {at60:.3}, shortfall {shortfall:.4} over {} queries",
        queries.len()
    );
    s
}

/// How many directions a subject's photos vary along in the `lowrank` data.
const LOW_RANK: usize = 32;

/// The synthetic vectors of the index-only run.
enum Data {
    /// A subject's text embedding plus isotropic noise (512 independent directions: the
    /// hardest case for a graph index, where every neighbour is nearly as far as the next).
    Clusters,
    /// A subject's text embedding plus variation along a few directions of its own, and a
    /// little isotropic noise: structured, as real embeddings are expected to be (not measured
    /// here: no real embeddings at this scale).
    LowRank(Vec<Vec<Vec<f32>>>),
}

impl Data {
    fn draw(&self, centres: &[Vec<f32>], rng: &mut Rng) -> Vec<f32> {
        let s = (rng.next() % centres.len() as u64) as usize;
        match self {
            Data::Clusters => near(&centres[s], rng),
            Data::LowRank(directions) => {
                let mut v: Vec<f32> = centres[s].iter().map(|c| 0.45 * c).collect();
                for d in &directions[s] {
                    let w = rng.normal() / (LOW_RANK as f32).sqrt();
                    v.iter_mut().zip(d).for_each(|(x, d)| *x += w * d);
                }
                let mut noise: Vec<f32> = (0..v.len()).map(|_| rng.normal()).collect();
                normalise(&mut noise);
                v.iter_mut().zip(&noise).for_each(|(x, n)| *x += 0.15 * n);
                normalise(&mut v);
                v
            }
        }
    }
}

/// `count` random unit vectors of width `dim`.
fn directions(dim: usize, count: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|_| {
            let mut v: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
            normalise(&mut v);
            v
        })
        .collect()
}
