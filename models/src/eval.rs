//! How well a model finds things: text→image recall on the held-out synthetic split, computed
//! with Trove's own preprocessing and towers.
//!
//! A query's relevant images are known exactly from the generator's scenes, so recall@k here
//! is the share of queries with at least one relevant image among the top `k`.

use serde::Serialize;

use crate::embedder::Embedder;
use crate::error::Result;
use crate::synth::{self, Query, Scene, Split};

/// Images embedded per batch.
const BATCH: usize = 64;

/// Recall of one query set.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recall {
    /// Queries asked (those with at least one relevant image).
    pub queries: usize,
    /// Share with a relevant image first.
    pub at1: f64,
    /// Share with a relevant image in the top five.
    pub at5: f64,
    /// Queries whose first result was not relevant, with that result's caption.
    pub misses: Vec<Miss>,
}

/// A query whose best result was wrong.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Miss {
    /// The query.
    pub query: String,
    /// The caption of the image ranked first.
    pub got: String,
}

/// The evaluation's outcome.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvalReport {
    /// Held-out images searched.
    pub images: usize,
    /// Generator seed.
    pub seed: u64,
    /// One attribute: "a green triangle", "a sign that says hello", "a meme that says hello".
    pub single: Recall,
    /// The held-out images' full captions that say more than one thing: counts, sizes,
    /// positions, backgrounds, two groups, both lines of a meme.
    pub compound: Recall,
    /// Where a text query's relevance cutoff belongs for this model (all queries, all images).
    pub cutoff: Calibration,
}

/// The similarity scale of a model: how relevant and irrelevant (query, image) pairs score.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Calibration {
    /// 95% of relevant pairs score at least this: the suggested text cutoff.
    pub relevant_p05: f32,
    /// Half of relevant pairs score at least this.
    pub relevant_p50: f32,
    /// Half of irrelevant pairs score below this.
    pub irrelevant_p50: f32,
    /// 99% of irrelevant pairs score below this.
    pub irrelevant_p99: f32,
}

impl Calibration {
    fn from(mut relevant: Vec<f32>, mut irrelevant: Vec<f32>) -> Self {
        relevant.sort_by(f32::total_cmp);
        irrelevant.sort_by(f32::total_cmp);
        let at = |v: &[f32], p: f64| {
            v.get(((v.len().saturating_sub(1)) as f64 * p).round() as usize)
                .copied()
                .unwrap_or(f32::NAN)
        };
        Calibration {
            relevant_p05: at(&relevant, 0.05),
            relevant_p50: at(&relevant, 0.5),
            irrelevant_p50: at(&irrelevant, 0.5),
            irrelevant_p99: at(&irrelevant, 0.99),
        }
    }
}

/// Similarities of relevant and irrelevant pairs, gathered while measuring recall.
#[derive(Default)]
struct Pairs {
    relevant: Vec<f32>,
    irrelevant: Vec<f32>,
}

/// The evaluation's queries for a set of scenes: single-attribute ones and compound ones,
/// each kept only if some scene answers it.
pub fn queries(scenes: &[Scene]) -> (Vec<Query>, Vec<Query>) {
    let answered = |q: &Query| scenes.iter().any(|s| q.matches(s));
    let single: Vec<Query> = Query::single_attribute()
        .into_iter()
        .filter(answered)
        .collect();
    let single_texts: Vec<String> = single.iter().map(Query::text).collect();
    let mut compound: Vec<Query> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for scene in scenes {
        let q = scene.description();
        let text = q.text();
        if !single_texts.contains(&text) && !seen.contains(&text) {
            seen.push(text);
            compound.push(q);
        }
    }
    (single, compound)
}

/// Generates `count` held-out images for `seed`, embeds them and the queries with `model`,
/// and measures recall. `progress` gets the number of images embedded so far.
pub fn evaluate(
    model: &Embedder,
    seed: u64,
    count: usize,
    progress: &dyn Fn(usize),
) -> Result<EvalReport> {
    let (scenes, embeddings) = embed_split(model, seed, Split::Test, count, progress)?;
    let (single, compound) = queries(&scenes);
    let mut pairs = Pairs::default();
    let single = recall(model, &single, &scenes, &embeddings, &mut pairs)?;
    let compound = recall(model, &compound, &scenes, &embeddings, &mut pairs)?;
    Ok(EvalReport {
        images: count,
        seed,
        single,
        compound,
        cutoff: Calibration::from(pairs.relevant, pairs.irrelevant),
    })
}

/// Generates `count` images of `split` and embeds them with `model`.
pub fn embed_split(
    model: &Embedder,
    seed: u64,
    split: Split,
    count: usize,
    progress: &dyn Fn(usize),
) -> Result<(Vec<Scene>, Vec<Vec<f32>>)> {
    let mut scenes = Vec::with_capacity(count);
    let mut embeddings = Vec::with_capacity(count);
    let side = synth::DEFAULT_SIZE as usize;
    let mut start = 0;
    while start < count {
        let end = (start + BATCH).min(count);
        let mut pixels = Vec::with_capacity(end - start);
        for index in start..end {
            let sample = synth::generate(seed, split, index as u64, synth::DEFAULT_SIZE);
            pixels.push(
                model
                    .preprocessor()
                    .prepare(sample.image.as_raw(), side, side)?,
            );
            scenes.push(sample.scene);
        }
        embeddings.extend(model.embed_images(&pixels)?);
        progress(end);
        start = end;
    }
    Ok((scenes, embeddings))
}

/// Ranks `images` for each query and scores the top five.
fn recall(
    model: &Embedder,
    queries: &[Query],
    scenes: &[Scene],
    images: &[Vec<f32>],
    pairs: &mut Pairs,
) -> Result<Recall> {
    let mut hits1 = 0;
    let mut hits5 = 0;
    let mut misses = Vec::new();
    for chunk in queries.chunks(BATCH) {
        let texts: Vec<String> = chunk.iter().map(Query::text).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        for ((query, text), embedding) in chunk.iter().zip(&texts).zip(model.embed_texts(&refs)?) {
            for (image, scene) in images.iter().zip(scenes) {
                let sim = dot(&embedding, image);
                if query.matches(scene) {
                    pairs.relevant.push(sim);
                } else {
                    pairs.irrelevant.push(sim);
                }
            }
            let top = top_k(&embedding, images, 5);
            if top.first().is_some_and(|&i| query.matches(&scenes[i])) {
                hits1 += 1;
            } else if let Some(&first) = top.first() {
                misses.push(Miss {
                    query: text.clone(),
                    got: scenes[first].caption(),
                });
            }
            if top.iter().any(|&i| query.matches(&scenes[i])) {
                hits5 += 1;
            }
        }
    }
    let n = queries.len().max(1) as f64;
    Ok(Recall {
        queries: queries.len(),
        at1: f64::from(hits1) / n,
        at5: f64::from(hits5) / n,
        misses,
    })
}

/// Indices of the `k` rows most similar to `query` (all vectors unit length), best first;
/// ties keep the lower index first.
pub fn top_k(query: &[f32], rows: &[Vec<f32>], k: usize) -> Vec<usize> {
    let mut scored: Vec<(f32, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| (dot(query, row), i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, i)| i).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_similarity_then_index() {
        let rows = vec![
            vec![0.0, 1.0],
            vec![1.0, 0.0],
            vec![0.6, 0.8],
            vec![1.0, 0.0],
        ];
        assert_eq!(top_k(&[1.0, 0.0], &rows, 3), [1, 3, 2]);
        assert_eq!(top_k(&[0.0, 1.0], &rows, 10).len(), 4);
    }

    #[test]
    fn query_sets_are_answered_and_disjoint() {
        let scenes: Vec<Scene> = (0..300)
            .map(|i| synth::generate(0, Split::Test, i, 8).scene)
            .collect();
        let (single, compound) = queries(&scenes);
        assert!(
            single.len() > 40 && compound.len() > 100,
            "{} {}",
            single.len(),
            compound.len()
        );
        for q in single.iter().chain(&compound) {
            assert!(scenes.iter().any(|s| q.matches(s)), "{}", q.text());
        }
        let single_texts: Vec<String> = single.iter().map(Query::text).collect();
        assert!(compound.iter().all(|q| !single_texts.contains(&q.text())));
    }
}
