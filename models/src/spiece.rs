//! SigLIP v1's tokenizer, read straight from the repository's `spiece.model` (SigLIP v1
//! repositories ship no `tokenizer.json`), giving exactly the ids of `transformers`'
//! `SiglipTokenizer`:
//!
//! 1. `"▁" + text` (a literal `▁` in the text counts as a space), split on the special tokens
//!    `</s>` and `<unk>`, which swallow the whitespace around them;
//! 2. each other part canonicalised as SigLIP does: lower case, ASCII punctuation removed,
//!    runs of whitespace made one space, trimmed;
//! 3. SentencePiece on `"<unk>" + part` (the leading pieces of `<unk>` are then dropped: it
//!    forces a word boundary): the model's precompiled normaliser (longest match in its
//!    double-array trie), its whitespace rules, and a Viterbi search over the unigram pieces
//!    with `f32` scores, as SentencePiece itself adds them (ties break as there);
//! 4. `</s>` appended, truncated to the context keeping it.
//!
//! `tokenizers`' own Unigram model cannot be exact here (it adds scores in `f64`, and its
//! precompiled normaliser takes the shortest match for short graphemes), so this is a small
//! port of SentencePiece's encoder instead. The protobuf is parsed by hand: only the fields
//! below are read, and anything malformed is an error naming the file, never a panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::protobuf::{Fields, Value};

/// SentencePiece's whitespace symbol.
const SPACE: char = '\u{2581}';
/// The special tokens `SiglipTokenizer` splits on, as written in text.
const EOS_TEXT: &str = "</s>";
const UNK_TEXT: &str = "<unk>";

/// A piece's type in the model (`SentencePiece.Type`).
const NORMAL: u64 = 1;
const USER_DEFINED: u64 = 4;
const BYTE: u64 = 6;

/// A SigLIP tokenizer loaded from `spiece.model`.
#[derive(Debug, Clone)]
pub struct SentencePiece {
    path: PathBuf,
    /// Normal pieces (those the lattice uses): id and score.
    pieces: HashMap<String, (u32, f32)>,
    /// Every piece's id by text (the first, if a text repeats).
    ids: HashMap<String, u32>,
    /// Longest normal piece, in characters.
    max_piece_chars: usize,
    unk_id: u32,
    eos_id: u32,
    unk_score: f32,
    charsmap: Option<Charsmap>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
    /// How many pieces `<unk>` as text becomes (dropped from each part's encoding).
    unk_prefix_pieces: usize,
}

/// SentencePiece's precompiled normalisation map: a Darts double array over UTF-8 bytes whose
/// values are offsets of NUL-terminated replacements.
#[derive(Debug, Clone)]
struct Charsmap {
    units: Vec<u32>,
    replacements: Vec<u8>,
}

impl Charsmap {
    fn parse(blob: &[u8]) -> std::result::Result<Self, String> {
        let size = blob
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or("the normaliser's character map is truncated")?;
        let trie = blob
            .get(4..4 + size)
            .filter(|t| t.len() % 4 == 0 && !t.is_empty())
            .ok_or("the normaliser's character map has a bad trie size")?;
        Ok(Charsmap {
            units: trie
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            replacements: blob[4 + size..].to_vec(),
        })
    }

    /// The longest prefix of `bytes` the map knows: its length and replacement.
    fn longest(&self, bytes: &[u8]) -> Option<(usize, &[u8])> {
        let offset = |unit: u32| ((unit >> 10) << ((unit & (1 << 9)) >> 6)) as usize;
        let units = &self.units;
        let mut pos = offset(*units.first()?);
        let mut best = None;
        for (k, &c) in bytes.iter().enumerate() {
            if c == 0 {
                break;
            }
            pos ^= c as usize;
            let unit = *units.get(pos)?;
            if unit & ((1 << 31) | 0xFF) != u32::from(c) {
                break;
            }
            pos ^= offset(unit);
            if (unit >> 8) & 1 == 1 {
                let value = (*units.get(pos)? & ((1 << 31) - 1)) as usize;
                best = Some((k + 1, value));
            }
        }
        let (len, value) = best?;
        let rest = self.replacements.get(value..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        Some((len, &rest[..end]))
    }
}

/// Python's `str.isspace`, which SiglipTokenizer's `\s` and `strip()` use.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// SigLIP's `canonicalize_text`: lower case, ASCII punctuation removed, whitespace collapsed
/// to one space, trimmed.
fn canonicalize(text: &str) -> String {
    let lowered = text.to_lowercase();
    let mut out = String::with_capacity(lowered.len());
    let mut in_space = false;
    for c in lowered.chars().filter(|c| !c.is_ascii_punctuation()) {
        if py_space(c) {
            in_space = true;
        } else {
            if in_space && !out.is_empty() {
                out.push(' ');
            }
            in_space = false;
            out.push(c);
        }
    }
    out
}

impl SentencePiece {
    /// Reads `spiece.model`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path).map_err(|reason| Error::Tokenizer {
            path: path.to_path_buf(),
            reason,
        })
    }

    fn from_bytes(bytes: &[u8], path: &Path) -> std::result::Result<Self, String> {
        let mut all: Vec<(String, f32, u64)> = Vec::new();
        let mut trainer: Option<&[u8]> = None;
        let mut normalizer: Option<&[u8]> = None;
        let mut fields = Fields::new(bytes);
        while let Some((number, value)) = fields.next_field()? {
            match (number, value) {
                (1, Value::Bytes(piece)) => {
                    let (mut text, mut score, mut kind) = (None, 0.0f32, NORMAL);
                    let mut f = Fields::new(piece);
                    while let Some((n, v)) = f.next_field()? {
                        match (n, v) {
                            (1, Value::Bytes(t)) => {
                                text = Some(
                                    String::from_utf8(t.to_vec())
                                        .map_err(|_| "a piece is not UTF-8")?,
                                );
                            }
                            (2, Value::Fixed32(s)) => score = f32::from_bits(s),
                            (3, Value::Varint(k)) => kind = k,
                            _ => {}
                        }
                    }
                    all.push((text.ok_or("a piece has no text")?, score, kind));
                }
                (2, Value::Bytes(t)) => trainer = Some(t),
                (3, Value::Bytes(n)) => normalizer = Some(n),
                _ => {}
            }
        }
        if all.is_empty() {
            return Err("not a SentencePiece model: it has no pieces".into());
        }
        // proto2 defaults for what the file leaves out.
        let (mut model_type, mut byte_fallback, mut unk_id, mut eos_id) = (1u64, false, 0i64, 2i64);
        let mut suffix_whitespace = false;
        let mut f = Fields::new(trainer.unwrap_or_default());
        while let Some((n, v)) = f.next_field()? {
            if let Value::Varint(x) = v {
                match n {
                    3 => model_type = x,
                    24 => suffix_whitespace = x != 0,
                    35 => byte_fallback = x != 0,
                    40 => unk_id = x as i64 as i32 as i64,
                    42 => eos_id = x as i64 as i32 as i64,
                    _ => {}
                }
            }
        }
        if model_type != 1 {
            return Err(format!(
                "a SentencePiece model of type {model_type}; only unigram models (SigLIP's) are supported"
            ));
        }
        if byte_fallback
            || suffix_whitespace
            || all.iter().any(|p| p.2 == USER_DEFINED || p.2 == BYTE)
        {
            return Err(
                "byte fallback, user-defined pieces and suffix whitespace are not supported (SigLIP's models use none)"
                    .into(),
            );
        }
        let (mut charsmap, mut add_dummy_prefix, mut remove_ws, mut escape_ws) =
            (None, true, true, true);
        let mut f = Fields::new(normalizer.unwrap_or_default());
        while let Some((n, v)) = f.next_field()? {
            match (n, v) {
                (2, Value::Bytes(b)) if !b.is_empty() => charsmap = Some(Charsmap::parse(b)?),
                (3, Value::Varint(x)) => add_dummy_prefix = x != 0,
                (4, Value::Varint(x)) => remove_ws = x != 0,
                (5, Value::Varint(x)) => escape_ws = x != 0,
                _ => {}
            }
        }
        let id = |i: i64, what: &str| {
            u32::try_from(i)
                .ok()
                .filter(|&i| (i as usize) < all.len())
                .ok_or_else(|| format!("the {what} id {i} is not a piece"))
        };
        let (unk_id, eos_id) = (id(unk_id, "unknown-token")?, id(eos_id, "end-of-text")?);
        let mut pieces = HashMap::new();
        let mut ids = HashMap::new();
        for (i, (text, score, kind)) in all.iter().enumerate() {
            let i = i as u32;
            ids.entry(text.clone()).or_insert(i);
            if *kind == NORMAL {
                pieces.entry(text.clone()).or_insert((i, *score));
            }
        }
        let min_score = pieces.values().map(|p| p.1).fold(f32::INFINITY, f32::min);
        if !min_score.is_finite() {
            return Err("the model has no normal pieces".into());
        }
        let mut sp = SentencePiece {
            path: path.to_path_buf(),
            max_piece_chars: pieces.keys().map(|p| p.chars().count()).max().unwrap_or(1),
            pieces,
            ids,
            unk_id,
            eos_id,
            unk_score: min_score - 10.0,
            charsmap,
            add_dummy_prefix,
            remove_extra_whitespaces: remove_ws,
            escape_whitespaces: escape_ws,
            unk_prefix_pieces: 0,
        };
        sp.unk_prefix_pieces = sp.encode_pieces(UNK_TEXT).len();
        Ok(sp)
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The end-of-text id (also SigLIP's padding id).
    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }

    /// A piece's id.
    pub fn token_id(&self, piece: &str) -> Option<u32> {
        self.ids.get(piece).copied()
    }

    /// The normalised bytes that start `bytes` and how many bytes they replace.
    fn prefix<'s>(&'s self, bytes: &'s [u8]) -> (&'s [u8], usize) {
        if let Some((len, replacement)) = self
            .charsmap
            .as_ref()
            .and_then(|m| m.longest(&bytes[..bytes.len().min(64)]))
        {
            return (replacement, len);
        }
        let len = match bytes[0] {
            b if b < 0x80 => 1,
            b if b < 0xE0 => 2,
            b if b < 0xF0 => 3,
            _ => 4,
        }
        .min(bytes.len());
        (&bytes[..len], len)
    }

    /// SentencePiece's normaliser: the character map, the dummy prefix, extra whitespace
    /// removed, spaces escaped as `▁`.
    fn normalize(&self, text: &str) -> String {
        let bytes = text.as_bytes();
        let mut i = 0;
        if self.remove_extra_whitespaces {
            while i < bytes.len() {
                let (p, len) = self.prefix(&bytes[i..]);
                if p != b" " {
                    break;
                }
                i += len;
            }
        }
        if i >= bytes.len() {
            return String::new();
        }
        let space = SPACE.to_string();
        let mut out: Vec<u8> = Vec::with_capacity(bytes.len() + 3);
        if self.add_dummy_prefix {
            out.extend_from_slice(space.as_bytes());
        }
        let mut prev_space = self.remove_extra_whitespaces;
        while i < bytes.len() {
            let (mut p, len) = self.prefix(&bytes[i..]);
            i += len;
            if prev_space {
                while let Some(rest) = p.strip_prefix(b" ") {
                    p = rest;
                }
            }
            if !p.is_empty() {
                for &b in p {
                    if b == b' ' && self.escape_whitespaces {
                        out.extend_from_slice(space.as_bytes());
                    } else {
                        out.push(b);
                    }
                }
                prev_space = p.ends_with(b" ");
            }
        }
        if self.remove_extra_whitespaces {
            while out.ends_with(space.as_bytes()) {
                out.truncate(out.len() - space.len());
            }
        }
        // The map's replacements are UTF-8 and are only ever cut at character boundaries; a
        // damaged map could break that, and then its bytes are replaced, not trusted.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// The best segmentation of `text` into pieces (SentencePiece's `EncodeOptimized`, with
    /// its `f32` scores), runs of unknown characters fused into one.
    fn encode_pieces(&self, text: &str) -> Vec<(String, u32)> {
        let s = self.normalize(text);
        let bounds: Vec<usize> = s
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(s.len()))
            .collect();
        let n = bounds.len() - 1;
        // (score, start, id) of the best path ending at each character position.
        let mut best: Vec<Option<(f32, usize, u32)>> = vec![None; n + 1];
        best[0] = Some((0.0, 0, 0));
        for start in 0..n {
            let Some((base, ..)) = best[start] else {
                continue;
            };
            let mut single = false;
            for end in start + 1..=n.min(start + self.max_piece_chars) {
                let Some(&(id, score)) = self.pieces.get(&s[bounds[start]..bounds[end]]) else {
                    continue;
                };
                let candidate = score + base;
                if best[end].is_none_or(|b| candidate > b.0) {
                    best[end] = Some((candidate, start, id));
                }
                single |= end == start + 1;
            }
            if !single {
                let candidate = self.unk_score + base;
                if best[start + 1].is_none_or(|b| candidate > b.0) {
                    best[start + 1] = Some((candidate, start, self.unk_id));
                }
            }
        }
        let mut path = Vec::new();
        let mut end = n;
        while end > 0 {
            let Some((_, start, id)) = best[end] else {
                break;
            };
            path.push((start, end, id));
            end = start;
        }
        path.reverse();
        let mut out: Vec<(String, u32)> = Vec::with_capacity(path.len());
        for (start, end, id) in path {
            let piece = &s[bounds[start]..bounds[end]];
            match out.last_mut() {
                Some(last) if id == self.unk_id && last.1 == self.unk_id => last.0.push_str(piece),
                _ => out.push((piece.to_owned(), id)),
            }
        }
        out
    }

    /// The pieces of one part of the text between special tokens.
    fn part_pieces(&self, part: &str) -> Vec<(String, u32)> {
        let pieces = self.encode_pieces(&format!("{UNK_TEXT}{}", canonicalize(part)));
        if pieces.len() >= self.unk_prefix_pieces {
            pieces[self.unk_prefix_pieces..].to_vec()
        } else {
            pieces
        }
    }

    /// `text`'s ids as `SiglipTokenizer` gives them: `</s>` appended, truncated to `context`
    /// tokens keeping it (padding is the caller's).
    pub fn encode(&self, text: &str, context: usize) -> Vec<u32> {
        let text = format!("{SPACE}{}", text.replace(SPACE, " "));
        // Split on the special tokens; each takes the whitespace around it.
        let mut parts: Vec<(String, Option<u32>)> = Vec::new();
        let mut rest = text.as_str();
        loop {
            let next = [(EOS_TEXT, self.eos_id), (UNK_TEXT, self.unk_id)]
                .into_iter()
                .filter_map(|(t, id)| rest.find(t).map(|at| (at, t, id)))
                .min_by_key(|&(at, ..)| at);
            let Some((at, special, id)) = next else {
                parts.push((rest.to_owned(), None));
                break;
            };
            parts.push((rest[..at].to_owned(), None));
            parts.push((special.to_owned(), Some(id)));
            rest = &rest[at + special.len()..];
        }
        for k in 0..parts.len() {
            if parts[k].1.is_some() {
                if k + 1 < parts.len() && parts[k + 1].1.is_none() {
                    parts[k + 1].0 = parts[k + 1].0.trim_start_matches(py_space).to_owned();
                }
                if k > 0 && parts[k - 1].1.is_none() {
                    parts[k - 1].0 = parts[k - 1].0.trim_end_matches(py_space).to_owned();
                }
            }
        }
        let mut tokens: Vec<(String, u32, bool)> = Vec::new();
        for (part, special) in parts {
            match special {
                Some(id) => tokens.push((part, id, true)),
                None if part.is_empty() => {}
                None => tokens.extend(
                    self.part_pieces(&part)
                        .into_iter()
                        .map(|(p, id)| (p, id, false)),
                ),
            }
        }
        if tokens.len() > 1 && tokens[0].0 == SPACE.to_string() && tokens[1].2 {
            tokens.remove(0);
        }
        let mut ids: Vec<u32> = tokens.into_iter().map(|t| t.1).collect();
        if context > 0 && ids.len() + 1 > context {
            ids.truncate(context - 1);
        }
        if ids.last() != Some(&self.eos_id) {
            ids.push(self.eos_id);
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_is_lower_case_without_ascii_punctuation_or_extra_space() {
        assert_eq!(canonicalize("  A  Photo\tof a CAT! "), "a photo of a cat");
        assert_eq!(canonicalize("it's"), "its");
        assert_eq!(canonicalize("don\u{2019}t"), "don\u{2019}t");
        assert_eq!(canonicalize("a\u{1c}b"), "a b");
        assert_eq!(canonicalize("ΟΔΟΣ"), "οδος");
        assert_eq!(canonicalize("!!!"), "");
    }

    #[test]
    fn malformed_models_are_errors_not_panics() {
        let path = Path::new("spiece.model");
        for bytes in [
            &b""[..],
            &[0x0a][..],
            &[0x0a, 0x05, 0x0a, 0x01][..],
            &[0xff; 12][..],
            &[0x0a, 0x03, 0x0a, 0x01, 0xff][..],
            &[0x1a, 0x04, 0x12, 0x02, 0x01, 0x00][..],
        ] {
            assert!(SentencePiece::from_bytes(bytes, path).is_err(), "{bytes:?}");
        }
    }
}
