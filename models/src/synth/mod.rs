//! Trove's own captioned synthetic images: the demo library, and the data the demo model is
//! trained and evaluated on.
//!
//! Every image is a pure function of `(seed, split, index)`: shapes in eight colours, two
//! sizes, five positions and counts of one to four on plain or patterned backgrounds; signs
//! with a word; memes with top and bottom captions in outlined letters. Each comes with a
//! [`Scene`] that says exactly what it shows, so any [`Query`]'s relevant images are known.

mod draw;
mod font;
mod scene;

use std::f32::consts::{FRAC_PI_4, PI};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use image::RgbImage;
use rayon::prelude::*;
use serde::Serialize;

pub use scene::{
    Background, Colour, Group, ObjectQuery, Position, Query, Scene, Shape, Size, WORDS,
};

use crate::error::{Error, Result};
use crate::preprocess::resize_rgb;
use draw::{Blob, Drawing, Fill, Item};

/// Which half of the data an image belongs to. The test split never overlaps the training
/// split: its images come from a different random stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// What the model is trained on.
    Train,
    /// Held out for evaluation and the demo library.
    Test,
}

/// One generated image and what it shows.
#[derive(Debug, Clone)]
pub struct Sample {
    /// What the image shows.
    pub scene: Scene,
    /// The pixels.
    pub image: RgbImage,
}

/// The side of the square images the generator draws by default.
pub const DEFAULT_SIZE: u32 = 256;

/// Generates image `index` of `split` for `seed` at `size`×`size` pixels.
pub fn generate(seed: u64, split: Split, index: u64, size: u32) -> Sample {
    let stream = match split {
        Split::Train => 0x7261_696e,
        Split::Test => 0x7465_7374,
    };
    let mut rng = Rng::new(seed).fork(stream).fork(index);
    let (scene, drawing) = sample(&mut rng);
    Sample {
        scene,
        image: drawing.render(size),
    }
}

/// How [`write_set`] stores the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// One PNG per image (`000000.png`, …).
    Png,
    /// All images resized (Pillow's bicubic, as CLIP's preprocessing) to `n`×`n` and appended
    /// as raw RGB bytes to `pixels-<n>.u8`, for training.
    Pixels(u32),
}

/// One line of `captions.jsonl`.
#[derive(Debug, Serialize)]
struct Record<'a> {
    index: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    caption: String,
    captions: Vec<String>,
    scene: &'a Scene,
}

/// Writes images `0..count` of `split` into `dir` with `captions.jsonl` (one JSON object per
/// image: `index`, `file`, `caption`, `captions` (true shorter descriptions too), `scene`).
/// `progress` is called with the number written so far.
pub fn write_set(
    dir: &Path,
    seed: u64,
    split: Split,
    count: u64,
    size: u32,
    output: Output,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    let captions_path = dir.join("captions.jsonl");
    let mut captions =
        BufWriter::new(File::create(&captions_path).map_err(write_err(&captions_path))?);
    let pixels_path = match output {
        Output::Png => None,
        Output::Pixels(n) => Some(dir.join(format!("pixels-{n}.u8"))),
    };
    let mut pixels = match &pixels_path {
        Some(p) => Some(BufWriter::new(File::create(p).map_err(write_err(p))?)),
        None => None,
    };
    const CHUNK: u64 = 256;
    let mut done = 0;
    while done < count {
        let end = (done + CHUNK).min(count);
        let chunk = (done..end)
            .into_par_iter()
            .map(|index| -> Result<(u64, Scene, Option<String>, Vec<u8>)> {
                let sample = generate(seed, split, index, size);
                match output {
                    Output::Png => {
                        let name = format!("{index:06}.png");
                        let path = dir.join(&name);
                        sample.image.save(&path).map_err(|e| Error::Write {
                            path,
                            source: std::io::Error::other(e),
                        })?;
                        Ok((index, sample.scene, Some(name), Vec::new()))
                    }
                    Output::Pixels(n) => {
                        let n = n as usize;
                        let side = size as usize;
                        let small = resize_rgb(sample.image.as_raw(), side, side, n, n, 3)?;
                        Ok((index, sample.scene, None, small))
                    }
                }
            })
            .collect::<Result<Vec<_>>>()?;
        for (index, scene, file, bytes) in chunk {
            let record = Record {
                index,
                file,
                caption: scene.caption(),
                captions: scene.descriptions().iter().map(Query::text).fold(
                    Vec::new(),
                    |mut v, t| {
                        if !v.contains(&t) {
                            v.push(t);
                        }
                        v
                    },
                ),
                scene: &scene,
            };
            serde_json::to_writer(&mut captions, &record)
                .map_err(|e| Error::Write {
                    path: captions_path.clone(),
                    source: std::io::Error::other(e),
                })
                .and_then(|()| captions.write_all(b"\n").map_err(write_err(&captions_path)))?;
            if let (Some(w), Some(p)) = (pixels.as_mut(), &pixels_path) {
                w.write_all(&bytes).map_err(write_err(p))?;
            }
        }
        done = end;
        progress(done);
    }
    captions.flush().map_err(write_err(&captions_path))?;
    if let (Some(mut w), Some(p)) = (pixels, &pixels_path) {
        w.flush().map_err(write_err(p))?;
    }
    Ok(())
}

/// SplitMix64: small, fast, and the same on every platform and version.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A generator for a sub-stream, independent of this one's future output.
    fn fork(&self, stream: u64) -> Self {
        let mut r = Rng(self.0 ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng(r.next_u64())
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }
}

/// Pale tones for patterned backgrounds, far from every named colour.
const PALE: [[f32; 3]; 6] = [
    [222.0, 222.0, 222.0],
    [236.0, 226.0, 200.0],
    [202.0, 216.0, 236.0],
    [210.0, 234.0, 214.0],
    [240.0, 214.0, 224.0],
    [228.0, 228.0, 204.0],
];

fn jitter(rng: &mut Rng, rgb: [f32; 3], amount: f32) -> [f32; 3] {
    rgb.map(|v| (v + rng.range(-amount, amount)).clamp(0.0, 255.0))
}

fn darker(rgb: [f32; 3], by: f32) -> [f32; 3] {
    rgb.map(|v| (v - by).max(0.0))
}

/// Colours that read poorly on each other.
fn clash(a: Colour, b: Colour) -> bool {
    a == b
        || matches!(
            (a, b),
            (Colour::White, Colour::Yellow) | (Colour::Yellow, Colour::White)
        )
}

fn sample(rng: &mut Rng) -> (Scene, Drawing) {
    let roll = rng.unit();
    let mut drawing = Drawing {
        fill: Fill::Plain {
            rgb: [255.0; 3],
            gradient: 0.0,
        },
        items: Vec::new(),
        noise: rng.range(1.5, 5.0),
        noise_seed: rng.next_u64(),
    };
    let scene = if roll < 0.5 {
        one_group(rng, &mut drawing)
    } else if roll < 0.7 {
        two_groups(rng, &mut drawing)
    } else if roll < 0.85 {
        sign(rng, &mut drawing)
    } else {
        meme(rng, &mut drawing)
    };
    (scene, drawing)
}

/// A background whose colour (if plain) clashes with none of `avoid`.
fn background(rng: &mut Rng, avoid: &[Colour], patterns: bool) -> (Background, Fill) {
    if patterns && rng.chance(0.4) {
        let a = rng.pick(&PALE);
        let mut b = rng.pick(&PALE);
        if a == b {
            b = darker(b, 30.0);
        }
        let (a, b) = (jitter(rng, a, 6.0), darker(jitter(rng, b, 6.0), 18.0));
        return match rng.below(3) {
            0 => (
                Background::Striped,
                Fill::Stripes {
                    a,
                    b,
                    angle: rng.below(4) as f32 * FRAC_PI_4 + rng.range(-0.1, 0.1),
                    period: rng.range(0.06, 0.14),
                },
            ),
            1 => (
                Background::Checkered,
                Fill::Checks {
                    a,
                    b,
                    period: rng.range(0.08, 0.16),
                },
            ),
            _ => {
                let period = rng.range(0.08, 0.14);
                (
                    Background::Dotted,
                    Fill::Dots {
                        a,
                        b: darker(b, 40.0),
                        period,
                        radius: period * rng.range(0.18, 0.3),
                    },
                )
            }
        };
    }
    let choices: Vec<Colour> = Colour::ALL
        .into_iter()
        .filter(|c| avoid.iter().all(|a| !clash(*a, *c)))
        .collect();
    let colour = rng.pick(&choices);
    (
        Background::Plain(colour),
        Fill::Plain {
            rgb: jitter(rng, colour.rgb(), 10.0),
            gradient: rng.range(-25.0, 25.0),
        },
    )
}

/// Places `count` shapes of circumradius about `r` without overlaps; returns their centres
/// and the radius used.
fn scatter(
    rng: &mut Rng,
    count: usize,
    mut r: f32,
    taken: &[(f32, f32, f32)],
) -> Vec<(f32, f32, f32)> {
    loop {
        let mut placed: Vec<(f32, f32, f32)> = Vec::with_capacity(count);
        for _ in 0..count {
            for _ in 0..200 {
                let rr = r * rng.range(0.92, 1.08);
                let lo = rr + 0.03;
                let (x, y) = (rng.range(lo, 1.0 - lo), rng.range(lo, 1.0 - lo));
                let free = placed.iter().chain(taken).all(|&(px, py, pr)| {
                    ((x - px).powi(2) + (y - py).powi(2)).sqrt() > rr + pr + 0.03
                });
                if free {
                    placed.push((x, y, rr));
                    break;
                }
            }
        }
        if placed.len() == count {
            return placed;
        }
        r *= 0.9;
    }
}

fn angle_for(rng: &mut Rng, shape: Shape) -> f32 {
    match shape {
        Shape::Circle => 0.0,
        Shape::Square | Shape::Star => rng.range(0.0, 2.0 * PI),
        Shape::Triangle | Shape::Heart | Shape::Cross => rng.range(-0.3, 0.3),
    }
}

fn one_group(rng: &mut Rng, drawing: &mut Drawing) -> Scene {
    let shape = rng.pick(&Shape::ALL);
    let colour = rng.pick(&Colour::ALL);
    let count = match rng.unit() {
        u if u < 0.55 => 1,
        u if u < 0.7 => 2,
        u if u < 0.85 => 3,
        _ => 4,
    };
    let size = if count <= 2 && rng.chance(0.5) {
        Size::Large
    } else {
        Size::Small
    };
    let (bg, fill) = background(rng, &[colour], colour != Colour::White);
    drawing.fill = fill;
    let base_r = match size {
        Size::Large => rng.range(0.18, 0.22),
        Size::Medium => rng.range(0.12, 0.15),
        Size::Small => rng.range(0.085, 0.115),
    };
    let position = (count == 1).then(|| rng.pick(&Position::ALL));
    let spots = match position {
        Some(p) => {
            let off = match size {
                Size::Large => base_r + 0.05 + rng.range(0.0, 0.03),
                Size::Small | Size::Medium => rng.range(0.18, 0.27),
            };
            let across = 0.5 + rng.range(-0.04, 0.04);
            let (x, y) = match p {
                Position::Left => (off, across),
                Position::Right => (1.0 - off, across),
                Position::Top => (across, off),
                Position::Bottom => (across, 1.0 - off),
                Position::Center => (0.5 + rng.range(-0.03, 0.03), 0.5 + rng.range(-0.03, 0.03)),
            };
            vec![(x, y, base_r)]
        }
        None => scatter(rng, usize::from(count), base_r, &[]),
    };
    let rgb = jitter(rng, colour.rgb(), 12.0);
    for (x, y, r) in spots {
        drawing.items.push(Item::Shape {
            shape,
            rgb,
            x,
            y,
            r,
            angle: angle_for(rng, shape),
        });
    }
    Scene::Shapes {
        background: bg,
        groups: vec![Group {
            shape,
            colour,
            size,
            count,
            position,
        }],
    }
}

fn two_groups(rng: &mut Rng, drawing: &mut Drawing) -> Scene {
    let (a_shape, a_colour) = (rng.pick(&Shape::ALL), rng.pick(&Colour::ALL));
    let b_shapes: Vec<Shape> = Shape::ALL.into_iter().filter(|s| *s != a_shape).collect();
    let b_colours: Vec<Colour> = Colour::ALL
        .into_iter()
        .filter(|c| !clash(*c, a_colour))
        .collect();
    let (b_shape, b_colour) = (rng.pick(&b_shapes), rng.pick(&b_colours));
    let counts = [1 + rng.below(2) as u8, 1 + rng.below(2) as u8];
    let plain_only = a_colour == Colour::White || b_colour == Colour::White;
    let (bg, fill) = background(rng, &[a_colour, b_colour], !plain_only);
    drawing.fill = fill;
    let r = rng.range(0.12, 0.15);
    let mut taken: Vec<(f32, f32, f32)> = Vec::new();
    let mut groups = Vec::with_capacity(2);
    for ((shape, colour), count) in [(a_shape, a_colour), (b_shape, b_colour)]
        .into_iter()
        .zip(counts)
    {
        let rgb = jitter(rng, colour.rgb(), 12.0);
        let spots = scatter(rng, usize::from(count), r, &taken);
        for &(x, y, rr) in &spots {
            drawing.items.push(Item::Shape {
                shape,
                rgb,
                x,
                y,
                r: rr,
                angle: angle_for(rng, shape),
            });
        }
        taken.extend(spots);
        groups.push(Group {
            shape,
            colour,
            size: Size::Medium,
            count,
            position: None,
        });
    }
    Scene::Shapes {
        background: bg,
        groups,
    }
}

/// Text height for `word` at `height`, shrunk to fit `max_width`.
fn fit(word: &str, height: f32, max_width: f32) -> (f32, f32) {
    let cells = (word.len() * 6 - 1) as f32 / 7.0;
    let h = height.min(max_width / cells);
    (h, h * cells)
}

fn sign(rng: &mut Rng, drawing: &mut Drawing) -> Scene {
    let word = rng.pick(&WORDS);
    let (bg, fill) = background(rng, &[Colour::White], true);
    drawing.fill = fill;
    let (h, w) = fit(word, rng.range(0.18, 0.24), 0.84);
    let (cx, cy) = (0.5 + rng.range(-0.04, 0.04), 0.5 + rng.range(-0.08, 0.08));
    let pad = rng.range(0.05, 0.08);
    let board = rng.pick(&[
        [246.0, 246.0, 240.0],
        [250.0, 232.0, 140.0],
        [205.0, 228.0, 245.0],
    ]);
    drawing.items.push(Item::Board {
        x0: cx - w / 2.0 - pad,
        y0: cy - h / 2.0 - pad,
        x1: cx + w / 2.0 + pad,
        y1: cy + h / 2.0 + pad,
        rgb: jitter(rng, board, 6.0),
        border: jitter(rng, [60.0, 60.0, 66.0], 10.0),
        border_width: rng.range(0.008, 0.02),
    });
    drawing.items.push(Item::Text {
        text: word,
        x: cx,
        top: cy - h / 2.0,
        height: h,
        rgb: rng.pick(&[[20.0, 20.0, 20.0], [150.0, 20.0, 20.0], [20.0, 40.0, 120.0]]),
        outline: None,
    });
    Scene::Sign {
        word,
        background: bg,
    }
}

fn meme(rng: &mut Rng, drawing: &mut Drawing) -> Scene {
    let top = rng.pick(&WORDS);
    let others: Vec<&'static str> = WORDS.into_iter().filter(|w| *w != top).collect();
    let bottom = rng.pick(&others);
    let tone = |rng: &mut Rng| [0, 1, 2].map(|_| rng.range(40.0, 210.0));
    let blobs = (0..3 + rng.below(4))
        .map(|_| Blob {
            x: rng.unit(),
            y: rng.range(0.2, 0.8),
            r: rng.range(0.1, 0.3),
            rgb: tone(rng),
        })
        .collect();
    drawing.fill = Fill::Photo {
        top: tone(rng),
        bottom: tone(rng),
        blobs,
    };
    let height = rng.range(0.15, 0.19);
    for (word, at_top) in [(top, true), (bottom, false)] {
        let (h, _) = fit(word, height, 0.9);
        let margin = rng.range(0.04, 0.06);
        drawing.items.push(Item::Text {
            text: word,
            x: 0.5 + rng.range(-0.02, 0.02),
            top: if at_top { margin } else { 1.0 - margin - h },
            height: h,
            rgb: [250.0, 250.0, 250.0],
            outline: Some([10.0, 10.0, 10.0]),
        });
    }
    Scene::Meme { top, bottom }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_splits_differ() {
        let a = generate(7, Split::Train, 3, 64);
        let b = generate(7, Split::Train, 3, 64);
        assert_eq!(a.scene, b.scene);
        assert_eq!(a.image, b.image);
        let differ = (0..20)
            .filter(|&i| {
                generate(7, Split::Train, i, 32).image != generate(7, Split::Test, i, 32).image
            })
            .count();
        assert_eq!(differ, 20);
    }

    #[test]
    fn every_description_matches_its_own_scene() {
        for i in 0..500 {
            let s = generate(1, Split::Test, i, 8).scene;
            for q in s.descriptions() {
                assert!(q.matches(&s), "{:?} does not match {s:?}", q.text());
            }
        }
    }

    #[test]
    fn captions_read_naturally() {
        let lone = Scene::Shapes {
            background: Background::Plain(Colour::Blue),
            groups: vec![Group {
                shape: Shape::Circle,
                colour: Colour::Orange,
                size: Size::Large,
                count: 1,
                position: Some(Position::Left),
            }],
        };
        assert_eq!(
            lone.caption(),
            "a large orange circle on the left on a blue background"
        );
        let pair = Scene::Shapes {
            background: Background::Striped,
            groups: vec![
                Group {
                    shape: Shape::Star,
                    colour: Colour::Orange,
                    size: Size::Medium,
                    count: 1,
                    position: None,
                },
                Group {
                    shape: Shape::Heart,
                    colour: Colour::Red,
                    size: Size::Medium,
                    count: 2,
                    position: None,
                },
            ],
        };
        assert_eq!(
            pair.caption(),
            "an orange star and two red hearts on a striped background"
        );
        let meme = Scene::Meme {
            top: "monday",
            bottom: "again",
        };
        assert_eq!(meme.caption(), "a meme that says monday again");
        let texts: Vec<String> = meme.descriptions().iter().map(Query::text).collect();
        assert_eq!(
            texts,
            [
                "a meme that says monday again",
                "a meme that says monday",
                "a meme that says again"
            ]
        );
    }

    #[test]
    fn relevance_follows_the_attributes() {
        let s = Scene::Shapes {
            background: Background::Dotted,
            groups: vec![Group {
                shape: Shape::Triangle,
                colour: Colour::Green,
                size: Size::Small,
                count: 3,
                position: None,
            }],
        };
        let q = |shape, colour| Query::Objects {
            objects: vec![ObjectQuery::any(shape, colour)],
            background: None,
        };
        assert!(q(Shape::Triangle, Colour::Green).matches(&s));
        assert!(!q(Shape::Triangle, Colour::Red).matches(&s));
        assert!(!q(Shape::Square, Colour::Green).matches(&s));
        assert!(!Query::Sign { word: "hello" }.matches(&s));
        let two = Query::Objects {
            objects: vec![ObjectQuery {
                count: Some(2),
                ..ObjectQuery::any(Shape::Triangle, Colour::Green)
            }],
            background: None,
        };
        assert!(!two.matches(&s), "three is not two");
    }

    #[test]
    fn images_are_drawn_with_the_scene_colours() {
        // A lone large shape covers a good share of pixels near its colour.
        for i in 0..200 {
            let sample = generate(3, Split::Train, i, 64);
            if let Scene::Shapes { groups, .. } = &sample.scene {
                if groups.len() == 1 && groups[0].size == Size::Large {
                    let want = groups[0].colour.rgb();
                    let near = sample
                        .image
                        .pixels()
                        .filter(|p| (0..3).all(|c| (f32::from(p.0[c]) - want[c]).abs() < 30.0))
                        .count();
                    assert!(near > 64 * 64 / 50, "image {i}: {near} pixels of {want:?}");
                }
            }
        }
    }
}
