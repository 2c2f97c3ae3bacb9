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

#[derive(Deserialize)]
struct SpieceTokens {
    strings: Vec<String>,
    ids: Vec<Vec<u32>>,
    padded: Vec<Vec<u32>>,
}

/// Checks a folder's `spiece.model` against its `tokens.json` (from `make_fixtures.py`).
fn check_sentencepiece(dir: &std::path::Path) -> usize {
    let tok = TextTokenizer::from_sentencepiece(
        &dir.join("spiece.model"),
        64,
        TextPooling::LastToken { pad_id: 1 },
    )
    .expect("loads");
    let text = std::fs::read_to_string(dir.join("tokens.json")).expect("fixture");
    let cases: SpieceTokens = serde_json::from_str(&text).expect("json");
    let mut mismatches = Vec::new();
    for (s, want) in cases.strings.iter().zip(&cases.ids) {
        let got = tok.encode(s).expect("encodes");
        if &got != want {
            mismatches.push(format!("{s:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}: {} of {} differ, first: {}",
        dir.display(),
        mismatches.len(),
        cases.strings.len(),
        mismatches[0]
    );
    // Batches are padded to the context with </s>, as SigLIP was trained.
    let texts: Vec<&str> = cases.strings[..cases.padded.len()]
        .iter()
        .map(String::as_str)
        .collect();
    let batch = tok.encode_batch(&texts).expect("encodes");
    assert_eq!(batch.seq, 64);
    for (row, want) in batch.ids.chunks(64).zip(&cases.padded) {
        assert_eq!(row, want.as_slice());
    }
    assert_eq!(tok.token_id("</s>"), Some(1));
    cases.strings.len()
}

/// SigLIP v1's `spiece.model` (a SentencePiece unigram model laid out like Google's) against
/// transformers' `SiglipTokenizer` on 1,238 strings, edge cases first: punctuation, case,
/// whitespace of every kind, NFKC, emoji, special tokens inside the text, truncation.
#[test]
fn siglip_sentencepiece_matches_transformers_exactly() {
    let checked = check_sentencepiece(&fixtures().join("siglip-spiece"));
    assert!(checked >= 1000);
}

/// The same on other models (a real SigLIP repository's `spiece.model`, say): folders with
/// `spiece.model` and the `tokens.json` that `make_fixtures.py spiece-ref DIR [LINES]` writes,
/// separated by `:` in `TROVE_SPIECE_DIRS`.
#[test]
#[ignore = "needs TROVE_SPIECE_DIRS"]
fn siglip_sentencepiece_matches_transformers_on_more_models() {
    let dirs = std::env::var("TROVE_SPIECE_DIRS").expect("TROVE_SPIECE_DIRS");
    for dir in std::env::split_paths(&dirs) {
        let n = check_sentencepiece(&dir);
        eprintln!("{}: {n} strings, all equal", dir.display());
    }
}
