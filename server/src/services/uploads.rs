//! Images uploaded to search with: their embeddings and grid-sized previews, the most recent
//! [`KEPT`] in memory only (never added to the library), found again by a key made from their
//! bytes, so their results can be paged and shared while the server runs.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::error::UploadError;

/// Uploads remembered.
pub const KEPT: usize = 256;

/// An upload: its embedding, the model that made it, and its preview (JPEG).
#[derive(Debug)]
pub struct Upload {
    /// The model's catalog row.
    pub model_id: i64,
    /// The embedding.
    pub vector: Vec<f32>,
    /// A grid-sized JPEG.
    pub thumb: Vec<u8>,
}

/// The remembered uploads.
#[derive(Debug)]
pub struct Uploads {
    recent: Mutex<lru::LruCache<String, Arc<Upload>>>,
}

impl Default for Uploads {
    fn default() -> Self {
        Uploads {
            recent: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(KEPT).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

/// The key of an upload's bytes: 24 hexadecimal digits of their BLAKE3.
pub fn key_of(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..24].to_owned()
}

impl Uploads {
    fn recent(&self) -> MutexGuard<'_, lru::LruCache<String, Arc<Upload>>> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `key` is remembered, embedded with `model_id`.
    pub fn has(&self, key: &str, model_id: i64) -> bool {
        self.recent()
            .get(key)
            .is_some_and(|u| u.model_id == model_id)
    }

    /// Remembers an upload (forgetting the least recent beyond [`KEPT`]).
    pub fn put(&self, key: String, upload: Upload) {
        self.recent().put(key, Arc::new(upload));
    }

    /// The upload of `key`.
    pub fn get(&self, key: &str) -> Result<Arc<Upload>, UploadError> {
        self.recent()
            .get(key)
            .cloned()
            .ok_or_else(|| UploadError::Gone {
                key: key.to_owned(),
                kept: KEPT,
            })
    }

    /// The embedding of `key`, if it was made with `model_id`.
    pub fn vector(&self, key: &str, model_id: i64) -> Result<Vec<f32>, UploadError> {
        let upload = self.get(key)?;
        if upload.model_id != model_id {
            return Err(UploadError::OtherModel);
        }
        Ok(upload.vector.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_found_by_key_for_their_model_only() {
        let uploads = Uploads::default();
        let key = key_of(b"an image");
        assert_eq!(key.len(), 24);
        uploads.put(
            key.clone(),
            Upload {
                model_id: 1,
                vector: vec![1.0, 0.0],
                thumb: vec![0xFF, 0xD8],
            },
        );
        assert!(uploads.has(&key, 1) && !uploads.has(&key, 2));
        assert_eq!(uploads.vector(&key, 1).expect("kept"), [1.0, 0.0]);
        assert!(matches!(
            uploads.vector(&key, 2),
            Err(UploadError::OtherModel)
        ));
        assert!(matches!(uploads.get("nope"), Err(UploadError::Gone { .. })));
    }
}
