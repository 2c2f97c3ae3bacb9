//! `trove status`: what the catalog holds, the last crawl, and the files that were skipped. With
//! `--json`, the same [`LibraryStatus`] as `GET /api/status` (every skipped file listed).

use std::io::Write;

use app::format::{count, group};
use app::types::LibraryState;
use trove_engine::catalog::Catalog;
use trove_engine::DataPaths;

use crate::services::{blank_status, catalog_status};
use crate::settings::Settings;

/// Skipped files listed in the text output (all of them with --json).
const SHOWN_SKIPS: usize = 20;

/// Prints the catalog's status.
pub fn run(settings: &Settings, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let paths = DataPaths::new(&settings.data_dir);
    // The command reads the catalog without loading the model: nothing is opening.
    let mut status = blank_status(settings.model.clone(), LibraryState::Ready);
    let catalog_exists = paths.catalog.is_file();
    if catalog_exists {
        let catalog = Catalog::open(&paths.catalog)?;
        let shown = if json { usize::MAX >> 1 } else { SHOWN_SKIPS };
        catalog_status(&catalog, &mut status, None, shown)?;
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, &status)?;
        writeln!(out)?;
        return Ok(());
    }
    if !catalog_exists {
        writeln!(
            out,
            "No catalog yet in {}. Index a folder with `trove index <folder>`.",
            paths.root.display()
        )?;
        return Ok(());
    }
    writeln!(out, "Catalog: {}", paths.catalog.display())?;
    for root in &status.roots {
        writeln!(out, "Library: {root}")?;
    }
    for source in Catalog::open(&paths.catalog)?.sources()? {
        let c = source.counts;
        writeln!(
            out,
            "Lightroom catalog: {} ({}, {} matched)",
            source.path.display(),
            count(c.photos, "photo"),
            group(c.photos - c.unmatched)
        )?;
    }
    let c = &status.counts;
    writeln!(
        out,
        "{}, {} distinct, {} embedded with {}, {} skipped.",
        count(c.files, "file"),
        count(c.images, "image"),
        c.embedded,
        status.model,
        c.skipped
    )?;
    if status.text.read > 0 {
        writeln!(
            out,
            "Words read in {} of {} ({} with words).",
            group(status.text.read),
            count(c.images, "image"),
            group(status.text.with_words)
        )?;
    }
    if status.tags.read > 0 {
        writeln!(
            out,
            "Tags given to {} of {}.",
            group(status.tags.with_words),
            count(c.images, "image")
        )?;
    }
    if let Some(note) = &status.tags.note {
        writeln!(out, "No tags yet: {note}.")?;
    }
    if status.captions.with_words > 0 {
        writeln!(
            out,
            "Captions written for {} of {}.",
            group(status.captions.with_words),
            count(c.images, "image")
        )?;
    }
    if let Some(crawl) = &status.last_crawl {
        writeln!(
            out,
            "Last crawl: {} ({} seen, {} embedded, {} skipped, {} removed){}",
            crawl.state.as_str(),
            count(crawl.files_seen, "file"),
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
