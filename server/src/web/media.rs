//! Images by id: `GET /thumb/<id>`, `/preview/<id>`, `/image/<id>` (a path never comes from the
//! URL: the catalog says where the file is, and it must lie inside a library root),
//! `/upload/<key>` for an uploaded image's preview, and `GET /api/images/<id>` for the facts.

use app::error::AppError;
use app::ssr::Access;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio_util::io::ReaderStream;

use super::error::{bad_request, blocking, error_response, json};
use super::search::image_id;
use super::AppState;
use crate::services::{ServiceError, Trove};

/// Image bytes and their MIME type, when the image exists.
type Found = Option<(Vec<u8>, &'static str)>;

/// Image bytes with their type and caching header, 404 when there are none.
fn image(found: Result<Found, AppError>, cache: &'static str) -> Response {
    match found {
        Ok(Some((bytes, mime))) => (
            [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, cache)],
            bytes,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such image").into_response(),
        Err(e) => error_response(&e),
    }
}

/// Image bytes found by `read` for the id in the URL, with `cache` as the caching header.
async fn by_id(
    state: &AppState,
    raw_id: &str,
    cache: &'static str,
    read: fn(&Trove, i64) -> Result<Found, ServiceError>,
) -> Response {
    let id = match image_id(raw_id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    image(blocking(&state.trove, move |t| read(t, id)).await, cache)
}

/// The grid thumbnail of an image (made again from the original if it went missing).
pub async fn thumb(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    by_id(&state, &id, "public, max-age=86400", |t, id| {
        Ok(t.thumbnail(id)?.map(|b| (b, "image/jpeg")))
    })
    .await
}

/// The lightbox preview of an image (about 1280 px).
pub async fn preview(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    by_id(&state, &id, "public, max-age=86400", |t, id| {
        Ok(t.preview(id)?.map(|b| (b, "image/jpeg")))
    })
    .await
}

/// The original file of an image, streamed from disk (never read whole into memory), while it
/// is still the file that was indexed.
pub async fn original(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let id = match image_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    match blocking(&state.trove, move |t| t.original(id)).await {
        Ok(Some(open)) => {
            let file = tokio::fs::File::from_std(open.file);
            let body = Body::from_stream(ReaderStream::with_capacity(file, 64 * 1024));
            let mut response = body.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(open.mime));
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(open.len));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            );
            response
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            "no such image, or its file changed since it was indexed",
        )
            .into_response(),
        Err(e) => error_response(&e),
    }
}

/// What the catalog knows of one image (as the viewer may see it).
pub async fn api_image(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
    Path(id): Path<String>,
) -> Response {
    let id = match image_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let found = blocking(&state.trove, move |t| {
        Ok(t.image(id)?.map(|info| t.for_viewer(viewer, info)))
    })
    .await;
    json(found.and_then(|info| info.ok_or_else(|| AppError::NotFound(format!("no image {id}")))))
}

/// The preview of an uploaded image, by its key.
pub async fn upload_thumb(State(state): State<AppState>, Path(key): Path<String>) -> Response {
    if key.len() != 24 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return bad_request("upload keys are 24 hexadecimal digits");
    }
    let found = state
        .trove
        .upload_thumbnail(&key)
        .map(|b| Some((b, "image/jpeg")))
        .map_err(AppError::from);
    image(found, "private, max-age=3600")
}
