//! How precise and complete the demo model's tags are on generated pictures, whose truth the
//! generator knows: thresholds calibrated on the training split, measured on the held-out one;
//! and, beside them, what the library rule (no labels) gets on the same held-out pictures.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    calibrate_labelled, calibrate_on_library_with, demo_truth, TagSet, Vocabulary, LIBRARY_SIGMAS,
};
use crate::embedder::Embedder;
use crate::error::Result;
use crate::eval::embed_split;
use crate::synth::{Scene, Split};

/// The precision each demo tag is calibrated for.
pub const TARGET_PRECISION: f64 = 0.9;

/// Precision and recall of one rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Scores {
    /// Tags given that were true, over tags given (all tags pooled).
    pub precision: f64,
    /// True tags given, over true tags (all tags pooled).
    pub recall: f64,
    /// Tags given.
    pub given: u64,
    /// True tags in the pictures.
    pub truth: u64,
    /// Per tag: `[precision, recall, pictures with the tag]`.
    pub per_tag: BTreeMap<String, [f64; 3]>,
}

/// The calibration and its measurement, committed as the demo model's `tags.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TagCalibration {
    /// The vocabulary's name.
    pub vocabulary: String,
    /// Generator seed.
    pub seed: u64,
    /// Training-split pictures the thresholds were calibrated on.
    pub calibrated_on: usize,
    /// The precision each threshold was chosen for.
    pub target_precision: f64,
    /// Per tag, its threshold (tags no threshold made precise enough are absent: they never
    /// fire).
    pub thresholds: BTreeMap<String, f32>,
    /// Held-out pictures measured.
    pub held_out: usize,
    /// The calibrated thresholds on the held-out pictures.
    pub calibrated: Scores,
    /// The library rule (thresholds from the held-out pictures' own scores, no labels).
    pub library_rule: Scores,
    /// The library rule at other widths.
    pub library_sweep: Vec<LibraryRule>,
}

/// The library rule at one width.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LibraryRule {
    /// Robust standard deviations above the median.
    pub sigmas: f32,
    /// Pooled precision.
    pub precision: f64,
    /// Pooled recall.
    pub recall: f64,
}

impl TagCalibration {
    /// Applies the thresholds to `set` (embedded from the same vocabulary).
    pub fn apply(&self, set: &mut TagSet) {
        for (name, threshold) in set.names.iter().zip(set.thresholds.iter_mut()) {
            *threshold = self.thresholds.get(name).copied();
        }
    }
}

/// Calibrates the demo vocabulary's thresholds on `train` training pictures and measures them
/// and the library rule on `test` held-out ones. `progress` gets a line per step.
pub fn calibrate_demo(
    model: &Embedder,
    seed: u64,
    train: usize,
    test: usize,
    progress: &dyn Fn(&str),
) -> Result<TagCalibration> {
    let vocabulary = Vocabulary::demo();
    progress("embedding the tags' prompts");
    let mut set = TagSet::embed(&vocabulary, model, &|_| {})?;
    progress("embedding the training pictures");
    let (train_scenes, train_vectors) = embed_split(model, seed, Split::Train, train, &|_| {})?;
    let scores: Vec<Vec<f32>> = train_vectors.iter().map(|v| set.scores(v)).collect();
    let truths: Vec<Vec<String>> = train_scenes.iter().map(demo_truth).collect();
    let mut thresholds = BTreeMap::new();
    for (t, name) in set.names.iter().enumerate() {
        let column: Vec<f32> = scores.iter().map(|s| s[t]).collect();
        let truth: Vec<bool> = truths.iter().map(|tr| tr.contains(name)).collect();
        if let Some(threshold) = calibrate_labelled(&column, &truth, TARGET_PRECISION) {
            thresholds.insert(name.clone(), threshold);
        }
    }
    progress("embedding the held-out pictures");
    let (test_scenes, test_vectors) = embed_split(model, seed, Split::Test, test, &|_| {})?;
    let mut calibration = TagCalibration {
        vocabulary: vocabulary.name,
        seed,
        calibrated_on: train,
        target_precision: TARGET_PRECISION,
        thresholds,
        held_out: test,
        calibrated: Scores::default(),
        library_rule: Scores::default(),
        library_sweep: Vec::new(),
    };
    calibration.apply(&mut set);
    calibration.calibrated = measure(&set, &test_scenes, &test_vectors);
    for sigmas in [1.0, 1.5, 2.0, 2.5, 3.0] {
        if let Some(library) = calibrate_on_library_with(&set, &test_vectors, sigmas) {
            set.thresholds = library;
            let scores = measure(&set, &test_scenes, &test_vectors);
            calibration.library_sweep.push(LibraryRule {
                sigmas,
                precision: scores.precision,
                recall: scores.recall,
            });
            if sigmas == LIBRARY_SIGMAS {
                calibration.library_rule = scores;
            }
        }
    }
    Ok(calibration)
}

/// Precision and recall of `set`'s tags on pictures whose scenes are known.
pub fn measure(set: &TagSet, scenes: &[Scene], vectors: &[Vec<f32>]) -> Scores {
    let n = set.len();
    let (mut tp, mut given, mut truth) = (vec![0u64; n], vec![0u64; n], vec![0u64; n]);
    for (scene, vector) in scenes.iter().zip(vectors) {
        let true_tags = demo_truth(scene);
        let is_true = |t: usize| true_tags.contains(&set.names[t]);
        for (t, count) in truth.iter_mut().enumerate() {
            if is_true(t) {
                *count += 1;
            }
        }
        for g in set.tag(vector) {
            given[g.tag] += 1;
            if is_true(g.tag) {
                tp[g.tag] += 1;
            }
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (all_tp, all_given, all_truth) = (
        tp.iter().sum::<u64>(),
        given.iter().sum::<u64>(),
        truth.iter().sum::<u64>(),
    );
    Scores {
        precision: ratio(all_tp, all_given),
        recall: ratio(all_tp, all_truth),
        given: all_given,
        truth: all_truth,
        per_tag: (0..n)
            .map(|t| {
                (
                    set.names[t].clone(),
                    [
                        ratio(tp[t], given[t]),
                        ratio(tp[t], truth[t]),
                        truth[t] as f64,
                    ],
                )
            })
            .collect(),
    }
}
