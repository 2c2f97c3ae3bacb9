//! Florence-2 against transformers (fp32, CPU backend) on the random-weight checkpoint that
//! `models/scripts/florence2_fixtures.py tiny` wrote: the vision tower's map, the projected
//! image features, the encoder's output and the decoder's logits to 1e-4, our preprocessing
//! of the same files, and the token ids of greedy and beam-search generation, identical, on
//! 20 images.

use serde::Deserialize;
use trove_models::florence2::Florence2;
use trove_models::preprocess::Preprocessor;
use trove_models::{Compute, Pixels};

use crate::util::{fixtures, rgb};

const TOLERANCE: f32 = 1e-4;

#[derive(Debug, Deserialize)]
struct Reference {
    prompt: Vec<u32>,
    decoder_input: Vec<u32>,
    max_new_tokens: usize,
    images: Vec<Record>,
}

#[derive(Debug, Deserialize)]
struct Record {
    image: String,
    greedy: Vec<u32>,
    beam: Vec<u32>,
    #[serde(default)]
    pixel_values: Vec<f32>,
    #[serde(default)]
    pixel_shape: Vec<usize>,
    #[serde(default)]
    vision: Vec<f32>,
    #[serde(default)]
    features: Vec<f32>,
    #[serde(default)]
    encoder: Vec<f32>,
    #[serde(default)]
    logits: Vec<f32>,
}

fn max_diff(a: &[f32], b: &[f32], what: &str) -> f32 {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn flat<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().expect("reads back")
}

#[test]
fn florence2_matches_transformers_tensors_and_generated_ids() {
    let checked = check(&fixtures().join("tiny-florence2"));
    assert!(checked.0 >= 3, "tensors compared on {} images", checked.0);
    assert!(checked.1 >= 20, "ids compared on {} images", checked.1);
}

/// Florence-2-base's configuration with random weights (0.23B parameters, 768×768, 577 image
/// tokens, 51,328 tokens), generated on demand: `.venv/bin/python
/// models/scripts/florence2_fixtures.py base .data/full/florence2-base`, then
/// `TROVE_FULL_FIXTURES=$PWD/.data/full cargo test -p trove-models --test parity florence2 --
/// --ignored --nocapture`.
#[test]
#[ignore = "needs the generated base-size checkpoint (see the doc comment)"]
fn florence2_base_matches_transformers() {
    let dir = std::env::var_os("TROVE_FULL_FIXTURES").expect("set TROVE_FULL_FIXTURES");
    let (tensors, ids) = check(&std::path::Path::new(&dir).join("florence2-base"));
    assert!(tensors >= 1 && ids >= 4);
}

/// Checks one fixture folder; returns on how many images tensors and ids were compared.
fn check(dir: &std::path::Path) -> (usize, usize) {
    let text = std::fs::read_to_string(dir.join("reference.json")).expect("reference.json");
    let r: Reference = serde_json::from_str(&text).expect("valid reference");
    let model = Florence2::load(dir, &Compute::cpu()).expect("loads");
    let report = model.load_report();
    assert!(report.unused.is_empty(), "unused: {:?}", report.unused);
    assert!(report.ignored.is_empty(), "ignored: {:?}", report.ignored);
    let pre = Preprocessor::from_file(&dir.join("preprocessor_config.json")).expect("preprocessor");

    let mut checked = 0;
    for rec in &r.images {
        let (data, w, h) = rgb(&dir.join(&rec.image));
        let ours = pre.prepare(&data, w, h).expect("prepares");
        if !rec.pixel_values.is_empty() {
            let [_, c, ph, pw] = rec.pixel_shape[..] else {
                panic!("pixel_shape {:?}", rec.pixel_shape)
            };
            assert_eq!((c, ph, pw), (3, ours.height, ours.width));
            // 2/255 of the 0..1 range over the smallest ImageNet std (0.225).
            let err = max_diff(&ours.data, &rec.pixel_values, "pixels");
            assert!(
                err <= 2.0 / 255.0 / 0.224,
                "{}: pixels differ by {err}",
                rec.image
            );

            // The tensors, on transformers' own pixel values.
            let theirs = Pixels {
                height: ph,
                width: pw,
                data: rec.pixel_values.clone(),
            };
            let vision = flat(model.vision(std::slice::from_ref(&theirs)).expect("vision"));
            let err = max_diff(&vision, &rec.vision, "vision");
            assert!(
                err <= TOLERANCE,
                "{}: vision map differs by {err}",
                rec.image
            );
            let features = model
                .image_features(std::slice::from_ref(&theirs))
                .expect("features");
            let err = max_diff(&flat(features.clone()), &rec.features, "features");
            assert!(
                err <= TOLERANCE,
                "{}: image features differ by {err}",
                rec.image
            );
            let encoded = model.encode(features, &r.prompt).expect("encodes");
            let err = max_diff(&flat(encoded.clone()), &rec.encoder, "encoder");
            assert!(
                err <= TOLERANCE,
                "{}: encoder output differs by {err}",
                rec.image
            );
            let logits = model.decoder_logits(encoded, &r.decoder_input);
            let err = max_diff(&flat(logits), &rec.logits, "logits");
            assert!(
                err <= TOLERANCE,
                "{}: decoder logits differ by {err}",
                rec.image
            );
            checked += 1;
        }

        // Generation from our own preprocessing, greedy and with the checkpoint's beams.
        let features = model
            .image_features(std::slice::from_ref(&ours))
            .expect("features");
        let encoded = model.encode(features, &r.prompt).expect("encodes");
        let mut greedy = model.settings(r.max_new_tokens);
        greedy.num_beams = 1;
        let ids = model.generate(encoded.clone(), &greedy).expect("greedy");
        assert_eq!(ids, rec.greedy, "{}: greedy ids", rec.image);
        let beam = model.settings(r.max_new_tokens);
        assert_eq!(beam.num_beams, 3, "generation_config.json asks for 3 beams");
        let ids = model.generate(encoded, &beam).expect("beam search");
        assert_eq!(ids, rec.beam, "{}: beam-search ids", rec.image);
    }
    (checked, r.images.len())
}

/// What the trained demo captioner's `training.json` recorded: transformers' captions of the
/// first held-out pictures.
#[derive(Debug, Deserialize)]
struct Training {
    seed: u64,
    examples: Vec<Example>,
}

#[derive(Debug, Deserialize)]
struct Example {
    caption: String,
}

/// The captioner Trove ships (`models/assets/demo-captioner`, trained by
/// `models/scripts/train_captioner.py`) writes, from the generator's own pictures, exactly the
/// captions transformers wrote for them when it was trained: fp16 weights, its tokenizer, the
/// <CAPTION> prompt and beam search, end to end. `TROVE_CAPTIONER` points at another folder.
#[test]
fn the_demo_captioner_writes_what_transformers_wrote() {
    let dir = std::env::var_os("TROVE_CAPTIONER")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo-captioner")
        });
    let training: Training = serde_json::from_str(
        &std::fs::read_to_string(dir.join("training.json")).expect("training.json"),
    )
    .expect("valid training.json");
    let captioner = trove_models::florence2::Captioner::load(&dir, &Compute::cpu()).expect("loads");
    assert!(training.examples.len() >= 10);
    for (i, example) in training.examples.iter().enumerate() {
        let sample = trove_models::synth::generate(
            training.seed,
            trove_models::synth::Split::Test,
            i as u64,
            256,
        );
        let caption = captioner
            .caption(sample.image.as_raw(), 256, 256)
            .expect("captions");
        assert_eq!(caption, example.caption, "held-out picture {i}");
    }
}

#[derive(Debug, Deserialize)]
struct TokenizerCases {
    cases: Vec<TokenizerCase>,
}

#[derive(Debug, Deserialize)]
struct TokenizerCase {
    text: String,
    ids: Vec<u32>,
}

/// Florence-2-base's own tokenizer: Trove's encoding of 1,000 strings (task questions,
/// captions, every script, odd spacing, emoji, location and task tokens) equals transformers'.
#[test]
fn the_florence2_tokenizer_matches_transformers_on_a_thousand_strings() {
    let dir = fixtures().join("florence2-tokenizer");
    let tokenizer = trove_models::florence2::TextTokenizer::load(&dir.join("tokenizer.json"), 0, 2)
        .expect("loads");
    let cases: TokenizerCases =
        serde_json::from_slice(&std::fs::read(dir.join("cases.json")).expect("reads the cases"))
            .expect("parses");
    assert_eq!(cases.cases.len(), 1000);
    let wrong: Vec<&TokenizerCase> = cases
        .cases
        .iter()
        .filter(|c| tokenizer.encode(&c.text).expect("encodes") != c.ids)
        .collect();
    assert!(
        wrong.is_empty(),
        "{} differ, e.g. {:?}",
        wrong.len(),
        wrong.first()
    );
    // And back: the words come out as they went in (trimmed), locations and tasks dropped.
    let ids = tokenizer
        .encode("What does the image describe?")
        .expect("encodes");
    assert_eq!(ids, [0, 2264, 473, 5, 2274, 6190, 116, 2]);
    assert_eq!(
        tokenizer.decode(&ids).expect("decodes"),
        "What does the image describe?"
    );
}
