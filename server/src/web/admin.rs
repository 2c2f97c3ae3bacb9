//! The admin's JSON routes: crawl start and stop, library folders, the model. Every one checks
//! the viewer first; a guest gets a 403 that says how to become the admin.

use app::error::{AppError, ADMIN_ONLY};
use app::ssr::Access;
use app::types::{Done, Viewer};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::{bad_request, blocking, error_response, json};
use super::AppState;
use crate::services::{ServiceError, Trove};

fn forbidden() -> Response {
    error_response(&AppError::Forbidden(ADMIN_ONLY.into()))
}

/// `POST /api/crawl/start`: crawls the libraries (202 once started).
pub async fn crawl_start(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
) -> Response {
    if !viewer.admin {
        return forbidden();
    }
    match blocking(&state.trove, Trove::start_crawl).await {
        Ok(()) => accepted("crawling the libraries"),
        Err(e) => error_response(&e),
    }
}

/// `POST /api/crawl/stop`: stops the running crawl after its current batch (202).
pub async fn crawl_stop(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
) -> Response {
    if !viewer.admin {
        return forbidden();
    }
    let crawler = state.trove.crawler();
    crawler.stop();
    accepted(if crawler.is_running() {
        "stopping the crawl after its current batch"
    } else {
        "no crawl is running"
    })
}

fn accepted(message: &str) -> Response {
    let done = Done {
        message: message.to_owned(),
    };
    (StatusCode::ACCEPTED, Json(done)).into_response()
}

/// `GET /api/libraries`: the library folders with their file counts (names only for guests).
pub async fn api_libraries(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
) -> Response {
    json(
        blocking(&state.trove, move |t| {
            Ok(t.for_viewer(viewer, t.libraries()?))
        })
        .await,
    )
}

/// `{"path": "/abs/folder"}`, the body of the library add and remove routes.
#[derive(serde::Deserialize)]
pub struct LibraryPath {
    path: String,
}

/// `POST /api/libraries`: adds a library folder and crawls it.
pub async fn api_library_add(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
    body: Result<Json<LibraryPath>, JsonRejection>,
) -> Response {
    admin_change(state, viewer, body, |t, b: LibraryPath| {
        t.add_library(&b.path)
    })
    .await
}

/// `POST /api/libraries/remove`: forgets a library folder and its images.
pub async fn api_library_remove(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
    body: Result<Json<LibraryPath>, JsonRejection>,
) -> Response {
    admin_change(state, viewer, body, |t, b: LibraryPath| {
        t.remove_library(&b.path)
    })
    .await
}

/// `GET /api/models`: the model in use and the models that could replace it.
pub async fn api_models(State(state): State<AppState>) -> Response {
    json(blocking(&state.trove, Trove::models).await)
}

/// `{"model": "owner/name"}`, the body of the model selection route.
#[derive(serde::Deserialize)]
pub struct ModelName {
    model: String,
}

/// `POST /api/models/select`: switches to another installed model and re-embeds the library.
pub async fn api_model_select(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
    body: Result<Json<ModelName>, JsonRejection>,
) -> Response {
    admin_change(state, viewer, body, |t, b: ModelName| {
        t.select_model(&b.model)
    })
    .await
}

/// An admin's change with a JSON body, run off the async runtime: [`Done`] or the error.
async fn admin_change<B: Send + 'static>(
    state: AppState,
    viewer: Viewer,
    body: Result<Json<B>, JsonRejection>,
    change: fn(&Trove, B) -> Result<String, ServiceError>,
) -> Response {
    if !viewer.admin {
        return forbidden();
    }
    let body = match body {
        Ok(Json(b)) => b,
        Err(e) => return bad_request(e.body_text()),
    };
    let done = blocking(&state.trove, move |t| change(t, body)).await;
    json(done.map(|message| Done { message }))
}
