//! Tags from the embedding model: which vocabulary a model uses, its prompts embedded once
//! and kept in the catalog (`model_tags`), and its thresholds (the demo model's calibrated on
//! labelled generated pictures; any other model's on the library's own embeddings, again
//! whenever the library has doubled since). See `trove_models::tags`.

use trove_models::demo::{DEMO_MODEL, TAG_CALIBRATION};
use trove_models::tags::eval::TagCalibration;
use trove_models::tags::{calibrate_on_library, TagSet, Vocabulary, LIBRARY_MIN_IMAGES};
use trove_models::Embedder;

use crate::catalog::{Catalog, CatalogError, StoredTags};

/// Library pictures calibration looks at, at most.
const CALIBRATION_SAMPLE: usize = 5_000;

/// Why a model's tags could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The text tower failed on the vocabulary's prompts.
    #[error("embedding the tag vocabulary")]
    Embed(#[source] trove_models::Error),
    /// The demo model's calibration record is unreadable (a bug).
    #[error("the demo model's tag calibration is unreadable")]
    Calibration(#[source] serde_json::Error),
}

/// A model's tags, ready to give: the set with its thresholds, and the tagger's id (model,
/// weights, vocabulary and thresholds: images tagged under another id are tagged again).
#[derive(Debug, Clone)]
pub struct Tagger {
    /// What `image_tagged` records.
    pub id: String,
    /// The embedded vocabulary with its thresholds.
    pub set: TagSet,
}

/// What preparing tags came to.
#[derive(Debug)]
pub enum Prepared {
    /// Tags can be given.
    Ready(Tagger),
    /// Not yet, and why (a library too small to calibrate on).
    Waiting(String),
}

/// The vocabulary `model` tags with, and its labelled calibration if it has one.
pub fn vocabulary_for(model: &str) -> Result<(Vocabulary, Option<TagCalibration>), TagError> {
    if model == DEMO_MODEL {
        let calibration = serde_json::from_str(TAG_CALIBRATION).map_err(TagError::Calibration)?;
        Ok((Vocabulary::demo(), Some(calibration)))
    } else {
        Ok((Vocabulary::everyday(), None))
    }
}

/// The vocabulary's name and a fingerprint of its prompts.
fn vocabulary_id(vocabulary: &Vocabulary) -> String {
    let bytes = serde_json::to_vec(vocabulary).unwrap_or_default();
    format!(
        "{}@{}",
        vocabulary.name,
        &blake3::hash(&bytes).to_hex()[..16]
    )
}

/// Prepares the tags of the model `label` (`name@weights`) with catalog row `model_id`: embeds
/// its vocabulary the first time (`progress` gets tags done and the total), and calibrates
/// its thresholds when needed.
pub fn prepare(
    catalog: &Catalog,
    model_id: i64,
    label: &str,
    embedder: &Embedder,
    progress: &dyn Fn(usize, usize),
) -> Result<Prepared, TagError> {
    let model = label.split('@').next().unwrap_or(label);
    let (vocabulary, labelled) = vocabulary_for(model)?;
    let vocabulary_id = vocabulary_id(&vocabulary);
    let mut stored = match catalog.model_tags(model_id)? {
        Some(stored) if stored.vocabulary == vocabulary_id => stored,
        _ => {
            let total = vocabulary.tags.len();
            tracing::info!(tags = total, vocabulary = %vocabulary_id, "embedding the tag vocabulary");
            let set = TagSet::embed(&vocabulary, embedder, &|done| progress(done, total))
                .map_err(TagError::Embed)?;
            let stored = StoredTags {
                vocabulary: vocabulary_id,
                names: set.names,
                owners: set.owners,
                vectors: set.vectors,
                thresholds: None,
                calibration: None,
                calibrated_images: 0,
            };
            catalog.save_model_tags(model_id, &stored)?;
            stored
        }
    };
    let mut set = TagSet {
        names: stored.names.clone(),
        vectors: stored.vectors.clone(),
        owners: stored.owners.clone(),
        dim: embedder.dim(),
        thresholds: vec![None; stored.names.len()],
    };
    match labelled {
        Some(calibration) => {
            calibration.apply(&mut set);
            if stored.thresholds.as_ref() != Some(&set.thresholds) {
                stored.thresholds = Some(set.thresholds.clone());
                stored.calibration = Some(format!(
                    "labelled: {} generated pictures, {:.0}% precision asked",
                    calibration.calibrated_on,
                    calibration.target_precision * 100.0
                ));
                catalog.save_model_tags(model_id, &stored)?;
            }
        }
        None => {
            let (_, total) = catalog.embedding_sample(model_id, 0)?;
            let stale = stored.thresholds.is_none() || total >= stored.calibrated_images * 2;
            if stale && total >= LIBRARY_MIN_IMAGES as u64 {
                let (sample, total) = catalog.embedding_sample(model_id, CALIBRATION_SAMPLE)?;
                if let Some(thresholds) = calibrate_on_library(&set, &sample) {
                    tracing::info!(
                        pictures = sample.len(),
                        "tag thresholds calibrated on the library"
                    );
                    stored.thresholds = Some(thresholds);
                    stored.calibration = Some(format!("library: {} pictures", sample.len()));
                    stored.calibrated_images = total;
                    catalog.save_model_tags(model_id, &stored)?;
                }
            }
            match &stored.thresholds {
                Some(thresholds) => set.thresholds.clone_from(thresholds),
                None => {
                    return Ok(Prepared::Waiting(format!(
                        "tags are calibrated on the library itself and wait for {LIBRARY_MIN_IMAGES} pictures ({total} so far)"
                    )))
                }
            }
        }
    }
    let thresholds = serde_json::to_vec(&set.thresholds).unwrap_or_default();
    let id = format!(
        "{label}/{}/{}",
        stored.vocabulary,
        &blake3::hash(&thresholds).to_hex()[..12]
    );
    Ok(Prepared::Ready(Tagger { id, set }))
}
