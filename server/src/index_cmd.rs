//! `trove index <folder>...`: crawl folders into the catalog with a progress line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::cli::IndexArgs;
use crate::decode::DecodeLimits;
use crate::ingest::{Progress, ProgressSnapshot};
use crate::library::Library;
use crate::settings::Settings;

/// Crawls the given folders (or the configured libraries) and prints a summary.
pub fn run(settings: &Settings, args: &IndexArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let given: Vec<PathBuf> = if args.folders.is_empty() {
        settings.libraries.clone()
    } else {
        args.folders.clone()
    };
    if given.is_empty() {
        bail!("no folders to index: name them (`trove index ~/Pictures`) or configure libraries with --library or TROVE_LIBRARY");
    }
    let mut roots = Vec::with_capacity(given.len());
    for folder in &given {
        let root = std::fs::canonicalize(folder)
            .with_context(|| format!("library folder {}", folder.display()))?;
        if !root.is_dir() {
            bail!("{} is not a folder", folder.display());
        }
        roots.push(root);
    }
    let library = Library::open(settings)?;
    let limits = DecodeLimits {
        max_pixels: args.max_megapixels.saturating_mul(1_000_000),
        ..DecodeLimits::default()
    };
    let progress = Arc::new(Progress::default());
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (progress, done) = (progress.clone(), done.clone());
        let live = std::io::stderr().is_terminal() && !args.json;
        std::thread::spawn(move || {
            let mut ticks = 0u32;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                ticks += 1;
                let snap = progress.snapshot();
                if live {
                    eprint!("\r\x1b[2K{}", line(&snap));
                } else if ticks.is_multiple_of(50) {
                    eprintln!("{}", line(&snap));
                }
            }
            if live {
                eprint!("\r\x1b[2K");
            }
        })
    };
    let summary = library.crawl(&roots, limits, &progress, &stop);
    done.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    let summary = summary?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &summary)?;
        writeln!(out)?;
        return Ok(());
    }
    let p = &summary.progress;
    writeln!(
        out,
        "Indexed {} image files in {:.1} s: {} embedded, {} reused (moved or copied), {} unchanged, {} skipped, {} removed.",
        p.seen, p.elapsed_s, p.embedded, p.reused, p.unchanged, p.skipped, p.removed
    )?;
    if p.embedded > 0 {
        writeln!(
            out,
            "Embedding rate: {:.1} images/s with {}.",
            p.rate, library.model
        )?;
    }
    for root in &summary.missing_roots {
        writeln!(out, "Not reachable, kept as it was: {root}")?;
    }
    if p.skipped > 0 {
        writeln!(out, "Skipped files and why: `trove status`.")?;
    }
    Ok(())
}

/// One progress line.
pub fn line(p: &ProgressSnapshot) -> String {
    let eta = p.eta_s.map_or_else(
        || "ETA …".to_owned(),
        |s| format!("ETA {}:{:02}", (s as u64) / 60, (s as u64) % 60),
    );
    format!(
        "indexing: {} found{} · {} embedded · {} reused · {} unchanged · {} skipped · {:.1} img/s · {eta}",
        p.seen,
        if p.walked { "" } else { " so far" },
        p.embedded,
        p.reused,
        p.unchanged,
        p.skipped,
        p.rate
    )
}
