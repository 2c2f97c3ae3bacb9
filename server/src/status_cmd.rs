//! `trove status`: what the catalog holds, the last crawl, and the files that were skipped.

use std::io::Write;

use serde::Serialize;

use crate::library::DataPaths;
use crate::settings::Settings;
use crate::store::{Counts, CrawlRecord, SkippedFile, Store};

/// Skipped files listed in the text output (all of them with --json).
const SHOWN_SKIPS: usize = 20;

#[derive(Debug, Serialize)]
struct Status {
    data_dir: String,
    model: String,
    roots: Vec<String>,
    counts: Counts,
    last_crawl: Option<CrawlRecord>,
    skipped: Vec<SkippedFile>,
}

/// Prints the catalog's status.
pub fn run(settings: &Settings, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let paths = DataPaths::new(&settings.data_dir);
    if !paths.catalog.is_file() {
        if json {
            writeln!(
                out,
                "{}",
                serde_json::json!({"data_dir": paths.root, "catalog": null})
            )?;
        } else {
            writeln!(
                out,
                "No catalog yet in {}. Index a folder with `trove index <folder>`.",
                paths.root.display()
            )?;
        }
        return Ok(());
    }
    let store = Store::open(&paths.catalog)?;
    let model_id = store.model_id(&settings.model)?;
    let status = Status {
        data_dir: paths.root.display().to_string(),
        model: settings.model.clone(),
        roots: store
            .roots()?
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        counts: store.counts(model_id)?,
        last_crawl: store.last_crawl()?,
        skipped: store.skipped(if json { usize::MAX >> 1 } else { SHOWN_SKIPS })?,
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &status)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "Catalog: {}", paths.catalog.display())?;
    for root in &status.roots {
        writeln!(out, "Library: {root}")?;
    }
    let c = &status.counts;
    writeln!(
        out,
        "{} files, {} distinct images, {} embedded with {}, {} skipped.",
        c.files, c.images, c.embedded, status.model, c.skipped
    )?;
    if let Some(crawl) = &status.last_crawl {
        writeln!(
            out,
            "Last crawl: {} ({} files seen, {} embedded, {} skipped, {} removed){}",
            crawl.state,
            crawl.files_seen,
            crawl.embedded,
            crawl.skipped,
            crawl.removed,
            crawl
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )?;
    }
    if !status.skipped.is_empty() {
        writeln!(out, "Skipped:")?;
        for s in &status.skipped {
            writeln!(out, "  {}: {}", s.path, s.reason)?;
        }
        if c.skipped as usize > status.skipped.len() {
            writeln!(
                out,
                "  … and {} more (`trove status --json` lists all).",
                c.skipped as usize - status.skipped.len()
            )?;
        }
    }
    Ok(())
}
