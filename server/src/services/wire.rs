//! The engine's values as wire types ([`app::types`]): the one place they are converted, for
//! the JSON API, the server functions and the command line's `--json` alike.

use app::types as wire;
use trove_engine::catalog::{self, CrawlRecord, Filters, ImageDetail};
use trove_engine::crawl::{CrawlSummary, ProgressSnapshot};
use trove_engine::model_store::InstalledModel;
use trove_engine::search::Hit;

/// A crawl state.
pub fn crawl_state(state: catalog::CrawlState) -> wire::CrawlState {
    match state {
        catalog::CrawlState::Running => wire::CrawlState::Running,
        catalog::CrawlState::Done => wire::CrawlState::Done,
        catalog::CrawlState::Stopped => wire::CrawlState::Stopped,
        catalog::CrawlState::Failed => wire::CrawlState::Failed,
        catalog::CrawlState::Interrupted => wire::CrawlState::Interrupted,
    }
}

/// A crawl's record.
pub fn crawl_record(r: &CrawlRecord) -> wire::CrawlRecord {
    wire::CrawlRecord {
        id: r.id,
        state: crawl_state(r.state),
        started_at: r.started_at,
        finished_at: r.finished_at,
        files_seen: r.counts.files_seen,
        embedded: r.counts.embedded,
        skipped: r.counts.skipped,
        removed: r.counts.removed,
        message: r.message.clone(),
    }
}

/// Crawl progress.
pub fn progress(p: &ProgressSnapshot) -> wire::CrawlProgress {
    wire::CrawlProgress {
        running: p.running,
        walked: p.walked,
        seen: p.seen,
        done: p.done,
        embedded: p.embedded,
        reused: p.reused,
        unchanged: p.unchanged,
        skipped: p.skipped,
        removed: p.removed,
        elapsed_s: p.elapsed_s,
        rate: p.rate,
        eta_s: p.eta_s,
        text: pass(&p.text),
        tags: pass(&p.tags),
        captions: pass(&p.captions),
    }
}

/// A pass after embedding.
fn pass(p: &trove_engine::crawl::TextProgress) -> wire::TextProgress {
    wire::TextProgress {
        reading: p.reading,
        read: p.read,
        total: p.total,
        with_words: p.with_words,
        rate: p.rate,
        preparing: p
            .preparing
            .map(|(done, total)| wire::Preparing { done, total }),
    }
}

/// How a crawl ended.
pub fn crawl_summary(s: &CrawlSummary) -> wire::CrawlSummary {
    wire::CrawlSummary {
        schema: wire::SCHEMA,
        crawl_id: s.crawl_id,
        state: crawl_state(s.state),
        progress: progress(&s.progress),
        missing_roots: s
            .missing_roots
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    }
}

/// Catalog counts.
pub fn counts(c: catalog::Counts) -> wire::CatalogCounts {
    wire::CatalogCounts {
        files: c.files,
        images: c.images,
        embedded: c.embedded,
        skipped: c.skipped,
    }
}

/// A skipped file.
pub fn skipped(s: catalog::SkippedFile) -> wire::SkippedFile {
    wire::SkippedFile {
        path: s.path,
        reason: s.reason,
    }
}

/// A result with the catalog's facts.
pub fn hit(hit: &Hit, d: &ImageDetail) -> wire::SearchHit {
    let f = &d.facts;
    let camera = match (&f.camera_make, &f.camera_model) {
        (Some(make), Some(model)) if model.starts_with(make.as_str()) => Some(model.clone()),
        (Some(make), Some(model)) => Some(format!("{make} {model}")),
        (one, other) => one.clone().or_else(|| other.clone()),
    };
    wire::SearchHit {
        id: hit.id,
        score: hit.score,
        width: f.width,
        height: f.height,
        format: f.format.clone(),
        taken_at: f.taken_at.clone(),
        path: d.path.clone(),
        bytes: f.bytes,
        camera,
        why: why(&hit.why),
        caption: d.caption.clone(),
        tags: d.tags.clone(),
        catalog: d.catalog.as_ref().map(catalog_facts),
        described: d.described.iter().map(catalog_facts).collect(),
    }
}

/// What an imported catalog says of an image (the catalog by its file name only).
fn catalog_facts(c: &trove_engine::catalog::ImageSourceFacts) -> wire::CatalogFacts {
    wire::CatalogFacts {
        catalog: c
            .catalog
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        rating: c.rating,
        flag: c.flag,
        label: c.label.clone(),
        title: c.title.clone(),
        caption: c.caption.clone(),
        keywords: c.keywords.clone(),
        collections: c.collections.clone(),
        stands_in_for: c.preview_only.then(|| {
            c.original
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        }),
    }
}

/// Why a result matched.
pub fn why(w: &trove_engine::search::Why) -> wire::Why {
    let spans = |v: &[trove_engine::search::Span]| {
        v.iter()
            .map(|s| wire::Span {
                text: s.text.clone(),
                hit: s.hit,
            })
            .collect()
    };
    wire::Why {
        words: spans(&w.words),
        name: spans(&w.name),
        facts: spans(&w.facts),
        caption: spans(&w.caption),
        tags: spans(&w.tags),
        keywords: spans(&w.keywords),
    }
}

/// A page of results.
pub fn page(hits: &[(Hit, ImageDetail)], next: Option<usize>, browsing: bool) -> wire::SearchPage {
    wire::SearchPage {
        schema: wire::SCHEMA,
        hits: hits.iter().map(|(h, d)| hit(h, d)).collect(),
        next_offset: next,
        browsing,
    }
}

/// One image's facts.
pub fn image_info(d: ImageDetail) -> wire::ImageInfo {
    let f = d.facts;
    wire::ImageInfo {
        schema: wire::SCHEMA,
        id: d.id,
        path: d.path,
        copies: d.copies,
        format: f.format,
        width: f.width,
        height: f.height,
        bytes: f.bytes,
        taken_at: f.taken_at,
        camera_make: f.camera_make,
        camera_model: f.camera_model,
        lens: f.lens,
        gps_lat: f.gps_lat,
        gps_lon: f.gps_lon,
        orientation: f.orientation,
        caption: d.caption,
        tags: d.tags,
        catalog: d.catalog.as_ref().map(catalog_facts),
        described: d.described.iter().map(catalog_facts).collect(),
    }
}

/// An order.
pub fn sort(s: wire::Sort) -> catalog::Sort {
    match s {
        wire::Sort::Relevance => catalog::Sort::Relevance,
        wire::Sort::Newest => catalog::Sort::Newest,
        wire::Sort::Oldest => catalog::Sort::Oldest,
    }
}

/// The UI's refinements as the engine's filters and order.
pub fn filters(f: &wire::SearchFilters) -> (Filters, catalog::Sort) {
    (
        Filters {
            folder: f.folder.clone(),
            from: f.from.clone(),
            to: f.to.clone(),
            camera: None,
            format: f.format.clone(),
            ..Filters::default()
        },
        sort(f.sort.unwrap_or_default()),
    )
}

/// An installed model as the picker shows it.
pub fn model_choice(m: InstalledModel, active: bool, demo: bool) -> wire::ModelChoice {
    wire::ModelChoice {
        active,
        demo,
        id: m.id,
        family: m.family.map(|f| f.as_str().to_owned()),
        dim: m.dim,
        image_size: m.image_size,
        bytes: m.bytes,
        problem: m.problem,
    }
}
