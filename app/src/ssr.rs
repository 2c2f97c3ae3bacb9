//! The server's side of the app: the services handle that the `trove` server puts into Leptos
//! context, through which server functions reach native code (catalog, models, index).

use std::sync::Arc;

use leptos::prelude::use_context;

use crate::error::AppError;
use crate::types::{
    LibraryList, LibraryStatus, ModelList, SearchPage, SearchRequest, ServerInfo, TagCount, Viewer,
};

/// What server functions need from the server. Implemented by the `server` crate; the
/// blocking methods are called from `spawn_blocking`.
pub trait Backend: Send + Sync + 'static {
    /// Facts about the running server.
    fn info(&self) -> ServerInfo;
    /// The library's state (blocking: reads the catalog).
    fn status(&self) -> LibraryStatus;
    /// One page of results (blocking: embeds the query, reads the index and catalog).
    fn search(&self, request: SearchRequest) -> Result<SearchPage, AppError>;
    /// Starts crawling the libraries (blocking: lists the roots); the caller checked that the
    /// viewer is an admin.
    fn start_crawl(&self) -> Result<(), AppError>;
    /// Asks the running crawl to stop after its current batch.
    fn stop_crawl(&self);
    /// The library's most common tags, most pictures first (blocking: reads the catalog).
    fn common_tags(&self, limit: usize) -> Result<Vec<TagCount>, AppError>;
    /// The library folders (blocking: reads the catalog).
    fn libraries(&self) -> Result<LibraryList, AppError>;
    /// Adds a library folder and crawls it (blocking); the answer says what happened.
    fn add_library(&self, path: &str) -> Result<String, AppError>;
    /// Forgets a library folder and its images (blocking); the answer says how many.
    fn remove_library(&self, path: &str) -> Result<String, AppError>;
    /// The model in use and the installed ones (blocking: reads the models folder).
    fn models(&self) -> Result<ModelList, AppError>;
    /// Whether `viewer` may see absolute paths and GPS positions (admins always; guests when the
    /// server allows it).
    fn shows_paths_to(&self, viewer: Viewer) -> bool;
    /// Switches to another installed model (blocking: loads it, stops the crawl, then crawls
    /// so every image gets the new model's embedding); the answer says what happened.
    fn select_model(&self, model: &str) -> Result<String, AppError>;
}

/// Who made the request, as the server's access layer decided it: put into each request's
/// extensions before any page or server function runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access(pub Viewer);

/// The viewer of the current request (a guest when the access layer did not run).
pub fn viewer() -> Viewer {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Access>().copied())
        .map(|a| a.0)
        .unwrap_or_default()
}

/// A cheap, cloneable handle to the server's [`Backend`], provided as Leptos context.
#[derive(Clone)]
pub struct Services(pub Arc<dyn Backend>);

impl std::ops::Deref for Services {
    type Target = dyn Backend;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

/// `value` as the current request's viewer may see it (paths and positions hidden from guests
/// unless the server allows them). Call it on the async side: the viewer comes from the
/// request's context.
pub fn for_viewer<T: crate::redact::HidePaths>(services: &Services, mut value: T) -> T {
    if !services.shows_paths_to(viewer()) {
        value.hide_paths();
    }
    value
}

/// The services handle from context; an internal error if the server forgot to provide it.
pub fn services() -> Result<Services, AppError> {
    use_context::<Services>()
        .ok_or_else(|| AppError::Internal("server services are not in the Leptos context".into()))
}
