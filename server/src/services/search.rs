//! Searching and browsing, and search by an uploaded image. Queries run one per core at a time,
//! first come first served; the page they answer is the same wire type for the UI, the JSON API
//! and the command line ([`query_page`]).

use app::types::{SearchPage, SearchRequest};
use trove_engine::catalog::{Catalog, Filters, Sort};
use trove_engine::embed::EmbedError;
use trove_engine::media::thumbs;
use trove_engine::media::DecodeLimits;
use trove_engine::search::{self, Query};
use trove_engine::Engine;

use super::error::{ServiceError, UploadError};
use super::uploads::{key_of, Upload};
use super::{search_limit, wire, Trove};

/// Largest image accepted for search by image.
pub const MAX_UPLOAD_BYTES: usize = 32 * 1024 * 1024;

/// Largest upload in pixels: well below the crawl's limit, since anyone on the network may
/// upload (a 40 MP photo decodes in well under a second, and no phone takes larger ones).
pub const MAX_UPLOAD_PIXELS: u64 = 40_000_000;

/// A page of results for `query`, with the catalog's facts: what every caller gets.
pub fn query_page(
    engine: &Engine,
    catalog: &Catalog,
    query: &Query,
    offset: usize,
    limit: usize,
) -> Result<SearchPage, ServiceError> {
    let page = search::search(engine, catalog, query, offset, limit)?;
    let started = std::time::Instant::now();
    let hits = search::with_details(catalog, &page.hits)?;
    tracing::debug!(
        details_ms = started.elapsed().as_secs_f64() * 1e3,
        "results"
    );
    Ok(wire::page(&hits, page.next, page.browsing))
}

/// A page of the library itself (nothing to search for), newest first or oldest first.
pub fn browse_page(
    engine: &Engine,
    catalog: &Catalog,
    filters: &Filters,
    sort: Sort,
    offset: usize,
    limit: usize,
) -> Result<SearchPage, ServiceError> {
    let page = search::browse(engine, catalog, filters, sort, offset, limit)?;
    let hits = search::with_details(catalog, &page.hits)?;
    Ok(wire::page(&hits, page.next, true))
}

impl Trove {
    /// Runs a query (blocking; waits its turn when every core is busy with queries).
    pub fn search(
        &self,
        query: &Query,
        offset: usize,
        limit: usize,
    ) -> Result<SearchPage, ServiceError> {
        let engine = self.ready()?;
        let _pass = self.limiter.enter(search_limit);
        let catalog = self.readers.get()?;
        query_page(&engine, &catalog, query, offset, limit)
    }

    /// Runs a search as the UI asks for it (blocking): a query when there is anything to
    /// search for, else a page of the library, newest first.
    pub fn search_request(&self, request: SearchRequest) -> Result<SearchPage, ServiceError> {
        let (filters, sort) = wire::filters(&request.filters);
        let vector = match &request.upload {
            Some(key) => Some(self.upload_vector(key)?),
            None => None,
        };
        let query = Query {
            text: request.q.filter(|q| !q.trim().is_empty()),
            like: request.similar_to.into_iter().collect(),
            vector,
            filters,
            sort,
            ..Query::default()
        };
        if query.text.is_none() && query.like.is_empty() && query.vector.is_none() {
            let engine = self.ready()?;
            let catalog = self.readers.get()?;
            return browse_page(
                &engine,
                &catalog,
                &query.filters,
                sort,
                request.offset,
                request.limit,
            );
        }
        self.search(&query, request.offset, request.limit)
    }

    /// Embeds an uploaded image (blocking) and returns the key its results are found by. The
    /// image is not added to the library; the most recent uploads are remembered in memory.
    pub fn upload(&self, bytes: &[u8]) -> Result<String, ServiceError> {
        let engine = self.ready()?;
        if bytes.len() > MAX_UPLOAD_BYTES {
            return Err(UploadError::TooLarge {
                mb: bytes.len() / (1024 * 1024),
                limit_mb: MAX_UPLOAD_BYTES / (1024 * 1024),
            }
            .into());
        }
        let key = key_of(bytes);
        if self.uploads.has(&key, engine.model_id) {
            return Ok(key);
        }
        let limits = DecodeLimits {
            max_bytes: MAX_UPLOAD_BYTES as u64,
            max_pixels: MAX_UPLOAD_PIXELS,
        };
        let _pass = self.limiter.enter(search_limit);
        let embedded = engine.embed_image(bytes, limits).map_err(|e| match e {
            EmbedError::Prepare(p) => UploadError::Unreadable(p),
            e @ (EmbedError::Model(_) | EmbedError::Empty) => UploadError::Model(e),
        })?;
        let thumb =
            thumbs::jpeg(&thumbs::grid_image(&embedded.rgb)).map_err(UploadError::Preview)?;
        self.uploads.put(
            key.clone(),
            Upload {
                model_id: engine.model_id,
                vector: embedded.vector,
                thumb,
            },
        );
        Ok(key)
    }

    /// The embedding of a remembered upload, for the model in use.
    pub fn upload_vector(&self, key: &str) -> Result<Vec<f32>, ServiceError> {
        let engine = self.ready()?;
        Ok(self.uploads.vector(key, engine.model_id)?)
    }

    /// The preview of a remembered upload (JPEG bytes).
    pub fn upload_thumbnail(&self, key: &str) -> Result<Vec<u8>, ServiceError> {
        Ok(self.uploads.get(key)?.thumb.clone())
    }
}
