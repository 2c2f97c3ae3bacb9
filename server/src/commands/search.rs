//! `trove search` and `trove similar`: the query engine from the command line. With `--json`,
//! the same [`SearchPage`] as `GET /api/search`.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use app::types::SearchPage;
use trove_engine::catalog::{path_bytes, Catalog, Filters};
use trove_engine::media::DecodeLimits;
use trove_engine::search::Query;
use trove_engine::Engine;

use crate::cli::{QueryOptions, SimilarArgs};
use crate::services::search::query_page;

/// `trove search "<text>"`.
pub fn search_text(
    engine: &Engine,
    text: &str,
    opts: &QueryOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let query = Query {
        text: Some(text.to_owned()),
        filters: filters(opts),
        sort: opts.sort.into(),
        ..Query::default()
    };
    run(engine, &query, opts, out)
}

/// `trove similar <file or id>`: an indexed image by id or path, or any image file, which is
/// embedded exactly as the crawl would embed it (and not added to the library).
pub fn similar(engine: &Engine, args: &SimilarArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let catalog = Catalog::open(&engine.paths.catalog)?;
    let target = args.target.as_str();
    let path = Path::new(target);
    let mut query = Query {
        filters: filters(&args.options),
        sort: args.options.sort.into(),
        ..Query::default()
    };
    if path.is_file() {
        let abs = std::fs::canonicalize(path).with_context(|| format!("reading {target}"))?;
        match catalog.image_of_path(&path_bytes(&abs))? {
            Some(id) => query.like.push(id),
            None => {
                let bytes = std::fs::read(&abs).with_context(|| format!("reading {target}"))?;
                let embedded = engine
                    .embed_image(&bytes, DecodeLimits::default())
                    .with_context(|| format!("{target} cannot be used"))?;
                query.vector = Some(embedded.vector);
            }
        }
    } else if let Ok(id) = target.parse::<i64>() {
        query.like.push(id);
    } else {
        bail!("{target} is neither a file nor an image id");
    }
    run(engine, &query, &args.options, out)
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
        ..Filters::default()
    }
}

fn run(
    engine: &Engine,
    query: &Query,
    opts: &QueryOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let catalog = Catalog::open(&engine.paths.catalog)?;
    let page = query_page(engine, &catalog, query, opts.offset, opts.limit)?;
    if opts.json {
        serde_json::to_writer_pretty(&mut *out, &page)?;
        writeln!(out)?;
        return Ok(());
    }
    print_page(&page, out)
}

/// Spans with the matched parts in brackets: `[MONDAY] again`.
fn bracketed(spans: &[app::types::Span]) -> String {
    spans
        .iter()
        .map(|s| {
            if s.hit {
                format!("[{}]", s.text)
            } else {
                s.text.clone()
            }
        })
        .collect()
}

fn print_page(page: &SearchPage, out: &mut dyn Write) -> anyhow::Result<()> {
    if page.hits.is_empty() {
        writeln!(out, "No relevant images.")?;
        return Ok(());
    }
    for h in &page.hits {
        let when = h
            .taken_at
            .as_deref()
            .map(|t| format!(", {t}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{:.3}  #{:<6} {}  ({}×{} {}{when})",
            h.score, h.id, h.path, h.width, h.height, h.format
        )?;
        for (label, spans) in [
            ("says", &h.why.words),
            ("name", &h.why.name),
            ("facts", &h.why.facts),
        ] {
            if !spans.is_empty() {
                writeln!(out, "       {label}: {}", bracketed(spans))?;
            }
        }
    }
    if let Some(next) = page.next_offset {
        writeln!(out, "More: --offset {next}")?;
    }
    Ok(())
}
