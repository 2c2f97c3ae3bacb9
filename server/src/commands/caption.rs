//! `trove caption`: describe picture files with the local captioner (the built-in demo
//! captioner unless `--captioner` names a Florence-2 folder or installed repository).

use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use trove_engine::catalog::Catalog;
use trove_engine::images::ImageFiles;
use trove_engine::media::{self, DecodeLimits};
use trove_engine::model_store::ModelStore;
use trove_engine::DataPaths;
use trove_models::florence2::{Captioner, Task};
use trove_models::Compute;

use crate::cli::CaptionArgs;
use crate::settings::Settings;

/// Pictures are decoded at least this large on their shorter side (the captioner resizes to
/// its own square, 768 for Florence-2): JPEGs decode faster scaled down.
const DECODE_SIDE: u32 = 1024;

/// One picture's answer, as `--json` prints it.
#[derive(Debug, serde::Serialize)]
struct Described {
    file: String,
    task: &'static str,
    text: String,
    seconds: f64,
}

/// A picture's bytes: the file, or, for a number that names no file, the indexed image with
/// that id (its original, read only while it is the file the crawl indexed).
fn read(settings: &Settings, target: &Path) -> anyhow::Result<Vec<u8>> {
    let id = target.to_str().and_then(|t| t.parse::<i64>().ok());
    match id {
        Some(id) if !target.exists() => {
            let paths = DataPaths::new(&settings.data_dir);
            if !paths.catalog.is_file() {
                bail!("no file {id} here, and no catalog to find an image {id} in");
            }
            let catalog = Catalog::open(&paths.catalog)?;
            let files = ImageFiles::new(&paths);
            let Some(mut original) = files.original(&catalog, id)? else {
                bail!("no image {id} in the catalog (or its file changed or went away since it was indexed)");
            };
            let mut bytes = Vec::new();
            original.file.read_to_end(&mut bytes)?;
            Ok(bytes)
        }
        _ => Ok(std::fs::read(target)?),
    }
}

/// Describes each file in turn; a file that cannot be read is reported and the rest go on.
pub fn run(settings: &Settings, args: &CaptionArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(task) = Task::parse(&args.task.replace('-', "_")) else {
        bail!(
            "unknown task {:?}: caption, detailed-caption, more-detailed-caption or ocr",
            args.task
        );
    };
    let store = ModelStore::new(&settings.data_dir);
    let dir = store.resolve_captioner(&args.captioner)?;
    let compute = Compute::select(settings.device.preference())?;
    let captioner = Captioner::load(&dir, &compute)
        .with_context(|| format!("loading the captioner in {}", dir.display()))?;
    let mut settings_for_task = captioner.settings(task);
    if let Some(beams) = args.beams {
        if beams == 0 || beams > 8 {
            bail!("--beams takes 1 to 8");
        }
        settings_for_task.num_beams = beams;
    }
    let mut described = Vec::new();
    let mut failed = 0;
    for file in &args.files {
        let started = Instant::now();
        let result = read(settings, file)
            .and_then(|bytes| Ok(media::decode(&bytes, DECODE_SIDE, DecodeLimits::default())?))
            .and_then(|decoded| {
                let (w, h) = decoded.rgb.dimensions();
                Ok(captioner.run(
                    decoded.rgb.as_raw(),
                    w as usize,
                    h as usize,
                    task,
                    &settings_for_task,
                )?)
            });
        match result {
            Ok(text) => {
                let item = Described {
                    file: file.display().to_string(),
                    task: task.token(),
                    text,
                    seconds: started.elapsed().as_secs_f64(),
                };
                if !args.json {
                    writeln!(out, "{}: {}", item.file, item.text)?;
                }
                described.push(item);
            }
            Err(err) => {
                failed += 1;
                eprintln!("trove: {}: {err:#}", file.display());
            }
        }
    }
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &described)?;
        writeln!(out)?;
    }
    if failed > 0 {
        bail!(
            "{failed} of {} pictures could not be described",
            args.files.len()
        );
    }
    Ok(())
}
