//! `trove lightroom`: Lightroom Classic catalogs, read-only. `recover` writes each photo's
//! largest preview as a JPEG.

use std::io::Write;

use anyhow::Context;
use app::format::{count, group};
use trove_engine::lightroom::{self, Lrcat, Previews, Recovered};

use crate::cli::{LightroomAction, LightroomArgs};

/// Runs a `trove lightroom` subcommand.
pub fn run(args: &LightroomArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    match &args.action {
        LightroomAction::Recover {
            catalog,
            out: dir,
            json,
        } => recover(catalog, dir, *json, out),
    }
}

fn recover(
    catalog: &std::path::Path,
    dir: &std::path::Path,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let lr = Lrcat::open(catalog)?;
    let photos = lr.photos()?;
    let previews = Previews::open(catalog)?.with_context(|| {
        format!(
            "{} has no previews folder ({} is missing)",
            catalog.display(),
            lightroom::previews_dir(catalog)
                .join("previews.db")
                .display()
        )
    })?;
    if lr.from_copy && !json {
        writeln!(
            out,
            "Lightroom has this catalog open: reading a copy of it as it is now."
        )?;
    }
    let (mut written, mut cut, mut skipped) = (0u64, 0u64, 0u64);
    let mut failed = None;
    let result = lightroom::recover(&photos, &previews, dir, &mut |photo, r| {
        let line = match r {
            Recovered::Written {
                file,
                size,
                truncated,
            } => {
                written += 1;
                cut += u64::from(*truncated);
                if json {
                    serde_json::json!({
                        "original": photo.path, "written": file, "size": size,
                        "truncated": truncated,
                    })
                    .to_string()
                } else {
                    let size = size.map_or(String::new(), |(w, h)| format!(" ({w}×{h})"));
                    let note = if *truncated {
                        ", from a truncated preview: a smaller level"
                    } else {
                        ""
                    };
                    format!("{} → {}{size}{note}", photo.path.display(), file.display())
                }
            }
            Recovered::Skipped(why) => {
                skipped += 1;
                if json {
                    serde_json::json!({"original": photo.path, "skipped": why}).to_string()
                } else {
                    format!("{}: not recovered: {why}", photo.path.display())
                }
            }
        };
        if let Err(e) = writeln!(out, "{line}") {
            failed.get_or_insert(e);
        }
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    result?;
    if !json {
        writeln!(
            out,
            "Recovered {} of {} into {} ({} from truncated previews, {} without a preview).",
            group(written),
            count(photos.len() as u64, "photo"),
            dir.display(),
            group(cut),
            group(skipped)
        )?;
    }
    Ok(())
}
