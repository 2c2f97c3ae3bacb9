//! Pictures in, words out: a Florence-2 folder (`config.json`, `model.safetensors`,
//! `generation_config.json`, `preprocessor_config.json`, `tokenizer.json`) run on RGB pixels
//! for one of its tasks, as `Florence2Processor` and `post_process_generation` do it
//! (transformers 5.23 `models/florence2/processing_florence2.py`): the task's question between
//! `<s>` and `</s>`, the image resized to the model's square with ImageNet's mean and std,
//! the answer decoded without special tokens and trimmed.

use std::path::{Path, PathBuf};

use tokenizers::Tokenizer;

use super::{Florence2, Settings};
use crate::device::Compute;
use crate::error::{Error, Result};
use crate::preprocess::Preprocessor;

/// What to ask the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// One sentence (`<CAPTION>`).
    Caption,
    /// A few sentences (`<DETAILED_CAPTION>`).
    DetailedCaption,
    /// A paragraph (`<MORE_DETAILED_CAPTION>`).
    MoreDetailedCaption,
    /// The words in the picture (`<OCR>`).
    Ocr,
}

impl Task {
    /// The question the processor puts to the model for this task.
    pub fn prompt(self) -> &'static str {
        match self {
            Task::Caption => "What does the image describe?",
            Task::DetailedCaption => "Describe in detail what is shown in the image.",
            Task::MoreDetailedCaption => "Describe with a paragraph what is shown in the image.",
            Task::Ocr => "What is the text in the image?",
        }
    }

    /// The task's token as Florence-2 names it (`<CAPTION>`…).
    pub fn token(self) -> &'static str {
        match self {
            Task::Caption => "<CAPTION>",
            Task::DetailedCaption => "<DETAILED_CAPTION>",
            Task::MoreDetailedCaption => "<MORE_DETAILED_CAPTION>",
            Task::Ocr => "<OCR>",
        }
    }

    /// The task for a token, any case, with or without the angle brackets.
    pub fn parse(s: &str) -> Option<Self> {
        let bare = s.trim().trim_start_matches('<').trim_end_matches('>');
        [
            Task::Caption,
            Task::DetailedCaption,
            Task::MoreDetailedCaption,
            Task::Ocr,
        ]
        .into_iter()
        .find(|t| t.token()[1..t.token().len() - 1].eq_ignore_ascii_case(bare))
    }
}

/// Florence-2's text side: its `tokenizer.json` (BART's byte-level BPE with Florence-2's
/// task and location tokens), texts encoded between `<s>` and `</s>` as `BartTokenizer` does.
#[derive(Debug)]
pub struct TextTokenizer {
    tokenizer: Tokenizer,
    path: PathBuf,
    bos: u32,
    eos: u32,
}

impl TextTokenizer {
    /// Reads `path` (a `tokenizer.json`), with the model's `<s>` and `</s>` ids.
    pub fn load(path: &Path, bos: u32, eos: u32) -> Result<Self> {
        let tokenizer = Tokenizer::from_file(path).map_err(|e| Error::Tokenizer {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(TextTokenizer {
            tokenizer,
            path: path.to_path_buf(),
            bos,
            eos,
        })
    }

    /// `<s>`, the text's ids, `</s>`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| self.error(&e))?;
        let mut ids = Vec::with_capacity(encoding.len() + 2);
        ids.push(self.bos);
        ids.extend_from_slice(encoding.get_ids());
        ids.push(self.eos);
        Ok(ids)
    }

    /// Ids as text: special tokens dropped, trimmed.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let text = self
            .tokenizer
            .decode(ids, true)
            .map_err(|e| self.error(&e))?;
        Ok(text
            .replace("<s>", "")
            .replace("</s>", "")
            .trim()
            .to_owned())
    }

    fn error(&self, e: &tokenizers::Error) -> Error {
        Error::Tokenizer {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }
}

/// A captioning model ready to run.
#[derive(Debug)]
pub struct Captioner {
    model: Florence2,
    text: TextTokenizer,
    preprocessor: Preprocessor,
}

/// How long answers may grow, by task (Florence-2's examples ask for up to 1,024 tokens; a
/// caption that runs past these is cut, with the forced end token).
pub fn max_new_tokens(task: Task) -> usize {
    match task {
        Task::Caption => 40,
        Task::DetailedCaption => 120,
        Task::MoreDetailedCaption | Task::Ocr => 256,
    }
}

impl Captioner {
    /// Loads a Florence-2 folder.
    pub fn load(dir: &Path, compute: &Compute) -> Result<Self> {
        for file in [
            "config.json",
            "model.safetensors",
            "preprocessor_config.json",
            "tokenizer.json",
        ] {
            if !dir.join(file).is_file() {
                return Err(Error::MissingFile {
                    dir: dir.to_path_buf(),
                    file,
                });
            }
        }
        let model = Florence2::load(dir, compute)?;
        let t = &model.config().text_config;
        let text =
            TextTokenizer::load(&dir.join("tokenizer.json"), t.bos_token_id, t.eos_token_id)?;
        let preprocessor = Preprocessor::from_file(&dir.join("preprocessor_config.json"))?;
        Ok(Captioner {
            model,
            text,
            preprocessor,
        })
    }

    /// The model underneath.
    pub fn model(&self) -> &Florence2 {
        &self.model
    }

    /// The prompt's token ids: `<s>`, the task's question, `</s>`.
    pub fn prompt_ids(&self, task: Task) -> Result<Vec<u32>> {
        self.text.encode(task.prompt())
    }

    /// The generated ids as text: special tokens dropped, trimmed.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.text.decode(ids)
    }

    /// The generation settings for `task` (the checkpoint's beams and rules).
    pub fn settings(&self, task: Task) -> Settings {
        self.model.settings(max_new_tokens(task))
    }

    /// Answers `task` for an RGB8 picture, with `settings`.
    pub fn run(
        &self,
        rgb: &[u8],
        width: usize,
        height: usize,
        task: Task,
        settings: &Settings,
    ) -> Result<String> {
        let pixels = self.preprocessor.prepare(rgb, width, height)?;
        let features = self.model.image_features(std::slice::from_ref(&pixels))?;
        let encoded = self.model.encode(features, &self.prompt_ids(task)?)?;
        let ids = self.model.generate(encoded, settings)?;
        self.decode(&ids)
    }

    /// A one-sentence caption of an RGB8 picture.
    pub fn caption(&self, rgb: &[u8], width: usize, height: usize) -> Result<String> {
        self.run(
            rgb,
            width,
            height,
            Task::Caption,
            &self.settings(Task::Caption),
        )
    }
}
