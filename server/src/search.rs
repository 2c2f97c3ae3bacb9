//! The query engine the UI, the HTTP API and the CLI share: text, similar-to-an-image, an
//! uploaded image's vector, any mix of them with negative terms, filters, a relevance cutoff,
//! and stable pagination.
//!
//! A query becomes one unit vector: the mean of its text parts and the mean of its image parts,
//! weighted (half each by default), minus half the mean of its negative parts, normalised.
//! Candidates come from the vector index (exact below [`crate::vectors::EXACT_BELOW`] images,
//! HNSW above); images without a file, filtered out or below the model's cutoff are dropped;
//! the order is (similarity desc, id asc) within each bucket of candidates, and each bigger
//! bucket only adds what the smaller ones lacked, so pages never overlap or leave gaps.

use serde::{Deserialize, Serialize};

use crate::library::Library;
use crate::store::{Store, StoreError};
use crate::vectors::VectorError;

/// Longest query text accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 1000;
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
    Store(#[from] StoreError),
    /// The vector index failed.
    #[error(transparent)]
    Vectors(#[from] VectorError),
    /// The model failed on the query.
    #[error("embedding the query")]
    Model(#[from] trove_models::Error),
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Most similar first.
    #[default]
    Relevance,
    /// Newest capture date first (undated last), among the relevant results.
    Newest,
    /// Oldest capture date first (undated last), among the relevant results.
    Oldest,
}

/// Restrictions on which images may be returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    /// Only files under this folder (absolute path prefix).
    pub folder: Option<String>,
    /// Captured on or after this date (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Captured on or before this date (`YYYY-MM-DD`).
    pub to: Option<String>,
    /// Camera model contains this (case-insensitive).
    pub camera: Option<String>,
    /// File format (`jpeg`, `png`, …).
    pub format: Option<String>,
}

impl Filters {
    /// Whether any filter is set.
    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }
}

/// What to search for. At least one of `text`, `like` and `vector` must be set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Text; words starting with `-` are negative terms (`dog -cat`).
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
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// Image id.
    pub id: i64,
    /// Cosine similarity to the query vector.
    pub score: f32,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    /// The results, best first.
    pub hits: Vec<Hit>,
    /// The offset of the next page, if there is one.
    pub next: Option<usize>,
}

/// Splits `dog -cat "-x"` into positive text and negative terms.
pub fn split_negatives(text: &str) -> (String, Vec<String>) {
    let mut positive = Vec::new();
    let mut negative = Vec::new();
    for word in text.split_whitespace() {
        match word.strip_prefix('-') {
            Some(term) if !term.is_empty() => negative.push(term.to_owned()),
            _ => positive.push(word),
        }
    }
    (positive.join(" "), negative)
}

/// Checks a query's shape before any work: lengths, page bounds, filter syntax.
pub fn validate(query: &Query, offset: usize, limit: usize) -> Result<(), SearchError> {
    let bad = |m: String| Err(SearchError::BadQuery(m));
    if let Some(text) = &query.text {
        if text.chars().count() > MAX_QUERY_CHARS {
            return bad(format!(
                "the query is {} characters long; the limit is {MAX_QUERY_CHARS}",
                text.chars().count()
            ));
        }
    }
    if query
        .text
        .as_deref()
        .is_some_and(|t| t.contains('\u{FFFD}'))
    {
        return bad("the query is not valid UTF-8 text".into());
    }
    let has_text = query.text.as_deref().is_some_and(|t| !t.trim().is_empty());
    if !has_text && query.like.is_empty() && query.vector.is_none() {
        return bad(
            "nothing to search for: give text, an image to look like, or an image upload".into(),
        );
    }
    if let Some(w) = query.image_weight {
        if !(0.0..=1.0).contains(&w) {
            return bad(format!("the image weight is between 0 and 1, not {w}"));
        }
    }
    if limit == 0 || limit > MAX_PAGE {
        return bad(format!("limit must be between 1 and {MAX_PAGE}"));
    }
    if offset.saturating_add(limit) > MAX_DEPTH {
        return bad(format!("results are available to a depth of {MAX_DEPTH}"));
    }
    for date in [&query.filters.from, &query.filters.to]
        .into_iter()
        .flatten()
    {
        let ok = date.len() == 10
            && date.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !ok {
            return bad(format!("dates are written YYYY-MM-DD, not {date:?}"));
        }
    }
    Ok(())
}

fn add(acc: &mut [f32], v: &[f32], w: f32) {
    for (a, x) in acc.iter_mut().zip(v) {
        *a += w * x;
    }
}

fn normalise(v: &mut [f32]) -> bool {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 1e-6 {
        v.iter_mut().for_each(|x| *x /= n);
        true
    } else {
        false
    }
}

/// Builds the query vector from its parts.
pub fn query_vector(
    library: &Library,
    store: &Store,
    query: &Query,
) -> Result<Vec<f32>, SearchError> {
    let dim = library.embedder.dim();
    let mut texts: Vec<Vec<f32>> = Vec::new();
    let mut images: Vec<Vec<f32>> = Vec::new();
    let mut negative: Vec<Vec<f32>> = Vec::new();
    if let Some(text) = &query.text {
        let (pos, neg) = split_negatives(text);
        if !pos.is_empty() {
            texts.push(library.embedder.embed_query(&pos)?.to_vec());
        }
        for term in neg {
            negative.push(library.embedder.embed_query(&term)?.to_vec());
        }
    }
    for (ids, into) in [(&query.like, &mut images), (&query.unlike, &mut negative)] {
        for &id in ids {
            let v = store
                .embedding(id, library.model_id)?
                .ok_or(SearchError::NotFound(id))?;
            into.push(v);
        }
    }
    if let Some(v) = &query.vector {
        if v.len() != dim {
            return Err(SearchError::BadQuery(format!(
                "an image vector of {} values for a {dim}-d model",
                v.len()
            )));
        }
        images.push(v.clone());
    }
    if texts.is_empty() && images.is_empty() {
        return Err(SearchError::BadQuery(
            "only negative terms: say what to look for, too (`dog -cat`)".into(),
        ));
    }
    // Text and images each get their share (by default half each when both are present).
    let image_share = match (texts.is_empty(), images.is_empty()) {
        (false, false) => query.image_weight.unwrap_or(0.5),
        (true, _) => 1.0,
        (false, true) => 0.0,
    };
    let mut q = vec![0.0f32; dim];
    for (parts, share) in [(&texts, 1.0 - image_share), (&images, image_share)] {
        for p in parts.iter() {
            add(&mut q, p, share / parts.len() as f32);
        }
    }
    if !negative.is_empty() {
        let w = NEGATIVE_WEIGHT / negative.len() as f32;
        for n in &negative {
            add(&mut q, n, -w);
        }
    }
    if !normalise(&mut q) {
        return Err(SearchError::BadQuery(
            "the positive and negative parts cancel out".into(),
        ));
    }
    Ok(q)
}

/// The similarity below which results are not shown, for a query made of text and/or images.
/// Text–image and image–image similarities live on different scales, so each has its own
/// threshold; a mixed query uses the lower. See README ("Relevance cutoff").
pub fn cutoff(model: &str, family: &str, has_text: bool, has_image: bool) -> f32 {
    let (text, image) = match (model, family) {
        // Text: measured on the held-out split (see DEMO_TEXT_CUTOFF). Image: not yet measured.
        (trove_models::demo::DEMO_MODEL, _) => (DEMO_TEXT_CUTOFF, 0.5),
        // CLIP: matching captions score about 0.25–0.35, unrelated ones 0.10–0.20.
        (_, "clip") => (0.19, 0.55),
        // SigLIP: cosines are smaller; 0.04 is where its sigmoid probability leaves ~0.
        (_, "siglip") => (0.04, 0.55),
        _ => (0.0, 0.0),
    };
    match (has_text, has_image) {
        (true, true) => text.min(image),
        (true, false) => text,
        (false, _) => image,
    }
}

/// The demo model's text cutoff: 95% of relevant (query, image) pairs score at least 0.596 on
/// 1,000 held-out images (single-attribute and full-caption queries), and 99% of irrelevant
/// pairs below 0.520, half below 0 (`trove model eval` measures this for any model).
pub const DEMO_TEXT_CUTOFF: f32 = 0.59;

/// Runs `query` and returns the page `[offset, offset + limit)`.
pub fn search(
    library: &Library,
    store: &Store,
    query: &Query,
    offset: usize,
    limit: usize,
) -> Result<Page, SearchError> {
    validate(query, offset, limit)?;
    let started = std::time::Instant::now();
    let q = query_vector(library, store, query)?;
    let embedded = started.elapsed();
    let has_text = query
        .text
        .as_deref()
        .is_some_and(|t| !split_negatives(t).0.is_empty());
    let has_image = !query.like.is_empty() || query.vector.is_some();
    let family = library.embedder.config().family();
    let min = cutoff(&library.model, family, has_text, has_image);
    let total = library.index.len();
    let need_all = query.sort != Sort::Relevance;
    let want = offset + limit + 1;
    // Candidates come in buckets of 256, 1,024, 4,096… nearest. Each bucket adds only what the
    // smaller ones lacked, after them, so a page never depends on how deep it is: every page
    // of one query reads the same sequence (no duplicates, no gaps), and the first pages pay
    // for a search only 256 wide.
    let mut k = FIRST_BUCKET;
    let mut seen: std::collections::HashSet<i64> = std::collections::HashSet::new();
    let mut kept: Vec<(crate::vectors::Hit, Option<String>)> = Vec::new();
    loop {
        let k_now = k.min(total).min(MAX_DEPTH * 4);
        let hits = library.index.search(&q, k_now)?;
        let exhausted = hits.len() < k_now || k_now >= total || k_now >= MAX_DEPTH * 4;
        let below = hits.last().is_none_or(|h| h.similarity < min);
        let mut candidates: Vec<crate::vectors::Hit> = hits
            .iter()
            .filter(|h| h.similarity >= min && !query.like.contains(&h.id) && !seen.contains(&h.id))
            .copied()
            .collect();
        seen.extend(hits.iter().map(|h| h.id));
        // In the engine's order, so which candidates get checked never depends on the page.
        candidates.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id)));
        // Only the first `want` visible candidates matter (unless sorting by date): check
        // them in growing chunks rather than all (a first page checks about 60 of 256).
        let (mut checked, mut chunk) = (0, 64usize);
        while checked < candidates.len() && (need_all || kept.len() < want) {
            let n = if need_all {
                candidates.len()
            } else {
                chunk.max(want - kept.len())
            }
            .min(candidates.len() - checked);
            let part = &candidates[checked..checked + n];
            let ids: Vec<i64> = part.iter().map(|h| h.id).collect();
            let allowed = store.visible(&ids, &query.filters)?;
            kept.extend(
                part.iter()
                    .filter_map(|h| allowed.get(&h.id).map(|taken| (*h, taken.clone()))),
            );
            checked += n;
            chunk *= 2;
        }
        if exhausted || below || (!need_all && kept.len() >= want) {
            break;
        }
        k *= 4;
    }
    if query.sort != Sort::Relevance {
        let newest = query.sort == Sort::Newest;
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
    let next = (kept.len() > offset + limit).then_some(offset + limit);
    tracing::debug!(
        embed_ms = embedded.as_secs_f64() * 1e3,
        rank_ms = (started.elapsed() - embedded).as_secs_f64() * 1e3,
        k,
        "query"
    );
    let hits = kept
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(h, _)| Hit {
            id: h.id,
            score: h.similarity,
        })
        .collect();
    Ok(Page { hits, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_terms_are_split_off() {
        assert_eq!(
            split_negatives("dog -cat  beach"),
            ("dog beach".into(), vec!["cat".into()])
        );
        assert_eq!(split_negatives("- dash"), ("- dash".into(), vec![]));
        assert_eq!(
            split_negatives("-only"),
            (String::new(), vec!["only".into()])
        );
    }

    #[test]
    fn malformed_queries_are_refused_with_reasons() {
        let text = |t: &str| Query {
            text: Some(t.into()),
            ..Query::default()
        };
        assert!(validate(&text("red circle"), 0, 60).is_ok());
        let err = |q: &Query, o, l| match validate(q, o, l) {
            Err(SearchError::BadQuery(m)) => m,
            other => panic!("expected a bad query, got {other:?}"),
        };
        assert!(err(&text("   "), 0, 60).contains("nothing to search for"));
        assert!(err(&text(&"x".repeat(10_000)), 0, 60).contains("10000 characters"));
        assert!(err(&text("a"), 0, 0).contains("limit"));
        assert!(err(&text("a"), MAX_DEPTH, 10).contains("depth"));
        let mut dated = text("a");
        dated.filters.from = Some("2024-13".into());
        assert!(err(&dated, 0, 10).contains("YYYY-MM-DD"));
        dated.filters.from = Some("2024-01-31".into());
        assert!(validate(&dated, 0, 10).is_ok());
    }

    #[test]
    fn cutoffs_are_per_model_and_per_kind_of_query() {
        assert_eq!(
            cutoff("openai/clip-vit-base-patch32", "clip", true, false),
            0.19
        );
        assert_eq!(
            cutoff("openai/clip-vit-base-patch32", "clip", false, true),
            0.55
        );
        assert_eq!(
            cutoff("openai/clip-vit-base-patch32", "clip", true, true),
            0.19
        );
        assert_eq!(
            cutoff(trove_models::demo::DEMO_MODEL, "clip", true, false),
            DEMO_TEXT_CUTOFF
        );
    }
}
