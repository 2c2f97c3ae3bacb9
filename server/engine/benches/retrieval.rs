//! What reading the words adds to search: on generated memes whose words and scenes are known
//! (`bench/make_memes.py`), the real engine crawls the pictures with the demo model and the
//! PP-OCRv4 reader, then answers each picture's text query ("monday again", a line printed on
//! it) and each scene query ("red circles on a blue background") three ways: the vectors alone
//! (`like:`), vectors and keywords fused by reciprocal rank (what every query does), and the
//! calibrated score blend. Run by `bench/retrieval.sh`, which makes the pictures.
//!
//! ```sh
//! TROVE_BENCH_MEMES=/abs/memes TROVE_OCR_MODELS=/abs/pp-ocrv4 cargo bench -p trove-engine --bench retrieval --profile dev
//! ```
//!
//! First it crawls the pictures four times, the reader off and on in turn, each into a fresh
//! data directory, and prints the embedding rate with and without it (the text pass follows
//! embedding, so the rates should match); `TROVE_BENCH_RATE=0` crawls once, with the reader.
//!
//! Text queries: R@1, R@5 and MRR of the picture the line was taken from (among pictures
//! that print the same line, the first counts). Scene queries: precision of the first 10 and
//! the first 50 against every picture of that scene.
//!
//! Then the same over the demo library (300 generated pictures the demo model knows how to
//! see): shape queries ("a green triangle", descriptive) and printed-word queries ("a sign that
//! says coffee", "a meme that says pizza"), each against every picture that answers it:
//! precision of the first 10 (of as many as there are, when fewer) and average precision.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use trove_engine::catalog::Catalog;
use trove_engine::crawl::Progress;
use trove_engine::media::DecodeLimits;
use trove_engine::search::{search, Fusion, Query};
use trove_engine::text::TextReader;
use trove_engine::{Engine, EngineConfig};
use trove_models::demo::DEMO_MODEL;
use trove_models::{DevicePreference, PrecisionPreference};

#[derive(serde::Deserialize)]
struct Entry {
    file: String,
    text_query: Option<String>,
    scene_query: String,
}

/// One way of answering.
#[derive(Clone, Copy)]
struct Way {
    name: &'static str,
    prefix: &'static str,
    fusion: Fusion,
}

const WAYS: [Way; 3] = [
    Way {
        name: "vectors alone",
        prefix: "like: ",
        fusion: Fusion::Rrf,
    },
    Way {
        name: "blended (RRF)",
        prefix: "",
        fusion: Fusion::Rrf,
    },
    Way {
        name: "blended (score blend)",
        prefix: "",
        fusion: Fusion::Scores,
    },
];

/// The ids `engine` answers `text` with, the `way` asked, at most `depth`.
fn ranked(engine: &Engine, catalog: &Catalog, text: &str, way: Way, depth: usize) -> Vec<i64> {
    let query = Query {
        text: Some(format!("{}{text}", way.prefix)),
        fusion: way.fusion,
        ..Query::default()
    };
    search(engine, catalog, &query, 0, depth)
        .expect("searches")
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect()
}

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(name).unwrap_or_else(|| panic!("set {name}")))
}

fn main() {
    let memes = env_path("TROVE_BENCH_MEMES");
    let weights = env_path("TROVE_OCR_MODELS");
    let entries: Vec<Entry> = serde_json::from_slice(
        &std::fs::read(memes.join("queries.json")).expect("reads queries.json"),
    )
    .expect("parses queries.json");
    // Embedding with the reader on and off, twice each in turn, each into a fresh data
    // directory: the rate until embedding is done (the text pass follows it).
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut kept = None;
    // TROVE_BENCH_RATE=0 skips the rate: one crawl, with the reader.
    let rate = std::env::var("TROVE_BENCH_RATE").as_deref() != Ok("0");
    let first = if rate { 0 } else { 3 };
    for round in first..4 {
        let read_text = round % 2 == 1;
        let data = tempfile::tempdir().expect("temp dir");
        if read_text {
            TextReader::install(data.path(), &weights).expect("installs the reader");
        }
        let engine = Engine::open(&EngineConfig {
            data_dir: data.path().to_path_buf(),
            model: DEMO_MODEL.into(),
            device: DevicePreference::Cpu,
            precision: PrecisionPreference::Auto,
            read_text,
            captions: trove_engine::describe::CaptionChoice::Off,
            captioner: None,
        })
        .expect("opens the engine");
        let started = std::time::Instant::now();
        let summary = engine
            .crawl(
                std::slice::from_ref(&memes),
                DecodeLimits::default(),
                &Progress::default(),
                &AtomicBool::new(false),
            )
            .expect("crawls");
        eprintln!(
            "crawl {}: {} embedded at {:.1} images/s, {} with words read, {:.0} s in all",
            round + 1,
            summary.progress.embedded,
            summary.progress.rate,
            summary.progress.text.with_words,
            started.elapsed().as_secs_f64()
        );
        rates[usize::from(read_text)].push(summary.progress.rate);
        if read_text {
            kept = Some((engine, data));
        }
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (off, on) = (best(&rates[0]), best(&rates[1]));
    if rate {
        println!(
            "embedding rate until embedding is done (best of two): reader off {off:.1} images/s, reader on {on:.1} images/s -> {:.2}",
            on / off
        );
    }
    let (engine, _data) = kept.expect("a crawl with the reader");
    let catalog = Catalog::open(&engine.paths.catalog).expect("opens the catalog");
    let root = std::fs::canonicalize(&memes).expect("the folder");
    let id_of: HashMap<String, i64> = entries
        .iter()
        .filter_map(|e| {
            let path = root.join(&e.file);
            let id = catalog
                .image_of_path(path.as_os_str().as_encoded_bytes())
                .ok()
                .flatten()?;
            Some((e.file.clone(), id))
        })
        .collect();
    let answer = |text: &str, way: Way, depth: usize| ranked(&engine, &catalog, text, way, depth);

    // Text queries: where the picture the line came from lands.
    let texts: Vec<(&str, Vec<i64>)> = entries
        .iter()
        .filter_map(|e| {
            let q = e.text_query.as_deref()?;
            // Every picture that prints this line is a right answer.
            let same: Vec<i64> = entries
                .iter()
                .filter(|o| o.text_query.as_deref() == Some(q))
                .filter_map(|o| id_of.get(&o.file).copied())
                .collect();
            Some((q, same))
        })
        .collect();
    let mut scenes: Vec<(&str, Vec<i64>)> = Vec::new();
    for e in &entries {
        if !scenes.iter().any(|(s, _)| *s == e.scene_query) {
            let all = entries
                .iter()
                .filter(|o| o.scene_query == e.scene_query)
                .filter_map(|o| id_of.get(&o.file).copied())
                .collect();
            scenes.push((&e.scene_query, all));
        }
    }
    println!(
        "{} text queries, {} scene queries over {} pictures (demo model, PP-OCRv4 reader)",
        texts.len(),
        scenes.len(),
        id_of.len()
    );
    println!("| | text R@1 | text R@5 | text MRR | scene P@10 | scene P@50 |");
    println!("|---|---|---|---|---|---|");
    let mut json = Vec::new();
    for way in WAYS {
        let (mut r1, mut r5, mut mrr) = (0.0, 0.0, 0.0);
        for (q, right) in &texts {
            let got = answer(q, way, 20);
            if let Some(rank) = got.iter().position(|id| right.contains(id)) {
                mrr += 1.0 / (rank as f64 + 1.0);
                r1 += f64::from(u8::from(rank == 0));
                r5 += f64::from(u8::from(rank < 5));
            }
        }
        let n = texts.len().max(1) as f64;
        let (mut p10, mut p50) = (0.0, 0.0);
        for (q, right) in &scenes {
            let got = answer(q, way, 50);
            let hits = |k: usize| got.iter().take(k).filter(|id| right.contains(id)).count() as f64;
            p10 += hits(10) / 10.0;
            p50 += hits(50) / 50.0;
        }
        let m = scenes.len().max(1) as f64;
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            way.name,
            r1 / n,
            r5 / n,
            mrr / n,
            p10 / m,
            p50 / m
        );
        json.push(serde_json::json!({
            "way": way.name, "text_r1": r1 / n, "text_r5": r5 / n, "text_mrr": mrr / n,
            "scene_p10": p10 / m, "scene_p50": p50 / m,
        }));
    }
    // The demo library: the demo model's own domain, where its vectors work, so a descriptive
    // query has something to lose.
    // In its own data directory: nothing of the memes set mixes in.
    let demo = tempfile::tempdir().expect("temp dir");
    trove_models::synth::write_set(
        demo.path(),
        0,
        trove_models::synth::Split::Test,
        300,
        trove_models::synth::DEFAULT_SIZE,
        trove_models::synth::Output::Png,
        &|_| {},
    )
    .expect("writes the demo library");
    let demo_data = tempfile::tempdir().expect("temp dir");
    TextReader::install(demo_data.path(), &weights).expect("installs the reader");
    let engine = Engine::open(&EngineConfig {
        data_dir: demo_data.path().to_path_buf(),
        model: DEMO_MODEL.into(),
        device: DevicePreference::Cpu,
        precision: PrecisionPreference::Auto,
        read_text: true,
        captions: trove_engine::describe::CaptionChoice::Off,
        captioner: None,
    })
    .expect("opens the engine");
    engine
        .crawl(
            &[demo.path().to_path_buf()],
            DecodeLimits::default(),
            &Progress::default(),
            &AtomicBool::new(false),
        )
        .expect("crawls");
    let catalog = Catalog::open(&engine.paths.catalog).expect("opens the catalog");
    let answer = |text: &str, way: Way, depth: usize| ranked(&engine, &catalog, text, way, depth);
    let root = std::fs::canonicalize(demo.path()).expect("the folder");
    let scenes: Vec<(i64, trove_models::synth::Scene)> = (0..300u64)
        .filter_map(|i| {
            let path = root.join(format!("{i:06}.png"));
            let id = catalog
                .image_of_path(path.as_os_str().as_encoded_bytes())
                .ok()
                .flatten()?;
            let scene =
                trove_models::synth::generate(0, trove_models::synth::Split::Test, i, 8).scene;
            Some((id, scene))
        })
        .collect();
    let mut shapes: Vec<(String, Vec<i64>)> = Vec::new();
    let mut printed: Vec<(String, Vec<i64>)> = Vec::new();
    for q in trove_models::synth::Query::single_attribute() {
        let right: Vec<i64> = scenes
            .iter()
            .filter(|(_, s)| q.matches(s))
            .map(|(id, _)| *id)
            .collect();
        if right.is_empty() {
            continue;
        }
        match q {
            trove_models::synth::Query::Objects { .. } => shapes.push((q.text(), right)),
            trove_models::synth::Query::Sign { .. } | trove_models::synth::Query::Meme { .. } => {
                printed.push((q.text(), right))
            }
        }
    }
    println!();
    println!(
        "the demo library ({} pictures): {} shape queries (\"a green triangle\"), {} printed-word queries (\"a sign that says coffee\")",
        scenes.len(),
        shapes.len(),
        printed.len()
    );
    println!("| | shapes P@10 | shapes AP | printed words P@10 | printed words AP |");
    println!("|---|---|---|---|---|");
    let measure = |queries: &[(String, Vec<i64>)], way: Way| {
        let (mut p10, mut ap) = (0.0, 0.0);
        for (q, right) in queries {
            let got = answer(q, way, 100);
            let k = right.len().clamp(1, 10) as f64;
            p10 += got.iter().take(10).filter(|id| right.contains(id)).count() as f64 / k;
            let (mut found, mut sum) = (0.0, 0.0);
            for (rank, id) in got.iter().enumerate() {
                if right.contains(id) {
                    found += 1.0;
                    sum += found / (rank as f64 + 1.0);
                }
            }
            ap += sum / right.len() as f64;
        }
        let n = queries.len().max(1) as f64;
        (p10 / n, ap / n)
    };
    for way in WAYS {
        let (sp, sa) = measure(&shapes, way);
        let (wp, wa) = measure(&printed, way);
        println!("| {} | {sp:.3} | {sa:.3} | {wp:.3} | {wa:.3} |", way.name);
        json.push(serde_json::json!({
            "way": way.name, "set": "demo library",
            "shapes_p10": sp, "shapes_ap": sa, "printed_p10": wp, "printed_ap": wa,
        }));
    }
    println!("{}", serde_json::Value::Array(json));
}
