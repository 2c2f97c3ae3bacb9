//! `trove search` and `trove similar`: the query engine from the command line.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::cli::{QueryOptions, SimilarArgs};
use crate::decode::{decode, DecodeLimits};
use crate::library::Library;
use crate::search::{self, Filters, Query};
use crate::store::{path_bytes, ImageDetail, Store};

#[derive(Debug, Serialize)]
struct Row {
    score: f32,
    #[serde(flatten)]
    detail: ImageDetail,
}

/// `trove search "<text>"`.
pub fn search_text(
    library: &Library,
    text: &str,
    opts: &QueryOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let query = Query {
        text: Some(text.to_owned()),
        filters: filters(opts),
        sort: opts.sort,
        ..Query::default()
    };
    run(library, &query, opts, out)
}

/// `trove similar <file or id>`.
pub fn similar(library: &Library, args: &SimilarArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = Store::open(&library.paths.catalog)?;
    let target = args.target.as_str();
    let path = Path::new(target);
    let mut query = Query {
        filters: filters(&args.options),
        sort: args.options.sort,
        ..Query::default()
    };
    if path.is_file() {
        let abs = std::fs::canonicalize(path).with_context(|| format!("reading {target}"))?;
        match store.image_of_path(&path_bytes(&abs))? {
            Some(id) => query.like.push(id),
            None => {
                // Not in the library: embed it like an upload (it is not added).
                let bytes = std::fs::read(&abs).with_context(|| format!("reading {target}"))?;
                let side =
                    u32::try_from(library.embedder.config().image_size()).unwrap_or(u32::MAX);
                let decoded = decode(&bytes, side, DecodeLimits::default())
                    .with_context(|| format!("{target} cannot be used"))?;
                let (w, h) = decoded.rgb.dimensions();
                let pixels = library.embedder.preprocessor().prepare(
                    decoded.rgb.as_raw(),
                    w as usize,
                    h as usize,
                )?;
                query.vector = library.embedder.embed_images(&[pixels])?.pop();
            }
        }
    } else if let Ok(id) = target.parse::<i64>() {
        query.like.push(id);
    } else {
        bail!("{target} is neither a file nor an image id");
    }
    run(library, &query, &args.options, out)
}

fn filters(opts: &QueryOptions) -> Filters {
    Filters {
        folder: opts.folder.as_ref().map(|f| {
            std::fs::canonicalize(f)
                .unwrap_or_else(|_| f.clone())
                .display()
                .to_string()
        }),
        from: opts.from.clone(),
        to: opts.to.clone(),
        camera: opts.camera.clone(),
        format: opts.format.clone(),
    }
}

fn run(
    library: &Library,
    query: &Query,
    opts: &QueryOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let store = Store::open(&library.paths.catalog)?;
    let page = search::search(library, &store, query, opts.offset, opts.limit)?;
    let ids: Vec<i64> = page.hits.iter().map(|h| h.id).collect();
    let details = store.image_details(&ids)?;
    let rows: Vec<Row> = page
        .hits
        .iter()
        .filter_map(|h| {
            let detail = details.iter().find(|d| d.id == h.id)?.clone();
            Some(Row {
                score: h.score,
                detail,
            })
        })
        .collect();
    if opts.json {
        serde_json::to_writer_pretty(
            &mut *out,
            &serde_json::json!({ "results": rows, "next_offset": page.next }),
        )?;
        writeln!(out)?;
        return Ok(());
    }
    if rows.is_empty() {
        writeln!(out, "No relevant images.")?;
        return Ok(());
    }
    for r in &rows {
        let d = &r.detail;
        let when = d
            .facts
            .taken_at
            .as_deref()
            .map(|t| format!(", {t}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{:.3}  #{:<6} {}  ({}×{} {}{when})",
            r.score, d.id, d.path, d.facts.width, d.facts.height, d.facts.format
        )?;
    }
    if let Some(next) = page.next {
        writeln!(out, "More: --offset {next}")?;
    }
    Ok(())
}
