//! A query's shape checked before any work, and its one unit vector: the mean of its text parts
//! and the mean of its image parts, weighted, minus half the mean of its negative parts; and
//! the similarity below which results are not shown.

use std::sync::Arc;

use trove_models::Family;

use super::syntax::Parsed;
use super::{
    Query, SearchError, MAX_DEPTH, MAX_EXAMPLES, MAX_NEGATIVE_TERMS, MAX_PAGE, MAX_QUERY_CHARS,
    NEGATIVE_WEIGHT,
};
use crate::catalog::Catalog;
use crate::engine::Engine;

/// Ids in their first order, each once.
fn distinct(ids: &[i64]) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::with_capacity(ids.len());
    for &id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
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
    if let Some(text) = &query.text {
        let parsed = super::syntax::parse(text).map_err(SearchError::BadQuery)?;
        let terms = parsed.negatives.len();
        if terms > MAX_NEGATIVE_TERMS {
            return bad(format!(
                "the query excludes {terms} different words; the limit is {MAX_NEGATIVE_TERMS}"
            ));
        }
    }
    for (ids, what) in [(&query.like, "look like"), (&query.unlike, "not look like")] {
        let n = distinct(ids).len();
        if n > MAX_EXAMPLES {
            return bad(format!("{n} images to {what}; the limit is {MAX_EXAMPLES}"));
        }
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

/// The text parts of a query, embedded by the text tower: what takes the time in a text
/// query, and needs nothing from the catalog (so it can run beside the keyword lookups).
#[derive(Debug, Default)]
pub struct TextParts {
    positive: Option<Arc<[f32]>>,
    negative: Vec<Arc<[f32]>>,
}

impl TextParts {
    /// Embeds the query's text and its `-word` terms (a cached query costs nothing).
    pub fn embed(engine: &Engine, parsed: &Parsed) -> Result<Self, SearchError> {
        let positive = parsed.embed_text();
        let positive = if positive.is_empty() {
            None
        } else {
            Some(engine.embedder.embed_query(&positive)?)
        };
        let negative = parsed
            .negatives
            .iter()
            .map(|term| engine.embedder.embed_query(term))
            .collect::<Result<_, _>>()?;
        Ok(TextParts { positive, negative })
    }

    /// Whether the text tower would run for `parsed`.
    pub fn needed(parsed: &Parsed) -> bool {
        !parsed.embed_text().is_empty() || !parsed.negatives.is_empty()
    }
}

/// Builds the query vector from its parts: the embedded `text` and the images it names.
pub fn query_vector(
    engine: &Engine,
    catalog: &Catalog,
    query: &Query,
    text: TextParts,
) -> Result<Vec<f32>, SearchError> {
    let dim = engine.embedder.dim();
    let texts: Vec<Vec<f32>> = text.positive.iter().map(|v| v.to_vec()).collect();
    let mut images: Vec<Vec<f32>> = Vec::new();
    let mut negative: Vec<Vec<f32>> = text.negative.iter().map(|v| v.to_vec()).collect();
    for (ids, into) in [(&query.like, &mut images), (&query.unlike, &mut negative)] {
        for id in distinct(ids) {
            let v = catalog
                .embedding(id, engine.model_id)?
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
pub fn cutoff(model: &str, family: Family, has_text: bool, has_image: bool) -> f32 {
    let (text, image) = match (model, family) {
        // Text: measured on the held-out split (see DEMO_TEXT_CUTOFF). Image: not yet measured.
        (trove_models::demo::DEMO_MODEL, _) => (DEMO_TEXT_CUTOFF, 0.5),
        // CLIP: matching captions score about 0.25–0.35, unrelated ones 0.10–0.20.
        (_, Family::Clip) => (0.19, 0.55),
        // SigLIP: cosines are smaller; 0.04 is where its sigmoid probability leaves ~0.
        (_, Family::Siglip) => (0.04, 0.55),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_once_in_their_first_order() {
        assert_eq!(distinct(&[3, 1, 3, 3, 2, 1]), [3, 1, 2]);
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
        assert!(err(&text("after:someday"), 0, 10).contains("after: takes a year"));
        let many: Vec<String> = (0..=MAX_NEGATIVE_TERMS).map(|i| format!("-w{i}")).collect();
        assert!(err(&text(&format!("a {}", many.join(" "))), 0, 10).contains("excludes 17"));
        let mut dated = text("a");
        dated.filters.from = Some("2024-13".into());
        assert!(err(&dated, 0, 10).contains("YYYY-MM-DD"));
        dated.filters.from = Some("2024-01-31".into());
        assert!(validate(&dated, 0, 10).is_ok());
    }

    #[test]
    fn cutoffs_are_per_model_and_per_kind_of_query() {
        assert_eq!(
            cutoff("openai/clip-vit-base-patch32", Family::Clip, true, false),
            0.19
        );
        assert_eq!(
            cutoff("openai/clip-vit-base-patch32", Family::Clip, false, true),
            0.55
        );
        assert_eq!(
            cutoff("openai/clip-vit-base-patch32", Family::Clip, true, true),
            0.19
        );
        assert_eq!(
            cutoff(trove_models::demo::DEMO_MODEL, Family::Clip, true, false),
            DEMO_TEXT_CUTOFF
        );
    }
}
