//! `trove model list` and `trove model pull`: what a person reads.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use anyhow::Context;
use app::format::human_bytes;
use trove_engine::model_store::{InstalledModel, ModelStore, ModelStoreError, OCR_MODEL};
use trove_engine::text;
use trove_models::eval::evaluate;
use trove_models::tags::eval::calibrate_demo;
use trove_models::{Compute, Embedder};

use crate::cli::ModelAction;
use crate::services::models::model_list;
use crate::settings::Settings;

/// Runs a model subcommand, writing its report to `out`.
pub fn run(settings: &Settings, action: &ModelAction, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ModelStore::new(&settings.data_dir);
    match action {
        ModelAction::List { json: true } => {
            let list = model_list(&store, &settings.model, settings.model_source)?;
            serde_json::to_writer_pretty(&mut *out, &list)?;
            writeln!(out)?;
        }
        ModelAction::List { json: false } => list(&store, settings, out)?,
        ModelAction::Pull { repo } if repo.eq_ignore_ascii_case(OCR_MODEL) => {
            pull_reader(settings, out)?
        }
        ModelAction::Pull { repo } => {
            writeln!(out, "Downloading {repo} into {} …", store.root().display())?;
            let model = store.pull(repo, true).inspect_err(|err| {
                if let Some(hint) = pull_hint(err) {
                    eprintln!("hint: {hint}");
                }
            })?;
            writeln!(out, "Installed {}", line(&model))?;
            writeln!(
                out,
                "Use it with --model {repo} (or model = \"{repo}\" in the config file)."
            )?;
        }
        ModelAction::InstallOcr { folder } => {
            let dir = text::TextReader::install(&settings.data_dir, folder)?;
            writeln!(
                out,
                "Installed the text reader ({OCR_MODEL}) in {}. The next crawl reads the words in every picture.",
                dir.display()
            )?;
        }
        ModelAction::Eval { count, seed, json } => {
            eval(&store, settings, *count, *seed, *json, out)?
        }
        ModelAction::CalibrateTags {
            train,
            count,
            seed,
            write,
        } => calibrate_tags(
            &store,
            settings,
            (*train, *count, *seed),
            write.as_deref(),
            out,
        )?,
    }
    Ok(())
}

/// `trove model pull paddleocr/pp-ocrv4`: the text reader's weights from PyPI (or the mirror in
/// `TROVE_PYPI_URL`), inside RapidOCR's wheel.
fn pull_reader(settings: &Settings, out: &mut dyn Write) -> anyhow::Result<()> {
    let index = std::env::var("TROVE_PYPI_URL").unwrap_or_else(|_| text::DEFAULT_INDEX.into());
    writeln!(
        out,
        "Downloading the text reader ({OCR_MODEL}) from {index}: {} {} …",
        text::PACKAGE,
        text::VERSION
    )?;
    let live = std::io::stderr().is_terminal();
    let dir = text::pull(&settings.data_dir, &index, &|done, total| {
        if live {
            let total = total.map_or_else(|| "?".to_owned(), human_bytes);
            eprint!("\r{} of {total}   ", human_bytes(done));
        }
    });
    if live {
        eprintln!();
    }
    let dir = dir?;
    writeln!(
        out,
        "Installed the text reader ({OCR_MODEL}) in {}, with its licence notice. The next crawl reads the words in every picture.",
        dir.display()
    )?;
    Ok(())
}

/// `trove model calibrate-tags`: the demo vocabulary's thresholds and their precision and
/// recall on held-out generated pictures.
fn calibrate_tags(
    store: &ModelStore,
    settings: &Settings,
    (train, count, seed): (u64, u64, u64),
    write: Option<&std::path::Path>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let dir = store.resolve(&settings.model)?;
    let compute = Compute::select(settings.device.preference())?;
    let model = Embedder::load(&dir, &compute)
        .with_context(|| format!("loading model {}", settings.model))?;
    let started = Instant::now();
    let record = calibrate_demo(
        &model,
        seed,
        usize::try_from(train)?,
        usize::try_from(count)?,
        &|step| {
            eprintln!("{step} …");
        },
    )?;
    let rule = |name: &str, s: &trove_models::tags::eval::Scores| {
        format!(
            "  {name:<32} precision {:.3}  recall {:.3}  ({} tags given, {} true)",
            s.precision, s.recall, s.given, s.truth
        )
    };
    writeln!(
        out,
        "Tags of {} on {} held-out generated pictures (thresholds from {} training pictures, seed {seed}, {:.1} s):",
        settings.model,
        record.held_out,
        record.calibrated_on,
        started.elapsed().as_secs_f64()
    )?;
    writeln!(
        out,
        "{}",
        rule("calibrated (90% target)", &record.calibrated)
    )?;
    writeln!(
        out,
        "{}",
        rule("library rule (no labels)", &record.library_rule)
    )?;
    writeln!(
        out,
        "  {} of {} tags calibrated",
        record.thresholds.len(),
        record.calibrated.per_tag.len()
    )?;
    if let Some(path) = write {
        let json = serde_json::to_string_pretty(&record)? + "\n";
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "Saved to {}", path.display())?;
    }
    Ok(())
}

fn eval(
    store: &ModelStore,
    settings: &Settings,
    count: u64,
    seed: u64,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let dir = store.resolve(&settings.model)?;
    let compute = Compute::select_with(
        settings.device.preference(),
        settings.precision.preference(),
    )?;
    let model = Embedder::load(&dir, &compute)
        .with_context(|| format!("loading model {}", settings.model))?;
    let count = usize::try_from(count)?;
    let started = Instant::now();
    let live = std::io::stderr().is_terminal();
    let report = evaluate(&model, seed, count, &|done| {
        if live {
            eprint!("\rembedding held-out images: {done}/{count}");
        }
    })?;
    if live {
        eprintln!();
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "Model {} ({}, {}-d, {}px) on {}",
        settings.model,
        model.config().family(),
        model.dim(),
        model.config().image_size(),
        compute.describe()
    )?;
    writeln!(
        out,
        "Text-to-image search over {} held-out synthetic images (seed {seed}), {:.1} s:",
        report.images,
        started.elapsed().as_secs_f64()
    )?;
    writeln!(
        out,
        "  {:<18} {:>7}  {:>5}  {:>5}",
        "queries", "count", "R@1", "R@5"
    )?;
    for (name, r) in [
        ("single attribute", &report.single),
        ("compound", &report.compound),
    ] {
        writeln!(
            out,
            "  {name:<18} {:>7}  {:>5.3}  {:>5.3}",
            r.queries, r.at1, r.at5
        )?;
    }
    let c = &report.cutoff;
    writeln!(
        out,
        "Similarity scale: relevant pairs score {:.3} at the median and at least {:.3} for 95% of them \
         (the suggested text cutoff); irrelevant pairs {:.3} at the median, 99% below {:.3}",
        c.relevant_p50, c.relevant_p05, c.irrelevant_p50, c.irrelevant_p99
    )?;
    for (name, r) in [
        ("single attribute", &report.single),
        ("compound", &report.compound),
    ] {
        if !r.misses.is_empty() {
            writeln!(out, "First {name} queries whose top result was wrong:")?;
            for miss in r.misses.iter().take(5) {
                writeln!(out, "  {:?} → {:?}", miss.query, miss.got)?;
            }
        }
    }
    Ok(())
}

fn list(store: &ModelStore, settings: &Settings, out: &mut dyn Write) -> anyhow::Result<()> {
    let models = store.list()?;
    if models.is_empty() {
        writeln!(out, "No models installed in {}.", store.root().display())?;
        writeln!(
            out,
            "Install one with `trove model pull {}` (or google/siglip-base-patch16-224).",
            crate::settings::DEFAULT_MODEL
        )?;
        return Ok(());
    }
    writeln!(out, "Models in {}:", store.root().display())?;
    for model in &models {
        let current = if model.id == settings.model {
            "  (configured)"
        } else {
            ""
        };
        writeln!(out, "  {}{current}", line(model))?;
    }
    Ok(())
}

fn line(model: &InstalledModel) -> String {
    match (&model.problem, &model.family, model.dim, model.image_size) {
        (Some(problem), ..) => format!("{:<40} {problem}", model.id),
        (None, Some(family), Some(dim), Some(size)) => format!(
            "{:<40} {:<7} {dim:>5}-d  {size}px  {:>8}",
            model.id,
            family,
            human_bytes(model.bytes)
        ),
        (None, ..) => format!("{:<40} unreadable", model.id),
    }
}

/// Advice for a failed pull, beyond the error itself.
fn pull_hint(err: &ModelStoreError) -> Option<&'static str> {
    match err {
        ModelStoreError::Download { file, .. } if file == "tokenizer.json" => Some(
            "the repository has no tokenizer.json. SigLIP (v1) repositories ship only spiece.model; \
             SigLIP 2 repositories (e.g. google/siglip2-base-patch16-224) include tokenizer.json.",
        ),
        ModelStoreError::Download { .. } => Some(
            "check the repository id and the network (HF_ENDPOINT selects a mirror, HF_TOKEN authenticates).",
        ),
        ModelStoreError::NotInstalled { .. }
        | ModelStoreError::BadId(_)
        | ModelStoreError::Io { .. }
        | ModelStoreError::Demo { .. }
        | ModelStoreError::Unsupported { .. } => None,
    }
}
