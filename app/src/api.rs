//! Server functions: thin wrappers that call the server's services and map their errors.

// Server functions must be `async` whether or not their body awaits.
#![allow(clippy::unused_async)]

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{LibraryStatus, SearchPage, SearchRequest, ServerInfo};

/// Facts about the running server for the home page.
#[server(prefix = "/api/fn", endpoint = "server_info")]
pub async fn get_server_info() -> Result<ServerInfo, AppError> {
    let services = crate::ssr::services()?;
    Ok(services.info())
}

/// The library's state: model, counts, crawl progress, recent skips.
#[server(prefix = "/api/fn", endpoint = "library_status")]
pub async fn get_library_status() -> Result<LibraryStatus, AppError> {
    let services = crate::ssr::services()?;
    tokio_blocking(move || Ok(services.status())).await
}

/// One page of results for a text query or an image to look like.
#[server(prefix = "/api/fn", endpoint = "search")]
pub async fn search_images(request: SearchRequest) -> Result<SearchPage, AppError> {
    let services = crate::ssr::services()?;
    tokio_blocking(move || services.search(request)).await
}

/// Runs blocking work off the async runtime.
#[cfg(feature = "ssr")]
async fn tokio_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(format!("a worker thread failed: {e}")))?
}
