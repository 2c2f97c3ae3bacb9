//! The one path from image bytes to what the model takes: decode at the scale the model and the
//! grid thumbnail need, apply EXIF orientation, preprocess. The crawl, uploads and `trove
//! similar FILE` all go through [`prepare`], so one file always gets one vector (a file decoded
//! at another DCT scale would not).

use image::RgbImage;
use trove_models::{Embedder, Pixels};

use crate::media::thumbs::GRID_HEIGHT;
use crate::media::{decode, DecodeError, DecodeLimits, ImageFacts};

/// An image ready for the model, with the reduced pixels it came from (for thumbnails).
#[derive(Debug)]
pub struct Prepared {
    /// The decoded pixels, at least [`decode_side`] on the shorter side where the original is.
    pub rgb: RgbImage,
    /// What decoding learnt (format, displayed size, EXIF; `hash` is left to the caller).
    pub facts: ImageFacts,
    /// The model's input.
    pub pixels: Pixels,
}

/// An image embedded on its own.
#[derive(Debug)]
pub struct Embedded {
    /// The L2-normalised embedding.
    pub vector: Vec<f32>,
    /// The decoded pixels (for a preview).
    pub rgb: RgbImage,
    /// What decoding learnt.
    pub facts: ImageFacts,
}

/// Why an image could not be prepared for the model.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// It could not be decoded; the message says why, for a person.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The model's preprocessing refused the pixels.
    #[error("cannot prepare it for the model")]
    Preprocess(#[source] trove_models::Error),
}

/// Why an image could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// It could not be decoded or preprocessed (the image's fault).
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    /// The model failed (the server's fault).
    #[error("the model failed on the image")]
    Model(#[source] trove_models::Error),
    /// The model returned no vector.
    #[error("the model returned no embedding")]
    Empty,
}

/// The shorter side images are decoded at for `embedder`: its input size, or the grid
/// thumbnail's height when that is larger, so one decode serves both.
pub fn decode_side(embedder: &Embedder) -> u32 {
    u32::try_from(embedder.config().image_size())
        .unwrap_or(u32::MAX)
        .max(GRID_HEIGHT)
}

/// Decodes `bytes` and preprocesses them for `embedder`.
pub fn prepare(
    bytes: &[u8],
    embedder: &Embedder,
    limits: DecodeLimits,
) -> Result<Prepared, PrepareError> {
    let decoded = decode(bytes, decode_side(embedder), limits)?;
    let (w, h) = decoded.rgb.dimensions();
    let pixels = embedder
        .preprocessor()
        .prepare(decoded.rgb.as_raw(), w as usize, h as usize)
        .map_err(PrepareError::Preprocess)?;
    Ok(Prepared {
        rgb: decoded.rgb,
        facts: decoded.facts,
        pixels,
    })
}

/// Prepares and embeds one image.
pub fn embed_one(
    bytes: &[u8],
    embedder: &Embedder,
    limits: DecodeLimits,
) -> Result<Embedded, EmbedError> {
    let prepared = prepare(bytes, embedder, limits)?;
    let vector = embedder
        .embed_images(std::slice::from_ref(&prepared.pixels))
        .map_err(EmbedError::Model)?
        .pop()
        .ok_or(EmbedError::Empty)?;
    Ok(Embedded {
        vector,
        rgb: prepared.rgb,
        facts: prepared.facts,
    })
}
