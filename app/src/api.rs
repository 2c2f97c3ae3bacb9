//! Server functions: thin wrappers that call the server's services and map their errors.

// Server functions must be `async` whether or not their body awaits.
#![allow(clippy::unused_async)]

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{
    LibraryList, LibraryStatus, ModelList, SearchPage, SearchRequest, ServerInfo, TagCount, Viewer,
};

/// Facts about the running server for the home page.
#[server(prefix = "/api/fn", endpoint = "server_info")]
pub async fn get_server_info() -> Result<ServerInfo, AppError> {
    with_status(async move {
        let services = crate::ssr::services()?;
        Ok(crate::ssr::for_viewer(&services, services.info()))
    })
    .await
}

/// The library's state: model, counts, crawl progress, recent skips.
#[server(prefix = "/api/fn", endpoint = "library_status")]
pub async fn get_library_status() -> Result<LibraryStatus, AppError> {
    with_status(async move {
        let services = crate::ssr::services()?;
        let handle = services.clone();
        let status = tokio_blocking(move || Ok(handle.status())).await?;
        Ok(crate::ssr::for_viewer(&services, status))
    })
    .await
}

/// Tags shown on the home page to browse by.
pub const COMMON_TAGS: usize = 40;

/// The library's most common tags, most pictures first.
#[server(prefix = "/api/fn", endpoint = "common_tags")]
pub async fn get_common_tags() -> Result<Vec<TagCount>, AppError> {
    with_status(async move {
        let services = crate::ssr::services()?;
        tokio_blocking(move || services.common_tags(COMMON_TAGS)).await
    })
    .await
}

/// One page of results for a text query or an image to look like.
#[server(prefix = "/api/fn", endpoint = "search")]
pub async fn search_images(request: SearchRequest) -> Result<SearchPage, AppError> {
    with_status(async move {
        let services = crate::ssr::services()?;
        let handle = services.clone();
        let page = tokio_blocking(move || handle.search(request)).await?;
        Ok(crate::ssr::for_viewer(&services, page))
    })
    .await
}

/// Sends a server function's error with its own HTTP status (a guest's 403, a bad query's 400)
/// rather than 500; a plain form post (no JavaScript) keeps the redirect back to its page.
#[cfg(feature = "ssr")]
async fn with_status<T>(
    work: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    let result = work.await;
    if let Err(e) = &result {
        // Only for a call over HTTP: while a page renders, its own status stands (a page whose
        // panel says the library is still opening is still a 200).
        let called = use_context::<http::request::Parts>().is_some_and(|parts| {
            let form_post = parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"));
            parts.uri.path().starts_with("/api/fn/") && !form_post
        });
        let code = http::StatusCode::from_u16(e.status_code());
        if let (true, Some(options), Ok(code)) =
            (called, use_context::<leptos_axum::ResponseOptions>(), code)
        {
            options.set_status(code);
        }
    }
    result
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

/// Who is looking: admins see the crawl controls.
#[server(prefix = "/api/fn", endpoint = "viewer")]
pub async fn get_viewer() -> Result<Viewer, AppError> {
    with_status(async move { Ok(crate::ssr::viewer()) }).await
}

/// Starts a crawl of the libraries (admins only).
#[server(prefix = "/api/fn", endpoint = "crawl_start")]
pub async fn start_crawl() -> Result<(), AppError> {
    with_status(async move {
        let services = admin_services()?;
        tokio_blocking(move || services.start_crawl()).await
    })
    .await
}

/// Stops the running crawl after its current batch (admins only).
#[server(prefix = "/api/fn", endpoint = "crawl_stop")]
pub async fn stop_crawl() -> Result<(), AppError> {
    with_status(async move {
        let services = admin_services()?;
        services.stop_crawl();
        Ok(())
    })
    .await
}

/// The library folders and how many files each holds.
#[server(prefix = "/api/fn", endpoint = "libraries")]
pub async fn get_libraries() -> Result<LibraryList, AppError> {
    with_status(async move {
        let services = crate::ssr::services()?;
        let handle = services.clone();
        let list = tokio_blocking(move || handle.libraries()).await?;
        Ok(crate::ssr::for_viewer(&services, list))
    })
    .await
}

/// Adds a library folder and crawls it (admins only).
#[server(prefix = "/api/fn", endpoint = "library_add")]
pub async fn add_library(path: String) -> Result<String, AppError> {
    with_status(async move {
        let services = admin_services()?;
        tokio_blocking(move || services.add_library(&path)).await
    })
    .await
}

/// Forgets a library folder and its images (admins only); the files themselves are untouched.
#[server(prefix = "/api/fn", endpoint = "library_remove")]
pub async fn remove_library(path: String) -> Result<String, AppError> {
    with_status(async move {
        let services = admin_services()?;
        tokio_blocking(move || services.remove_library(&path)).await
    })
    .await
}

/// The model in use and the models installed.
#[server(prefix = "/api/fn", endpoint = "models")]
pub async fn get_models() -> Result<ModelList, AppError> {
    with_status(async move {
        let services = crate::ssr::services()?;
        tokio_blocking(move || services.models()).await
    })
    .await
}

/// Switches the library to another installed model and re-embeds it (admins only).
#[server(prefix = "/api/fn", endpoint = "model_select")]
pub async fn select_model(model: String) -> Result<String, AppError> {
    with_status(async move {
        let services = admin_services()?;
        tokio_blocking(move || services.select_model(&model)).await
    })
    .await
}

/// The services, for an admin's request; a guest gets a 403 that says how to become one.
#[cfg(feature = "ssr")]
fn admin_services() -> Result<crate::ssr::Services, AppError> {
    if !crate::ssr::viewer().admin {
        return Err(AppError::Forbidden(crate::error::ADMIN_ONLY.into()));
    }
    crate::ssr::services()
}
