//! CLIP's tokenizer (built from the real BPE vocabulary) against transformers' CLIPTokenizer
//! on 1,200 varied strings: English, Japanese, emoji, punctuation, a 500-word text.

use serde::Deserialize;
use trove_models::tokenizer::{TextPooling, TextTokenizer};

use crate::util::fixtures;

#[derive(Deserialize)]
struct Tokens {
    strings: Vec<String>,
    ids: Vec<Vec<u32>>,
}

#[test]
fn clip_tokenizer_matches_transformers_exactly() {
    let path = fixtures().join("tiny-clip/tokenizer.json");
    let tok = TextTokenizer::from_file(&path, 77, TextPooling::EndOfText { eos_id: 49407 })
        .expect("loads");
    let text = std::fs::read_to_string(fixtures().join("clip-tokens.json")).expect("fixture");
    let cases: Tokens = serde_json::from_str(&text).expect("json");
    assert!(cases.strings.len() >= 1000);
    let mut mismatches = Vec::new();
    for (s, want) in cases.strings.iter().zip(&cases.ids) {
        let got = tok.encode(s).expect("encodes");
        if &got != want {
            mismatches.push(format!("{s:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} differ, first: {}",
        mismatches.len(),
        cases.strings.len(),
        mismatches[0]
    );
    // Long inputs are cut to the context with end-of-text kept last.
    let long = cases.strings.iter().map(String::len).max().expect("some");
    assert!(long > 2000);
    let ids = tok
        .encode(
            cases
                .strings
                .iter()
                .find(|s| s.len() == long)
                .expect("long"),
        )
        .expect("encodes");
    assert_eq!(ids.len(), 77);
    assert_eq!(ids[76], 49407);
}

#[test]
fn clip_batches_stop_at_the_longest_end_of_text() {
    let path = fixtures().join("tiny-clip/tokenizer.json");
    let tok = TextTokenizer::from_file(&path, 77, TextPooling::EndOfText { eos_id: 49407 })
        .expect("loads");
    let batch = tok
        .encode_batch(&["money", "a red circle"])
        .expect("encodes");
    // <start> money <end> / <start> a red circle <end>
    assert_eq!(batch.seq, 5);
    assert_eq!(batch.pool_positions, vec![2, 4]);
    assert_eq!(batch.ids[0], 49406);
}
