//! Helpers: an engine over a temporary data directory, and photo-like test images.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use trove_engine::crawl::{CrawlSummary, Progress};
use trove_engine::media::DecodeLimits;
use trove_engine::{Engine, EngineConfig};
use trove_models::demo::DEMO_MODEL;
use trove_models::{DevicePreference, PrecisionPreference};

/// The demo model opened over `data` on the CPU.
pub fn engine(data: &Path) -> Engine {
    Engine::open(&EngineConfig {
        data_dir: data.to_path_buf(),
        model: DEMO_MODEL.into(),
        device: DevicePreference::Cpu,
        precision: PrecisionPreference::Auto,
        read_text: false,
        captions: trove_engine::describe::CaptionChoice::Off,
        captioner: None,
    })
    .expect("the engine opens")
}

/// Crawls `roots` to the end.
pub fn crawl(engine: &Engine, roots: &[PathBuf]) -> CrawlSummary {
    engine
        .crawl(
            roots,
            DecodeLimits::default(),
            &Progress::default(),
            &AtomicBool::new(false),
        )
        .expect("the crawl runs")
}

/// One crawl of the single root `root` to the end.
pub fn crawl_root(engine: &Engine, root: &Path) -> CrawlSummary {
    crawl(engine, &[root.to_path_buf()])
}

/// A `w`×`h` JPEG with detail at every scale (gradients, stripes and a disc), so that decoding
/// it at another scale gives other pixels.
pub fn photo_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let stripe = if (x / 3 + y / 5) % 2 == 0 { 40 } else { 0 };
        let (dx, dy) = (fx - 0.6, fy - 0.4);
        let disc = if dx * dx + dy * dy < 0.04 { 120 } else { 0 };
        image::Rgb([
            (fx * 200.0) as u8 + stripe,
            (fy * 180.0) as u8 + disc / 2,
            ((1.0 - fx) * 150.0) as u8 + disc,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .expect("encodes");
    out.into_inner()
}
