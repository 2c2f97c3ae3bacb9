//! An image's facts and files by id: the catalog's facts, the grid thumbnail and lightbox
//! preview (a cache, made again from the original when missing), and the original itself.

use app::types::ImageInfo;
use trove_engine::images::OpenOriginal;

use super::{wire, ServiceError, Trove};

impl Trove {
    /// What the catalog knows of an image (blocking).
    pub fn image(&self, id: i64) -> Result<Option<ImageInfo>, ServiceError> {
        let catalog = self.readers.get()?;
        Ok(catalog.image_details(&[id])?.pop().map(wire::image_info))
    }

    /// The library's most common tags, most pictures first (blocking).
    pub fn common_tags(&self, limit: usize) -> Result<Vec<app::types::TagCount>, ServiceError> {
        let catalog = self.readers.get()?;
        Ok(catalog
            .common_tags(limit)?
            .into_iter()
            .map(|(tag, images)| app::types::TagCount { tag, images })
            .collect())
    }

    /// The grid thumbnail's bytes (blocking).
    pub fn thumbnail(&self, id: i64) -> Result<Option<Vec<u8>>, ServiceError> {
        let catalog = self.readers.get()?;
        Ok(self.files.thumbnail(&catalog, id)?)
    }

    /// The lightbox preview (about 1280 px) of an image (blocking).
    pub fn preview(&self, id: i64) -> Result<Option<Vec<u8>>, ServiceError> {
        let catalog = self.readers.get()?;
        Ok(self.files.preview(&catalog, id)?)
    }

    /// The original file, opened for streaming (blocking).
    pub fn original(&self, id: i64) -> Result<Option<OpenOriginal>, ServiceError> {
        let catalog = self.readers.get()?;
        Ok(self.files.original(&catalog, id)?)
    }
}
