//! `trove index <folder>...`: crawl folders into the catalog with a progress line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};
use app::format::{count, group};
use trove_engine::catalog::{Catalog, CrawlState};
use trove_engine::crawl::{CrawlError, CrawlSummary, Progress, ProgressSnapshot};
use trove_engine::media::DecodeLimits;
use trove_engine::Engine;

use crate::cli::IndexArgs;
use crate::services::wire;
use crate::settings::Settings;

/// Crawls the given folders (or the configured libraries) and prints a summary.
pub fn run(settings: &Settings, args: &IndexArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let roots = roots(settings, args)?;
    let engine = Engine::open(&settings.engine_config())?;
    let limits = DecodeLimits {
        max_pixels: args.max_megapixels.saturating_mul(1_000_000),
        ..DecodeLimits::default()
    };
    if args.read_again {
        let forgotten = Catalog::open(&engine.paths.catalog)?.forget_text()?;
        eprintln!(
            "Forgot the words read in {}; this crawl reads them again.",
            count(forgotten, "picture")
        );
    }
    let live = std::io::stderr().is_terminal() && !args.json;
    let summary = crawl_showing_progress(&engine, &roots, limits, live)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &wire::crawl_summary(&summary))?;
        writeln!(out)?;
        return Ok(());
    }
    print_summary(
        &summary,
        &engine.model,
        [
            engine.reader_note.as_deref(),
            engine.describer_note.as_deref(),
        ],
        out,
    )
}

/// The folders named on the command line, else the configured ones, resolved.
fn roots(settings: &Settings, args: &IndexArgs) -> anyhow::Result<Vec<PathBuf>> {
    let given: &[PathBuf] = if args.folders.is_empty() {
        &settings.libraries
    } else {
        &args.folders
    };
    if given.is_empty() {
        bail!("no folders to index: name them (`trove index ~/Pictures`) or configure libraries with --library or TROVE_LIBRARY");
    }
    let home = crate::settings::Environment::from_process().home;
    crate::settings::check_breadth(given, home.as_deref(), settings.allow_broad_library)?;
    given
        .iter()
        .map(|folder| {
            let root = std::fs::canonicalize(folder)
                .with_context(|| format!("library folder {}", folder.display()))?;
            if !root.is_dir() {
                bail!("{} is not a folder", folder.display());
            }
            Ok(root)
        })
        .collect()
}

/// Runs the crawl, with a progress line on stderr: rewritten five times a second on a
/// terminal (`live`), otherwise printed every ten seconds.
fn crawl_showing_progress(
    engine: &Engine,
    roots: &[PathBuf],
    limits: DecodeLimits,
    live: bool,
) -> Result<CrawlSummary, CrawlError> {
    let progress = Progress::default();
    let stop = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
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
        });
        let summary = engine.crawl(roots, limits, &progress, &stop);
        done.store(true, Ordering::Relaxed);
        summary
    })
}

/// The summary a person reads.
fn print_summary(
    summary: &CrawlSummary,
    model: &str,
    [reader_note, describer_note]: [Option<&str>; 2],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let p = &summary.progress;
    let stopped = if summary.state == CrawlState::Stopped {
        " (stopped before the end)"
    } else {
        ""
    };
    writeln!(
        out,
        "Indexed {} in {:.1} s{stopped}: {} embedded, {} reused (moved or copied), {} unchanged, {} skipped, {} removed.",
        count(p.seen, "image file"), p.elapsed_s, p.embedded, p.reused, p.unchanged, p.skipped, p.removed
    )?;
    if p.embedded > 0 {
        writeln!(out, "Embedding rate: {:.1} images/s with {model}.", p.rate)?;
        if let Some(line) = stage_line(p) {
            writeln!(out, "{line}")?;
        }
    }
    if p.text.read > 0 {
        writeln!(
            out,
            "Read the words in {}: {} with words ({:.1} images/s).",
            count(p.text.read, "image"),
            group(p.text.with_words),
            p.text.rate
        )?;
    }
    if p.tags.read > 0 {
        writeln!(
            out,
            "Tagged {}: {} with tags.",
            count(p.tags.read, "image"),
            group(p.tags.with_words)
        )?;
    }
    if p.captions.read > 0 {
        writeln!(
            out,
            "Captioned {} ({:.2} images/s).",
            count(p.captions.read, "image"),
            p.captions.rate
        )?;
    }
    if let Some(note) = reader_note {
        writeln!(out, "Words in pictures are not read: {note}")?;
    }
    if let Some(note) = describer_note {
        writeln!(out, "Pictures are not captioned: {note}")?;
    }
    for root in &summary.missing_roots {
        writeln!(out, "Not reachable, kept as it was: {}", root.display())?;
    }
    if p.skipped > 0 {
        writeln!(out, "Skipped files and why: `trove status`.")?;
    }
    Ok(())
}

/// One progress line.
pub fn line(p: &ProgressSnapshot) -> String {
    for (c, what, found) in [
        (&p.tags, "tagging", "with tags"),
        (&p.captions, "captioning", "with a caption"),
    ] {
        if let (true, Some((done, total))) = (c.reading, c.preparing) {
            return format!(
                "{what}: first embedding the tag vocabulary, {} / {} prompts (once per model)",
                group(done),
                group(total)
            );
        }
        if c.reading {
            return format!(
                "{what}: {} / {} · {} {found} · {:.1} img/s",
                group(c.read),
                group(c.total),
                group(c.with_words),
                c.rate
            );
        }
    }
    if p.text.reading {
        let t = &p.text;
        return format!(
            "reading text: {} / {} · {} with words · {:.1} img/s",
            group(t.read),
            group(t.total),
            group(t.with_words),
            t.rate
        );
    }
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

/// Where the embedding stage's time went: each stage's working time, and its share of the
/// stage's length (per thread for the decoders); the slowest stage should be near 100 %.
fn stage_line(p: &ProgressSnapshot) -> Option<String> {
    let t = p.stages;
    if t.embedding_s <= 0.0 || p.embedded == 0 {
        return None;
    }
    let share = |busy: f64, threads: u64| 100.0 * busy / (t.embedding_s * threads.max(1) as f64);
    Some(format!(
        "Stages: decoding {:.1} s on {} threads ({:.0} ms an image, busy {:.0} %), the model {:.1} s \
         (busy {:.0} %), writing {:.1} s (busy {:.0} %), over {:.1} s of embedding.",
        t.decode_s,
        t.decoders,
        1e3 * t.decode_s / (p.embedded + p.reused + p.skipped).max(1) as f64,
        share(t.decode_s, t.decoders),
        t.embed_s,
        share(t.embed_s, 1),
        t.write_s,
        share(t.write_s, 1),
        t.embedding_s,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trove_engine::crawl::TextProgress;

    #[test]
    fn the_summary_says_where_the_embedding_time_went() {
        let mut p = ProgressSnapshot {
            embedded: 100,
            ..Default::default()
        };
        assert_eq!(stage_line(&p), None, "no stage without embedding time");
        p.stages = trove_engine::crawl::StageTimes {
            embedding_s: 10.0,
            decoders: 2,
            decode_s: 5.0,
            embed_s: 9.5,
            write_s: 0.2,
        };
        assert_eq!(
            stage_line(&p).as_deref(),
            Some(
                "Stages: decoding 5.0 s on 2 threads (50 ms an image, busy 25 %), the model 9.5 s \
                 (busy 95 %), writing 0.2 s (busy 2 %), over 10.0 s of embedding."
            )
        );
    }

    #[test]
    fn the_tag_pass_says_when_it_is_embedding_its_vocabulary() {
        let mut p = ProgressSnapshot {
            running: true,
            ..Default::default()
        };
        p.tags = TextProgress {
            reading: true,
            preparing: Some((1_200, 32_095)),
            ..Default::default()
        };
        assert_eq!(
            line(&p),
            "tagging: first embedding the tag vocabulary, 1,200 / 32,095 prompts (once per model)"
        );
        p.tags.preparing = None;
        p.tags.total = 500;
        p.tags.read = 20;
        assert!(
            line(&p).starts_with("tagging: 20 / 500 · 0 with tags"),
            "{}",
            line(&p)
        );
    }
}
