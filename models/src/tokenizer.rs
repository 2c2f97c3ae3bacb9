//! Text tokenisation with the model's own `tokenizer.json` (the `tokenizers` crate, as
//! `transformers`' fast tokenizers use), or SigLIP v1's `spiece.model` ([`crate::spiece`]).

use std::path::{Path, PathBuf};

use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::error::{Error, Result};
use crate::spiece::SentencePiece;

/// How a family pads and pools its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextPooling {
    /// CLIP: causal, pooled at the first end-of-text token. Padding is irrelevant.
    EndOfText {
        /// The end-of-text token id.
        eos_id: u32,
    },
    /// SigLIP: no mask, pooled at the last position, so every text is padded to the context.
    LastToken {
        /// The padding token id.
        pad_id: u32,
    },
}

/// A batch of token ids ready for a text tower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBatch {
    /// Row-major `[batch, seq]` ids, padded to `seq`.
    pub ids: Vec<u32>,
    /// Rows.
    pub batch: usize,
    /// Columns.
    pub seq: usize,
    /// Each row's pooling position.
    pub pool_positions: Vec<usize>,
}

/// Where the ids come from.
#[derive(Clone)]
enum Inner {
    /// A `tokenizer.json`.
    Json(Box<Tokenizer>),
    /// SigLIP v1's `spiece.model`.
    SentencePiece(Box<SentencePiece>),
}

/// The tokenizer plus the model's context length and pooling rule.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Inner,
    path: PathBuf,
    context: usize,
    pooling: TextPooling,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("path", &self.path)
            .field("context", &self.context)
            .field("pooling", &self.pooling)
            .finish()
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, truncating to `context` tokens (special tokens included).
    pub fn from_file(path: &Path, context: usize, pooling: TextPooling) -> Result<Self> {
        let bad = |reason: String| Error::Tokenizer {
            path: path.to_path_buf(),
            reason,
        };
        let mut inner = Tokenizer::from_file(path).map_err(|e| bad(e.to_string()))?;
        inner
            .with_truncation(Some(TruncationParams {
                max_length: context,
                ..TruncationParams::default()
            }))
            .map_err(|e| bad(e.to_string()))?;
        inner.with_padding(match pooling {
            TextPooling::EndOfText { .. } => None,
            TextPooling::LastToken { pad_id } => Some(PaddingParams {
                strategy: PaddingStrategy::Fixed(context),
                pad_id,
                ..PaddingParams::default()
            }),
        });
        Ok(TextTokenizer {
            inner: Inner::Json(Box::new(inner)),
            path: path.to_path_buf(),
            context,
            pooling,
        })
    }

    /// Loads SigLIP v1's `spiece.model`, giving `SiglipTokenizer`'s ids, truncated to
    /// `context` tokens (the end-of-text token kept).
    pub fn from_sentencepiece(path: &Path, context: usize, pooling: TextPooling) -> Result<Self> {
        Ok(TextTokenizer {
            inner: Inner::SentencePiece(Box::new(SentencePiece::from_file(path)?)),
            path: path.to_path_buf(),
            context,
            pooling,
        })
    }

    /// The id of a token in the vocabulary, if present.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        match &self.inner {
            Inner::Json(t) => t.token_to_id(token),
            Inner::SentencePiece(sp) => sp.token_id(token),
        }
    }

    /// The ids of one text, with special tokens, truncated to the context.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match &self.inner {
            Inner::Json(t) => {
                let enc = t
                    .encode(text, true)
                    .map_err(|e| self.error(e.to_string()))?;
                Ok(enc.get_ids().to_vec())
            }
            Inner::SentencePiece(sp) => Ok(sp.encode(text, self.context)),
        }
    }

    /// Tokenises a batch. CLIP batches are only as long as the longest text (its end-of-text
    /// position + 1); SigLIP batches always span the full context.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<TokenBatch> {
        let rows = texts
            .iter()
            .map(|t| self.encode(t))
            .collect::<Result<Vec<_>>>()?;
        let (seq, pad, pool_positions) = match self.pooling {
            TextPooling::EndOfText { eos_id } => {
                let positions = rows
                    .iter()
                    .zip(texts)
                    .map(|(ids, text)| {
                        ids.iter().position(|&id| id == eos_id).ok_or_else(|| {
                            self.error(format!(
                                "no end-of-text token (id {eos_id}) in the encoding of {text:?}"
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let seq = positions.iter().map(|p| p + 1).max().unwrap_or(1);
                (seq, eos_id, positions)
            }
            TextPooling::LastToken { pad_id } => {
                (self.context, pad_id, vec![self.context - 1; rows.len()])
            }
        };
        let mut ids = Vec::with_capacity(rows.len() * seq);
        for row in &rows {
            let take = row.len().min(seq);
            ids.extend_from_slice(&row[..take]);
            ids.extend(std::iter::repeat_n(pad, seq - take));
        }
        Ok(TokenBatch {
            ids,
            batch: rows.len(),
            seq,
            pool_positions,
        })
    }

    fn error(&self, reason: String) -> Error {
        Error::Tokenizer {
            path: self.path.clone(),
            reason,
        }
    }
}
