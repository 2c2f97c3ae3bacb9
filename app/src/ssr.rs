//! The server's side of the app: the services handle that the `trove` server puts into Leptos
//! context, through which server functions reach native code (catalog, models, index).

use std::sync::Arc;

use leptos::prelude::use_context;

use crate::error::AppError;
use crate::types::{LibraryStatus, SearchPage, SearchRequest, ServerInfo};

/// What server functions need from the server. Implemented by the `server` crate; the
/// blocking methods are called from `spawn_blocking`.
pub trait Backend: Send + Sync + 'static {
    /// Facts about the running server.
    fn info(&self) -> ServerInfo;
    /// The library's state (blocking: reads the catalog).
    fn status(&self) -> LibraryStatus;
    /// One page of results (blocking: embeds the query, reads the index and catalog).
    fn search(&self, request: SearchRequest) -> Result<SearchPage, AppError>;
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

/// The services handle from context; an internal error if the server forgot to provide it.
pub fn services() -> Result<Services, AppError> {
    use_context::<Services>()
        .ok_or_else(|| AppError::Internal("server services are not in the Leptos context".into()))
}
