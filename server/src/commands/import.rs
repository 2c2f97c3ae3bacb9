//! `trove import`: what photographers' catalogs say about the photos (Lightroom Classic),
//! copied into Trove's catalog read-only; `list` and `remove` manage what was imported.

use std::io::Write;

use anyhow::bail;
use app::format::{count, group};
use trove_engine::catalog::{Catalog, ImportCounts};
use trove_engine::{apple_photos, lightroom, DataPaths};

use crate::cli::{ImportAction, ImportArgs};
use crate::settings::Settings;

/// Runs a `trove import` subcommand.
pub fn run(settings: &Settings, args: &ImportArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let paths = DataPaths::new(&settings.data_dir);
    match &args.action {
        ImportAction::Lightroom { catalog, json } => {
            let mut trove = Catalog::open(&paths.catalog)?;
            let done = lightroom::import(&mut trove, catalog, &paths.stand_ins)?;
            if *json {
                let c = &done.counts;
                serde_json::to_writer_pretty(
                    &mut *out,
                    &serde_json::json!({
                        "catalog": done.catalog, "version": done.version,
                        "from_copy": done.from_copy, "photos": c.photos,
                        "matched_by_path": c.by_path, "matched_by_name_and_date": c.by_name,
                        "matched_by_preview": c.by_preview, "unmatched": c.unmatched,
                        "originals_missing": done.originals_missing,
                    }),
                )?;
                writeln!(out)?;
                return Ok(());
            }
            if done.from_copy {
                writeln!(
                    out,
                    "Lightroom has this catalog open: imported a copy of it as it is now."
                )?;
            }
            writeln!(
                out,
                "Imported {} (Lightroom catalog version {}).",
                done.catalog.display(),
                if done.version.is_empty() {
                    "unknown"
                } else {
                    &done.version
                }
            )?;
            summary(&done.counts, out)?;
            if done.originals_missing > 0 {
                let n = done.originals_missing;
                writeln!(
                    out,
                    "{} {} not where the catalog says (offline or lost): Lightroom's previews of them stand in (the next `trove index` indexes them), and `trove lightroom recover` writes them out as JPEGs.",
                    group(n),
                    if n == 1 { "original is" } else { "originals are" }
                )?;
            }
            if done.counts.unmatched > 0 {
                writeln!(
                    out,
                    "Photos not indexed yet get their keywords as soon as `trove index` indexes their folders."
                )?;
            }
        }
        ImportAction::Photos { library, json } => {
            let mut trove = Catalog::open(&paths.catalog)?;
            let done = apple_photos::import(&mut trove, library, &paths.stand_ins)?;
            let c = &done.counts;
            if *json {
                serde_json::to_writer_pretty(
                    &mut *out,
                    &serde_json::json!({
                        "library": done.library, "version": done.version,
                        "release": done.release, "photos": c.photos,
                        "matched_by_path": c.by_path, "matched_by_preview": c.by_preview,
                        "unmatched": c.unmatched, "originals_missing": done.originals_missing,
                        "stand_ins": done.stand_ins,
                    }),
                )?;
                writeln!(out)?;
                return Ok(());
            }
            writeln!(
                out,
                "Imported {} ({}).",
                done.library.display(),
                done.release.map_or_else(
                    || format!(
                        "Photos model version {}, newer than Trove has been checked against",
                        done.version
                    ),
                    str::to_owned
                )
            )?;
            summary(c, out)?;
            if done.originals_missing > 0 {
                writeln!(
                    out,
                    "{} {} only in iCloud; for {} of them the library's largest preview stands in (the next `trove index` indexes it).",
                    group(done.originals_missing),
                    if done.originals_missing == 1 { "original is" } else { "originals are" },
                    group(done.stand_ins)
                )?;
            }
            if c.unmatched > 0 {
                writeln!(
                    out,
                    "Index the library's pictures to match the rest: trove index '{}'",
                    apple_photos::originals(&done.library).display()
                )?;
            }
        }
        ImportAction::List { json } => {
            let sources = if paths.catalog.is_file() {
                Catalog::open(&paths.catalog)?.sources()?
            } else {
                Vec::new()
            };
            if *json {
                let list: Vec<_> = sources
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "kind": s.kind, "catalog": s.path, "version": s.version,
                            "imported_at": s.imported_at, "photos": s.counts.photos,
                            "matched_by_path": s.counts.by_path,
                            "matched_by_name_and_date": s.counts.by_name,
                            "unmatched": s.counts.unmatched,
                        })
                    })
                    .collect();
                serde_json::to_writer_pretty(&mut *out, &list)?;
                writeln!(out)?;
                return Ok(());
            }
            if sources.is_empty() {
                writeln!(
                    out,
                    "No catalogs imported. `trove import lightroom CATALOG.lrcat` imports one."
                )?;
            }
            for s in &sources {
                writeln!(out, "{} ({}):", s.path.display(), s.kind)?;
                summary(&s.counts, out)?;
            }
        }
        ImportAction::Remove { catalog } => {
            let mut trove = Catalog::open(&paths.catalog)?;
            let key = std::fs::canonicalize(catalog).unwrap_or_else(|_| catalog.clone());
            if !trove.remove_source(&key)? && !trove.remove_source(catalog)? {
                bail!(
                    "{} was not imported (`trove import list` shows what was)",
                    catalog.display()
                );
            }
            for k in [&key, catalog] {
                trove_engine::paths::remove_stand_ins(&paths.stand_ins, k)?;
            }
            writeln!(
                out,
                "Forgot {} and what it brought; the catalog itself is untouched.",
                catalog.display()
            )?;
        }
    }
    Ok(())
}

fn summary(c: &ImportCounts, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "  {}: {} matched by path, {} by file name and capture time (moved folders), {} not indexed.",
        count(c.photos, "photo"),
        group(c.by_path),
        group(c.by_name),
        group(c.unmatched)
    )
}
