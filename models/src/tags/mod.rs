//! Zero-shot tags: the embedding model's own text tower names what a picture shows, from a
//! vocabulary of everyday concepts, each with a threshold of its own.
//!
//! A tag's text embedding is the normalised mean of its prompts' (a prompt ensemble: "itap of
//! a {}.", "art of the {}.", …). A picture gets a tag when its cosine to the tag reaches the
//! tag's threshold; at most [`MAX_TAGS`] per picture, the clearest first. Thresholds are either
//! calibrated on labelled pictures (the demo model's, on generated pictures whose truth is
//! known: [`calibrate_labelled`]) or, for a real checkpoint where no labels exist, on the
//! library itself ([`calibrate_on_library`]): a tag fires only on pictures that stand out from
//! the library by [`LIBRARY_SIGMAS`] robust standard deviations of that tag's own scores, so a tag
//! that is vaguely close to everything ("image", "photo") stays quiet, and precision is
//! preferred to plenty.

use serde::{Deserialize, Serialize};

use crate::embedder::Embedder;
use crate::error::Result;
use crate::synth::{Background, Colour, Scene, Shape, WORDS};

pub mod eval;

/// At most this many tags per picture.
pub const MAX_TAGS: usize = 8;
/// A library-calibrated tag fires this many robust standard deviations above its library
/// median (on the demo model's held-out pictures, 2.0 gave the most precise tags that still
/// fire: see `trove model calibrate-tags`).
pub const LIBRARY_SIGMAS: f32 = 2.0;
/// Calibrating on a library needs at least this many embedded pictures.
pub const LIBRARY_MIN_IMAGES: usize = 50;
/// Prompts embedded per batch.
const PROMPT_BATCH: usize = 64;

/// One tag of a vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagSpec {
    /// The tag as shown and searched (`tag:name`).
    pub name: String,
    /// The prompts whose mean embedding stands for it.
    pub prompts: Vec<String>,
}

/// How a tag's prompts make its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The prompts say the same thing in different words (templates): the tag is their
    /// normalised mean embedding, a prompt ensemble.
    Mean,
    /// The prompts are different cases of the tag ("a red circle", "a red star" for "red"): a
    /// picture's score is its best prompt's.
    Max,
}

/// A tag vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vocabulary {
    /// What it is ("ram-4585", "trove-demo").
    pub name: String,
    /// How prompts are pooled.
    pub pooling: Pooling,
    /// Its tags, in a fixed order.
    pub tags: Vec<TagSpec>,
}

impl Vocabulary {
    /// The built-in everyday vocabulary: the Recognize Anything list (4,585 concepts,
    /// Apache-2.0) with the seven prompt templates of OpenAI's CLIP notebook (see
    /// `models/assets/tags/README.txt`).
    pub fn everyday() -> Self {
        let templates: Vec<&str> = include_str!("../../assets/tags/clip-templates.txt")
            .lines()
            .filter(|l| l.contains("{}"))
            .collect();
        let tags = include_str!("../../assets/tags/ram-tags.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|name| TagSpec {
                name: name.to_owned(),
                prompts: templates.iter().map(|t| t.replace("{}", name)).collect(),
            })
            .collect();
        Vocabulary {
            name: "ram-4585".into(),
            pooling: Pooling::Mean,
            tags,
        }
    }

    /// The demo model's vocabulary: what Trove's generated pictures show (colours, shapes,
    /// backgrounds, signs, memes), each tag with prompts phrased as the generator's captions.
    /// [`demo_truth`] says which of these tags are true of a scene.
    pub fn demo() -> Self {
        let mut tags = Vec::new();
        let objects = |colour: Option<Colour>, shape: Option<Shape>| -> Vec<String> {
            let mut prompts = Vec::new();
            for c in Colour::ALL {
                for s in Shape::ALL {
                    if colour.is_none_or(|x| x == c) && shape.is_none_or(|x| x == s) {
                        prompts.push(format!("{} {} {}", article(c.name()), c.name(), s.name()));
                    }
                }
            }
            prompts
        };
        for colour in Colour::ALL {
            tags.push(TagSpec {
                name: colour.name().to_owned(),
                prompts: objects(Some(colour), None),
            });
        }
        for shape in Shape::ALL {
            tags.push(TagSpec {
                name: shape.name().to_owned(),
                prompts: objects(None, Some(shape)),
            });
        }
        let backgrounds = Colour::ALL.into_iter().map(Background::Plain).chain([
            Background::Striped,
            Background::Checkered,
            Background::Dotted,
        ]);
        for background in backgrounds {
            let name = background.name();
            let prompts = objects(None, None)
                .into_iter()
                .filter(|p| !p.contains(&format!(" {name} ")))
                .map(|p| format!("{p} on {} {name} background", article(name)))
                .collect();
            tags.push(TagSpec {
                name: format!("{name} background"),
                prompts,
            });
        }
        for (name, lead) in [("sign", "a sign that says"), ("meme", "a meme that says")] {
            tags.push(TagSpec {
                name: name.to_owned(),
                prompts: WORDS.iter().map(|w| format!("{lead} {w}")).collect(),
            });
        }
        Vocabulary {
            name: "trove-demo".into(),
            pooling: Pooling::Max,
            tags,
        }
    }
}

/// The demo vocabulary's tags that are true of `scene`.
pub fn demo_truth(scene: &Scene) -> Vec<String> {
    let mut truth = Vec::new();
    let background = |b: &Background| format!("{} background", b.name());
    match scene {
        Scene::Shapes {
            background: b,
            groups,
        } => {
            for g in groups {
                truth.push(g.colour.name().to_owned());
                truth.push(g.shape.name().to_owned());
            }
            truth.push(background(b));
        }
        Scene::Sign { background: b, .. } => {
            truth.push("sign".into());
            truth.push(background(b));
        }
        Scene::Meme { .. } => truth.push("meme".into()),
    }
    truth.sort();
    truth.dedup();
    truth
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A vocabulary embedded by one model: its unit vectors (one per tag, or one per prompt when
/// prompts are pooled by their best) and one threshold per tag.
#[derive(Debug, Clone, PartialEq)]
pub struct TagSet {
    /// The tags' names, in the vocabulary's order.
    pub names: Vec<String>,
    /// Row-major, `owners.len() × dim`, each row of unit length.
    pub vectors: Vec<f32>,
    /// The tag each row stands for, ascending.
    pub owners: Vec<u32>,
    /// The embedding width.
    pub dim: usize,
    /// Per tag: the cosine a picture must reach (`None`: the tag never fires).
    pub thresholds: Vec<Option<f32>>,
}

/// One tag given to a picture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Given {
    /// The tag's index in its set.
    pub tag: usize,
    /// The picture's cosine to the tag.
    pub score: f32,
}

impl TagSet {
    /// Embeds every tag's prompts with `model` (thresholds unset). `progress` gets the tags
    /// done so far.
    pub fn embed(
        vocabulary: &Vocabulary,
        model: &Embedder,
        progress: &dyn Fn(usize),
    ) -> Result<Self> {
        let dim = model.dim();
        let mut vectors = Vec::with_capacity(vocabulary.tags.len() * dim);
        let mut owners = Vec::with_capacity(vocabulary.tags.len());
        // Whole tags per batch, so a tag's prompts are pooled as they come.
        let mut start = 0;
        while start < vocabulary.tags.len() {
            let mut end = start;
            let mut prompts: Vec<&str> = Vec::new();
            while end < vocabulary.tags.len()
                && (prompts.is_empty()
                    || prompts.len() + vocabulary.tags[end].prompts.len() <= PROMPT_BATCH)
            {
                prompts.extend(vocabulary.tags[end].prompts.iter().map(String::as_str));
                end += 1;
            }
            let embedded = model.embed_texts(&prompts)?;
            let mut rows = embedded.into_iter();
            for (tag, spec) in vocabulary.tags[start..end].iter().enumerate() {
                let owner = u32::try_from(start + tag).unwrap_or(u32::MAX);
                let mine = rows.by_ref().take(spec.prompts.len());
                match vocabulary.pooling {
                    Pooling::Mean => {
                        let mut mean = vec![0.0f32; dim];
                        for row in mine {
                            for (m, v) in mean.iter_mut().zip(row) {
                                *m += v;
                            }
                        }
                        normalise(&mut mean);
                        vectors.extend(mean);
                        owners.push(owner);
                    }
                    Pooling::Max => {
                        for row in mine {
                            vectors.extend(row);
                            owners.push(owner);
                        }
                    }
                }
            }
            progress(end);
            start = end;
        }
        Ok(TagSet {
            names: vocabulary.tags.iter().map(|t| t.name.clone()).collect(),
            vectors,
            owners,
            dim,
            thresholds: vec![None; vocabulary.tags.len()],
        })
    }

    /// How many tags.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the set has no tags.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The picture's cosine to every tag (`image` of unit length).
    pub fn scores(&self, image: &[f32]) -> Vec<f32> {
        let mut scores = vec![f32::NEG_INFINITY; self.names.len()];
        for (row, &owner) in self.vectors.chunks_exact(self.dim).zip(&self.owners) {
            let s = &mut scores[owner as usize];
            *s = s.max(dot(row, image));
        }
        scores
    }

    /// The tags `image` reaches, clearest first (by how far above its threshold, in units of
    /// the distance between the threshold and a perfect match), at most [`MAX_TAGS`].
    pub fn tag(&self, image: &[f32]) -> Vec<Given> {
        let mut given: Vec<(f32, Given)> = self
            .scores(image)
            .into_iter()
            .enumerate()
            .filter_map(|(tag, score)| {
                let threshold = self.thresholds[tag]?;
                (score >= threshold).then(|| {
                    let margin = (score - threshold) / (1.0 - threshold).max(1e-3);
                    (margin, Given { tag, score })
                })
            })
            .collect();
        given.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.tag.cmp(&b.1.tag)));
        given.truncate(MAX_TAGS);
        given.into_iter().map(|(_, g)| g).collect()
    }
}

/// Thresholds from the library's own pictures: per tag, the median of its cosines over
/// `images` plus [`LIBRARY_SIGMAS`] robust standard deviations (1.4826 × the median absolute
/// deviation), so the pictures that have the tag, as long as they are fewer than half, do not
/// widen the spread they are measured against. `None` below [`LIBRARY_MIN_IMAGES`] pictures.
pub fn calibrate_on_library(set: &TagSet, images: &[Vec<f32>]) -> Option<Vec<Option<f32>>> {
    calibrate_on_library_with(set, images, LIBRARY_SIGMAS)
}

/// [`calibrate_on_library`] with `sigmas` robust standard deviations.
pub fn calibrate_on_library_with(
    set: &TagSet,
    images: &[Vec<f32>],
    sigmas: f32,
) -> Option<Vec<Option<f32>>> {
    if images.len() < LIBRARY_MIN_IMAGES {
        return None;
    }
    let n = set.len();
    let mut columns = vec![Vec::with_capacity(images.len()); n];
    for image in images {
        for (t, s) in set.scores(image).into_iter().enumerate() {
            columns[t].push(s);
        }
    }
    Some(
        columns
            .into_iter()
            .map(|mut column| {
                let middle = median(&mut column);
                let mut deviations: Vec<f32> = column.iter().map(|s| (s - middle).abs()).collect();
                let spread = 1.4826 * median(&mut deviations);
                Some(sigmas.mul_add(spread, middle))
            })
            .collect(),
    )
}

fn median(values: &mut [f32]) -> f32 {
    values.sort_by(f32::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The lowest threshold at which the pictures scoring at least it are `precision`-precise
/// (truth known), so recall is as high as that precision allows; `None` when no threshold is,
/// or when no picture has the tag.
pub fn calibrate_labelled(scores: &[f32], truth: &[bool], precision: f64) -> Option<f32> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen) = (0u32, 0u32);
    let mut best = None;
    for (rank, &i) in order.iter().enumerate() {
        seen += 1;
        if truth[i] {
            tp += 1;
        }
        // Only where the score changes, so tied pictures are all in or all out.
        let boundary = order.get(rank + 1).is_none_or(|&j| scores[j] < scores[i]);
        if boundary && tp > 0 && f64::from(tp) / f64::from(seen) >= precision {
            best = Some(scores[i]);
        }
    }
    best
}

fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, Split};

    #[test]
    fn the_everyday_vocabulary_is_the_ram_list_with_seven_prompts() {
        let v = Vocabulary::everyday();
        assert_eq!(v.tags.len(), 4585);
        assert_eq!(v.tags[0].name, "3D CG rendering");
        assert!(v.tags.iter().all(|t| t.prompts.len() == 7));
        assert_eq!(v.tags[2].prompts[0], "itap of a abacus.");
    }

    #[test]
    fn demo_truth_names_only_the_vocabulary_and_what_the_scene_shows() {
        let names: Vec<String> = Vocabulary::demo()
            .tags
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names.len(), 8 + 6 + 11 + 2);
        for i in 0..300 {
            let scene = synth::generate(3, Split::Test, i, 8).scene;
            let truth = demo_truth(&scene);
            assert!(!truth.is_empty());
            for tag in &truth {
                assert!(names.contains(tag), "{tag}");
            }
            if let Scene::Meme { .. } = scene {
                assert_eq!(truth, ["meme"]);
            }
        }
    }

    #[test]
    fn labelled_calibration_keeps_the_precision_asked_for() {
        let scores = [0.9, 0.8, 0.7, 0.7, 0.6, 0.5, 0.4];
        let truth = [true, true, false, true, true, false, false];
        // 0.6 keeps 4 of 5 right (0.8); 0.7 keeps 3 of 4 (0.75).
        assert_eq!(calibrate_labelled(&scores, &truth, 0.8), Some(0.6));
        assert_eq!(calibrate_labelled(&scores, &truth, 1.0), Some(0.8));
        assert_eq!(calibrate_labelled(&scores, &[false; 7], 0.5), None);
    }

    #[test]
    fn tags_fire_above_their_thresholds_clearest_first() {
        let set = TagSet {
            names: vec!["a".into(), "b".into(), "c".into()],
            vectors: vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8],
            owners: vec![0, 1, 2],
            dim: 2,
            thresholds: vec![Some(0.5), Some(0.9), None],
        };
        let given = set.tag(&[0.8, 0.6]);
        assert_eq!(given.iter().map(|g| g.tag).collect::<Vec<_>>(), [0]);
        assert!((given[0].score - 0.8).abs() < 1e-6);
        assert!(set.tag(&[0.0, 1.0]).iter().all(|g| g.tag == 1));
    }

    #[test]
    fn library_calibration_sits_above_the_usual_score() {
        let set = TagSet {
            names: vec!["x".into()],
            vectors: vec![1.0, 0.0],
            owners: vec![0],
            dim: 2,
            thresholds: vec![None],
        };
        let images: Vec<Vec<f32>> = (0..100)
            .map(|i| {
                let a = (i as f32 / 100.0).mul_add(0.2, 0.3);
                vec![a.cos(), a.sin()]
            })
            .collect();
        let t =
            calibrate_on_library(&set, &images).expect("enough pictures")[0].expect("a threshold");
        assert!(t > images.iter().map(|v| v[0]).sum::<f32>() / 100.0);
        assert!(calibrate_on_library(&set, &images[..10]).is_none());
    }
}
