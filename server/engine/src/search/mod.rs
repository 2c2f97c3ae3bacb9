//! The query engine the UI, the HTTP API and the CLI share: text, similar-to-an-image, an
//! uploaded image's vector, any mix of them with negative terms, filters, a relevance cutoff,
//! and stable pagination.
//!
//! Text queries also read the keyword index (words read in pictures, file and folder names,
//! camera facts) and fuse its matches with the vector results (`blend.rs`).
//!
//! A query becomes one unit vector: the mean of its text parts and the mean of its image parts,
//! weighted (half each by default), minus half the mean of its negative parts, normalised.
//! Candidates come from the vector index (exact below [`crate::vectors::EXACT_BELOW`] images,
//! HNSW above); images without a file, filtered out or below the model's cutoff are dropped;
//! the order is (similarity desc, id asc) within each bucket of candidates, and each bigger
//! bucket only adds what the smaller ones lacked, so pages never overlap or leave gaps.

mod blend;
mod formats;
mod held;
mod phases;
mod query;
pub mod syntax;
pub mod why;

use std::collections::HashSet;

pub use blend::keyword_terms;
pub use blend::HEAD;
pub use query::{cutoff, query_vector, validate, TextParts, DEMO_TEXT_CUTOFF};
pub use syntax::{Parsed, Signal};
pub use why::{Span, Why};

use crate::catalog::{Catalog, CatalogError, Filters, ImageDetail, Sort};
use crate::engine::Engine;
use crate::vectors::{Neighbour, VectorError};
use phases::Phases;

/// Longest query text accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Most distinct `-word` terms in one query (each is a run of the text model).
pub const MAX_NEGATIVE_TERMS: usize = 16;
/// Most distinct images a query may look like, and as many it may not look like.
pub const MAX_EXAMPLES: usize = 32;
/// Largest page.
pub const MAX_PAGE: usize = 200;
/// Deepest result reachable by paging (offset + limit).
pub const MAX_DEPTH: usize = 10_000;
/// The engine's first bucket of candidates (see [`search`]).
pub const FIRST_BUCKET: usize = 256;
/// Weight of negative parts against positive ones.
const NEGATIVE_WEIGHT: f32 = 0.5;

/// Why a search failed. `BadQuery` and `NotFound` are the user's; the rest are the server's.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query is malformed (a 400).
    #[error("{0}")]
    BadQuery(String),
    /// An image id that does not exist (a 404).
    #[error("no image {0}")]
    NotFound(i64),
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The vector index failed.
    #[error(transparent)]
    Vectors(#[from] VectorError),
    /// The model failed on the query.
    #[error("embedding the query")]
    Model(#[from] trove_models::Error),
}

/// What to search for. At least one of `text`, `like` and `vector` must be set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Text in the query language of [`syntax`]: words, `"phrases"`, `-negatives`, operators.
    pub text: Option<String>,
    /// Images the results should look like.
    pub like: Vec<i64>,
    /// Images the results should not look like.
    pub unlike: Vec<i64>,
    /// An uploaded image's embedding.
    pub vector: Option<Vec<f32>>,
    /// When text and images are mixed, the images' share of the query (0 to 1; half when
    /// unset).
    pub image_weight: Option<f32>,
    /// Restrictions.
    pub filters: Filters,
    /// Order.
    pub sort: Sort,
    /// How keyword matches and vector results are fused (RRF unless a benchmark asks).
    pub fusion: Fusion,
}

/// How a plain query's keyword matches and vector results are fused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fusion {
    /// Reciprocal-rank fusion ([`blend::fuse`]): what every query uses.
    #[default]
    Rrf,
    /// A calibrated score blend ([`blend::fuse_scores`]): measured against RRF by
    /// `bench/retrieval.sh`, and worse.
    Scores,
}

impl Query {
    /// The text parsed (empty when there is none).
    pub fn parsed(&self) -> Result<Parsed, SearchError> {
        match &self.text {
            Some(t) => syntax::parse(t).map_err(SearchError::BadQuery),
            None => Ok(Parsed::default()),
        }
    }

    /// Whether it has images to look like (ids or an uploaded vector).
    pub fn has_image(&self) -> bool {
        !self.like.is_empty() || self.vector.is_some()
    }
}

/// One result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Image id.
    pub id: i64,
    /// Cosine similarity to the query vector.
    pub score: f32,
    /// What in its words, names and facts matched the query's words.
    pub why: Why,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The results, best first.
    pub hits: Vec<Hit>,
    /// The offset of the next page, if there is one.
    pub next: Option<usize>,
    /// Whether it lists the library (the query only restricted, with nothing to look for).
    pub browsing: bool,
}

/// Runs `query` and returns the page `[offset, offset + limit)`. A query of operators only
/// (`type:png after:2023`) lists the library under them, newest first.
pub fn search(
    engine: &Engine,
    catalog: &Catalog,
    query: &Query,
    offset: usize,
    limit: usize,
) -> Result<Page, SearchError> {
    validate(query, offset, limit)?;
    let parsed = query.parsed()?;
    let filters = merged_filters(&query.filters, &parsed);
    if !parsed.has_text() && !query.has_image() {
        if !parsed.negatives.is_empty() {
            return Err(SearchError::BadQuery(
                "only negative terms: say what to look for, too (`dog -cat`)".into(),
            ));
        }
        if parsed.signal == Signal::Words {
            return Err(SearchError::BadQuery(
                "text: needs words to look for, like text:monday".into(),
            ));
        }
        let oldest = query.sort == Sort::Oldest;
        return browse(
            engine,
            catalog,
            &filters,
            if oldest { Sort::Oldest } else { Sort::Newest },
            offset,
            limit,
        );
    }
    let terms = match parsed.signal {
        Signal::Looks => Vec::new(),
        // Asked for: every word counts.
        Signal::Words => blend::keyword_terms(parsed.words.iter().map(String::as_str)),
        Signal::Both => blend::content_terms(blend::keyword_terms(
            parsed.words.iter().map(String::as_str),
        )),
    };
    if parsed.signal == Signal::Words && terms.is_empty() && parsed.phrases.is_empty() {
        return Err(SearchError::BadQuery(
            "text: looks for words of three letters or more (two in Chinese, Japanese or Korean)"
                .into(),
        ));
    }
    let mut phases = Phases::start();
    // The keyword lookups need no query vector: they run while the text tower embeds it.
    let lookups = blend::Lookups::plan(&parsed, &terms);
    let (text, found) = if TextParts::needed(&parsed) && lookups.any() {
        std::thread::scope(|s| {
            let text = s.spawn(|| TextParts::embed(engine, &parsed));
            let found = lookups.run(catalog, &filters, &query.like);
            let text = text.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            (text, found)
        })
    } else {
        (
            TextParts::embed(engine, &parsed),
            lookups.run(catalog, &filters, &query.like),
        )
    };
    let q = query_vector(engine, catalog, query, text?)?;
    let blend::Matches { phrased, keyword } = found?;
    phases.mark("embed+keywords");
    let scored = |found: Option<blend::Found>| match found {
        Some(found) => found.scored(&engine.index, &q),
        None => Ok(Vec::new()),
    };
    let plain = |found: Option<blend::Found>| -> Result<Vec<Kept>, SearchError> {
        Ok(scored(found)?.into_iter().map(|(k, _)| k).collect())
    };
    let mut kept = match parsed.signal {
        Signal::Words => plain(keyword)?,
        Signal::Both | Signal::Looks if !parsed.phrases.is_empty() => {
            let phrased = plain(phrased)?;
            let keyword = if terms.is_empty() {
                phrased.clone()
            } else {
                plain(keyword)?
            };
            blend::fuse_phrased(phrased, &keyword)
        }
        Signal::Both | Signal::Looks => {
            let family = engine.embedder.config().family();
            let min = cutoff(&engine.model, family, parsed.has_text(), query.has_image());
            // The fused head needs the same vector results whatever the page.
            let want = if terms.is_empty() {
                offset + limit + 1
            } else {
                (offset + limit + 1).max(blend::HEAD + 1)
            };
            let (kept, _) = gather(engine, catalog, query, &filters, &q, min, want)?;
            phases.mark("vectors");
            if terms.is_empty() {
                kept
            } else {
                let matches = scored(keyword)?;
                phases.mark("similarities");
                match query.fusion {
                    Fusion::Rrf => {
                        let head: Vec<i64> =
                            kept.iter().take(blend::HEAD).map(|k| k.0.id).collect();
                        let partial = held::partial_matches(catalog, &head, &terms)?;
                        let (direct, described) = held::split_described(
                            catalog,
                            matches.into_iter().map(|(k, _)| k).collect(),
                            &terms,
                        )?;
                        phases.mark("partial");
                        blend::fuse(kept, direct, described, &partial)
                    }
                    Fusion::Scores => blend::fuse_scores(kept, matches, min),
                }
            }
        }
    };
    if query.sort != Sort::Relevance {
        order_by_date(&mut kept, query.sort == Sort::Newest);
    }
    let next = (kept.len() > offset + limit).then_some(offset + limit);
    let page: Vec<Neighbour> = kept
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(h, _)| h)
        .collect();
    let ids: Vec<i64> = page.iter().map(|h| h.id).collect();
    let mut reasons = why::explain(catalog, &ids, &terms, &parsed.phrases)?;
    phases.mark("why");
    tracing::debug!(phases = %phases, "query");
    let hits = page
        .into_iter()
        .map(|h| Hit {
            id: h.id,
            score: h.similarity,
            why: reasons.remove(&h.id).unwrap_or_default(),
        })
        .collect();
    Ok(Page {
        hits,
        next,
        browsing: false,
    })
}

/// The request's filters with the query's operators added: an operator's value replaces the
/// same filter's, and dates narrow.
fn merged_filters(given: &Filters, parsed: &Parsed) -> Filters {
    let mut f = given.clone();
    match &parsed.folder {
        Some(folder) if folder.starts_with('/') => f.folder = Some(folder.clone()),
        Some(name) => f.folder_name = Some(name.clone()),
        None => {}
    }
    if parsed.camera.is_some() {
        f.camera.clone_from(&parsed.camera);
    }
    if parsed.format.is_some() {
        f.format.clone_from(&parsed.format);
    }
    if let Some(after) = &parsed.after {
        f.from = Some(
            f.from
                .take()
                .map_or(after.clone(), |d| d.max(after.clone())),
        );
    }
    if parsed.before.is_some() {
        f.before.clone_from(&parsed.before);
    }
    f.phrases.extend(parsed.phrases.iter().cloned());
    for tag in &parsed.tags {
        if !f.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            f.tags.push(tag.clone());
        }
    }
    let (c, asked) = (&mut f.catalog, &parsed.catalog);
    if asked.rating.is_some() {
        c.rating = asked.rating;
    }
    if asked.flag.is_some() {
        c.flag = asked.flag;
    }
    if asked.label.is_some() {
        c.label.clone_from(&asked.label);
    }
    for (list, more) in [
        (&mut c.collections, &asked.collections),
        (&mut c.keywords, &asked.keywords),
    ] {
        for v in more {
            if !list.iter().any(|t| t.eq_ignore_ascii_case(v)) {
                list.push(v.clone());
            }
        }
    }
    if parsed.signal != Signal::Looks {
        f.without.extend(blend::keyword_terms(
            parsed.negatives.iter().map(String::as_str),
        ));
    }
    f
}

/// A page of the library itself, for a request with nothing to search for: images embedded
/// with the engine's model, filtered, newest capture first (or oldest, with [`Sort::Oldest`]).
pub fn browse(
    engine: &Engine,
    catalog: &Catalog,
    filters: &Filters,
    sort: Sort,
    offset: usize,
    limit: usize,
) -> Result<Page, SearchError> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(SearchError::BadQuery(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let oldest = sort == Sort::Oldest;
    let mut ids = catalog.browse(engine.model_id, filters, oldest, offset, limit + 1)?;
    let next = (ids.len() > limit).then_some(offset + limit);
    ids.truncate(limit);
    let hits = ids
        .into_iter()
        .map(|id| Hit {
            id,
            score: 0.0,
            why: Why::default(),
        })
        .collect();
    Ok(Page {
        hits,
        next,
        browsing: true,
    })
}

/// The catalog's facts for each hit, in the hits' order (an image forgotten meanwhile is left
/// out).
pub fn with_details(
    catalog: &Catalog,
    hits: &[Hit],
) -> Result<Vec<(Hit, ImageDetail)>, CatalogError> {
    let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
    let mut details = catalog.image_details(&ids)?.into_iter().peekable();
    let mut out = Vec::with_capacity(hits.len());
    for hit in hits {
        if let Some(detail) = details.next_if(|d| d.id == hit.id) {
            out.push((hit.clone(), detail));
        }
    }
    Ok(out)
}

/// A candidate that passed the filters, with its capture time.
type Kept = (Neighbour, Option<String>);

/// The visible candidates at least `min` similar, in the engine's order, at least `want` of
/// them when there are (all of them when sorting by date), and the bucket size reached.
///
/// Candidates come in buckets of 256, 1,024, 4,096… nearest. Each bucket adds only what the
/// smaller ones lacked, after them, so a page never depends on how deep it is: every page of
/// one query reads the same sequence (no duplicates, no gaps), and the first pages pay for a
/// search only 256 wide.
fn gather(
    engine: &Engine,
    catalog: &Catalog,
    query: &Query,
    filters: &Filters,
    q: &[f32],
    min: f32,
    want: usize,
) -> Result<(Vec<Kept>, usize), SearchError> {
    let total = engine.index.len();
    let need_all = query.sort != Sort::Relevance;
    let mut k = FIRST_BUCKET;
    let mut seen: HashSet<i64> = HashSet::new();
    let mut kept: Vec<Kept> = Vec::new();
    loop {
        let k_now = k.min(total).min(MAX_DEPTH * 4);
        let nearest = engine.index.search(q, k_now)?;
        let exhausted = nearest.len() < k_now || k_now >= total || k_now >= MAX_DEPTH * 4;
        let below = nearest.last().is_none_or(|h| h.similarity < min);
        let mut candidates: Vec<Neighbour> = nearest
            .iter()
            .filter(|h| h.similarity >= min && !query.like.contains(&h.id) && !seen.contains(&h.id))
            .copied()
            .collect();
        seen.extend(nearest.iter().map(|h| h.id));
        // In the engine's order, so which candidates get checked never depends on the page.
        candidates.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id)));
        let goal = if need_all { usize::MAX } else { want };
        keep_visible(catalog, &candidates, filters, goal, &mut kept)?;
        if exhausted || below || (!need_all && kept.len() >= want) {
            return Ok((kept, k));
        }
        k *= 4;
    }
}

/// Adds the `candidates` that pass `filters` to `kept`, until it holds `goal`: checked in
/// growing chunks rather than all at once (a first page checks about 60 of 256).
fn keep_visible(
    catalog: &Catalog,
    candidates: &[Neighbour],
    filters: &Filters,
    goal: usize,
    kept: &mut Vec<Kept>,
) -> Result<(), SearchError> {
    let (mut checked, mut chunk) = (0, 64usize);
    while checked < candidates.len() && kept.len() < goal {
        let n = chunk
            .max(goal.saturating_sub(kept.len()))
            .min(candidates.len() - checked);
        let part = &candidates[checked..checked + n];
        let ids: Vec<i64> = part.iter().map(|h| h.id).collect();
        let allowed = catalog.visible(&ids, filters)?;
        kept.extend(
            part.iter()
                .filter_map(|h| allowed.get(&h.id).map(|taken| (*h, taken.clone()))),
        );
        checked += n;
        chunk *= 2;
    }
    Ok(())
}

/// Newest (or oldest) capture first, undated last, ties by id.
fn order_by_date(kept: &mut [Kept], newest: bool) {
    kept.sort_by(|a, b| match (&a.1, &b.1) {
        (Some(x), Some(y)) => {
            let o = if newest { y.cmp(x) } else { x.cmp(y) };
            o.then(a.0.id.cmp(&b.0.id))
        }
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.0.id.cmp(&b.0.id),
    });
}
