//! Search over HTTP: `GET /api/search`, `GET /api/similar/<id>`, `POST /api/search/image`
//! (an image as the body) and its no-JavaScript form `POST /search/upload`.

use std::time::Duration;

use app::ssr::Access;
use app::types::{SearchPage, UploadPage};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use trove_engine::catalog::Filters;
use trove_engine::search::{self, SearchError};

use super::error::{bad_request, blocking, error_response, json};
use super::pages::upload_failed_page;
use super::AppState;
use crate::services::{wire, ServiceError, Trove};

/// Uploads received and embedded at once; the rest wait (before their bodies are read, so
/// waiting costs no memory) for up to [`UPLOAD_WAIT`].
pub const UPLOADS_AT_ONCE: usize = 2;
/// How long an upload waits for its turn before the server says it is busy.
pub const UPLOAD_WAIT: Duration = Duration::from_secs(20);

/// Middleware of the upload routes: takes one of [`UPLOADS_AT_ONCE`] turns before the body is
/// read, or answers 503 after [`UPLOAD_WAIT`].
pub async fn upload_turn(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let turn = tokio::time::timeout(UPLOAD_WAIT, state.uploads.clone().acquire_owned()).await;
    match turn {
        Ok(Ok(_turn)) => next.run(request).await,
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            axum::Json(app::types::ErrorBody {
                error: "the server is busy with other uploads; try again in a few seconds".into(),
            }),
        )
            .into_response(),
    }
}

/// Query-string parameters of the search endpoints.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    q: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    folder: Option<String>,
    from: Option<String>,
    to: Option<String>,
    camera: Option<String>,
    format: Option<String>,
    sort: Option<app::types::Sort>,
    /// Comma-separated image ids the results should look like.
    like: Option<String>,
    /// Comma-separated image ids the results should not look like.
    unlike: Option<String>,
    /// An uploaded image's key (from `POST /api/search/image`).
    upload: Option<String>,
    /// The images' share of a query mixing text and images (0 to 1).
    weight: Option<f32>,
}

/// Image ids from a comma-separated list.
fn ids(list: Option<&str>) -> Result<Vec<i64>, SearchError> {
    list.into_iter()
        .flat_map(|l| l.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<i64>()
                .map_err(|_| SearchError::BadQuery(format!("image ids are numbers, not {s:?}")))
        })
        .collect()
}

impl SearchParams {
    /// The engine's query; an upload key is resolved to its vector.
    fn query(&self, trove: &Trove) -> Result<search::Query, ServiceError> {
        let vector = match &self.upload {
            Some(key) => Some(trove.upload_vector(key)?),
            None => None,
        };
        Ok(search::Query {
            text: self.q.clone().filter(|q| !q.trim().is_empty()),
            like: ids(self.like.as_deref())?,
            unlike: ids(self.unlike.as_deref())?,
            vector,
            image_weight: self.weight,
            filters: Filters {
                folder: self.folder.clone(),
                from: self.from.clone(),
                to: self.to.clone(),
                camera: self.camera.clone(),
                format: self.format.clone(),
                ..Filters::default()
            },
            sort: wire::sort(self.sort.unwrap_or_default()),
            fusion: search::Fusion::default(),
        })
    }
}

/// The parameters, or a 400 with serde's reason.
fn params(raw: Result<Query<SearchParams>, QueryRejection>) -> Result<SearchParams, Box<Response>> {
    raw.map(|q| q.0)
        .map_err(|e| Box::new(bad_request(e.body_text())))
}

/// An image id from the URL, or a 400.
pub fn image_id(raw: &str) -> Result<i64, Box<Response>> {
    raw.parse::<i64>()
        .map_err(|_| Box::new(bad_request("image ids are numbers")))
}

/// Runs a search off the async runtime; the page is as `viewer` may see it.
async fn search_page(
    state: &AppState,
    viewer: app::types::Viewer,
    p: SearchParams,
    similar_to: Option<i64>,
) -> Result<SearchPage, app::error::AppError> {
    blocking(&state.trove, move |trove| {
        let mut query = p.query(trove)?;
        query.like.extend(similar_to);
        let page = trove.search(&query, p.offset.unwrap_or(0), p.limit.unwrap_or(60))?;
        Ok(trove.for_viewer(viewer, page))
    })
    .await
}

/// `GET /api/search?q=red+circle&like=4,9&unlike=7&upload=KEY&weight=0.5&offset=0&limit=60`
/// plus filters: any mix of text, images and an upload.
pub async fn api_search(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
    raw: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    match params(raw) {
        Ok(p) => json(search_page(&state, viewer, p, None).await),
        Err(r) => *r,
    }
}

/// `GET /api/similar/42?offset=0&limit=60`: images like image 42, without it.
pub async fn api_similar(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
    Path(id): Path<String>,
    raw: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let id = match image_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    match params(raw) {
        Ok(p) => json(search_page(&state, viewer, p, Some(id)).await),
        Err(r) => *r,
    }
}

/// `POST /api/search/image?q=…` with the image file as the body: a results page plus
/// `upload`, the key that pages on with `GET /api/search` (`?upload=KEY&offset=60`) and that
/// `/search?upload=KEY` shows. The image is not indexed.
pub async fn api_search_image(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
    raw: Result<Query<SearchParams>, QueryRejection>,
    body: axum::body::Bytes,
) -> Response {
    let mut p = match params(raw) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if body.is_empty() {
        return bad_request("send the image file as the request body");
    }
    let key = match blocking(&state.trove, move |trove| trove.upload(&body)).await {
        Ok(key) => key,
        Err(e) => return error_response(&e),
    };
    p.upload = Some(key.clone());
    json(
        search_page(&state, viewer, p, None)
            .await
            .map(|page| UploadPage { upload: key, page }),
    )
}

/// The no-JavaScript upload form (`multipart/form-data`, field `image`, optional `q`): embeds
/// the image and redirects to `/search?upload=KEY`.
pub async fn form_upload(State(state): State<AppState>, mut form: Multipart) -> Response {
    let mut image = None;
    let mut q = String::new();
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                match field.bytes().await {
                    Ok(bytes) if name == "image" => image = Some(bytes),
                    Ok(bytes) if name == "q" => q = String::from_utf8_lossy(&bytes).into_owned(),
                    Ok(_) => {}
                    Err(e) => return upload_failed_page(&e.body_text()),
                }
            }
            Ok(None) => break,
            Err(e) => return upload_failed_page(&e.body_text()),
        }
    }
    let Some(bytes) = image.filter(|b| !b.is_empty()) else {
        return upload_failed_page("choose an image file first");
    };
    match blocking(&state.trove, move |trove| trove.upload(&bytes)).await {
        Ok(key) => {
            let q = q.trim();
            let to = if q.is_empty() {
                format!("/search?upload={key}")
            } else {
                format!("/search?upload={key}&q={}", app::pages::search::encode(q))
            };
            Redirect::to(&to).into_response()
        }
        Err(e) => upload_failed_page(e.message()),
    }
}
