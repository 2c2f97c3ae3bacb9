//! The HTTP server: Leptos pages and server functions, plus plain JSON routes.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use app::ssr::Services;
use app::{shell, App};
use std::convert::Infallible;
use std::time::Duration;

use app::ssr::Access;
use axum::extract::{DefaultBodyLimit, Extension, FromRef, Multipart, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};

use crate::access::{Gate, ADMIN_COOKIE, GUEST_COOKIE};
use crate::cli::ServeArgs;
use crate::services::{Trove, MAX_UPLOAD_BYTES};
use crate::settings::Settings;

/// State shared by every route.
#[derive(Clone)]
pub struct AppState {
    /// Leptos' build and site options.
    pub leptos_options: LeptosOptions,
    /// The native services, as the Leptos app sees them.
    pub services: Services,
    /// The same services, for the JSON API.
    pub trove: Arc<Trove>,
    /// Who is an admin.
    pub gate: Gate,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Builds the router: pages, server functions, static files and `/api/*` routes.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let services = state.services.clone();
    Router::new()
        .route("/api/health", get(health))
        .route("/api/status", get(status))
        .route("/api/status/events", get(status_events))
        .route("/api/crawl/start", post(crawl_start))
        .route("/api/crawl/stop", post(crawl_stop))
        .route("/api/search", get(api_search))
        .route(
            "/api/search/image",
            post(api_search_image).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 4096)),
        )
        .route(
            "/search/upload",
            post(form_upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/api/similar/{id}", get(api_similar))
        .route("/api/images/{id}", get(api_image))
        .route("/api/libraries", get(api_libraries).post(api_library_add))
        .route("/api/libraries/remove", post(api_library_remove))
        .route("/api/models", get(api_models))
        .route("/api/models/select", post(api_model_select))
        .route("/thumb/{id}", get(thumb))
        .route("/preview/{id}", get(preview))
        .route("/upload/{key}", get(upload_thumb))
        .route("/image/{id}", get(original))
        .route("/admin", get(admin_login))
        .route("/guest", get(guest_preview))
        .leptos_routes_with_context(&state, routes, move || provide_context(services.clone()), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(
            state.gate.clone(),
            crate::access::layer,
        ))
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// The library's state: model, counts, crawl progress, recent skips.
async fn status(State(state): State<AppState>) -> Response {
    let trove = state.trove.clone();
    match tokio::task::spawn_blocking(move || trove.status()).await {
        Ok(status) => Json(status).into_response(),
        Err(e) => internal(&e),
    }
}

/// The status as server-sent events, one `status` event a second.
async fn status_events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream =
        futures_util::stream::unfold((state.trove.clone(), true), |(trove, first)| async move {
            if !first {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let t = trove.clone();
            let event = match tokio::task::spawn_blocking(move || t.status()).await {
                Ok(status) => Event::default()
                    .event("status")
                    .json_data(status)
                    .unwrap_or_else(|_| Event::default().event("error")),
                Err(_) => Event::default().event("error"),
            };
            Some((Ok(event), (trove, false)))
        });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Starts crawling the libraries (admins only).
async fn crawl_start(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
) -> Response {
    if !viewer.admin {
        return forbidden();
    }
    let trove = state.trove.clone();
    let started = tokio::task::spawn_blocking(move || trove.start_crawl()).await;
    match started {
        Ok(Ok(())) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "started": true })),
        )
            .into_response(),
        Ok(Err(e)) => search_error(&e),
        Err(e) => internal(&e),
    }
}

/// Stops the running crawl after its current batch (admins only).
async fn crawl_stop(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
) -> Response {
    if !viewer.admin {
        return forbidden();
    }
    state.trove.crawler().stop();
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "stopping": state.trove.crawler().is_running() })),
    )
        .into_response()
}

/// Query-string parameters of the search endpoints.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchParams {
    q: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    folder: Option<String>,
    from: Option<String>,
    to: Option<String>,
    camera: Option<String>,
    format: Option<String>,
    sort: Option<crate::search::Sort>,
    /// Comma-separated image ids the results should look like.
    like: Option<String>,
    /// Comma-separated image ids the results should not look like.
    unlike: Option<String>,
    /// An uploaded image's key (from `POST /api/search/image`).
    upload: Option<String>,
    /// The images' share of a query mixing text and images (0 to 1).
    weight: Option<f32>,
}

impl SearchParams {
    /// The engine's query; an upload key is resolved to its vector.
    fn query(&self, trove: &Trove) -> Result<crate::search::Query, crate::services::ServiceError> {
        use crate::search::SearchError;
        let ids = |list: &Option<String>| -> Result<Vec<i64>, SearchError> {
            list.iter()
                .flat_map(|l| l.split(','))
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    s.trim().parse::<i64>().map_err(|_| {
                        SearchError::BadQuery(format!("image ids are numbers, not {s:?}"))
                    })
                })
                .collect()
        };
        let vector = match &self.upload {
            Some(key) => Some(trove.upload_vector(key)?),
            None => None,
        };
        Ok(crate::search::Query {
            text: self.q.clone().filter(|q| !q.trim().is_empty()),
            like: ids(&self.like)?,
            unlike: ids(&self.unlike)?,
            vector,
            image_weight: self.weight,
            filters: crate::search::Filters {
                folder: self.folder.clone(),
                from: self.from.clone(),
                to: self.to.clone(),
                camera: self.camera.clone(),
                format: self.format.clone(),
            },
            sort: self.sort.unwrap_or_default(),
        })
    }
}

/// A 400 for a query string that does not parse, with serde's reason.
fn params(
    raw: Result<axum::extract::Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<SearchParams, Box<Response>> {
    raw.map(|q| q.0)
        .map_err(|e| Box::new(bad_request(&e.body_text())))
}

/// An image id from the URL, or a 400.
fn image_id(raw: &str) -> Result<i64, Box<Response>> {
    raw.parse::<i64>()
        .map_err(|_| Box::new(bad_request("image ids are numbers")))
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

/// Search: `GET /api/search?q=red+circle&like=4,9&unlike=7&upload=KEY&weight=0.5&offset=0&limit=60`
/// plus filters; any mix of text, images and an upload.
async fn api_search(
    State(state): State<AppState>,
    raw: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match params(raw) {
        Ok(p) => json(search_page(&state, p, None).await),
        Err(r) => *r,
    }
}

/// Images like image `id`, without it: `GET /api/similar/42?offset=0&limit=60`.
async fn api_similar(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let id = match image_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    match params(raw) {
        Ok(p) => json(search_page(&state, p, Some(id)).await),
        Err(r) => *r,
    }
}

/// Search by an uploaded image: `POST /api/search/image?q=…` with the image file as the body.
/// The answer is a results page plus `upload`, the key that pages on with `GET /api/search`
/// (`?upload=KEY&offset=60`) and that `/search?upload=KEY` shows. The image is not indexed.
async fn api_search_image(
    State(state): State<AppState>,
    raw: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
    body: axum::body::Bytes,
) -> Response {
    let mut p = match params(raw) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if body.is_empty() {
        return bad_request("send the image file as the request body");
    }
    let trove = state.trove.clone();
    let key = match tokio::task::spawn_blocking(move || trove.upload(&body)).await {
        Ok(Ok(key)) => key,
        Ok(Err(e)) => return search_error(&e),
        Err(e) => return internal(&e),
    };
    p.upload = Some(key.clone());
    /// A results page and the upload's key.
    #[derive(serde::Serialize)]
    struct UploadPage {
        upload: String,
        #[serde(flatten)]
        page: app::types::SearchPage,
    }
    json(
        search_page(&state, p, None)
            .await
            .map(|page| UploadPage { upload: key, page }),
    )
}

/// The no-JavaScript upload form (`multipart/form-data`, field `image`): embeds the image and
/// redirects to `/search?upload=KEY`.
async fn form_upload(State(state): State<AppState>, mut form: Multipart) -> Response {
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
                    Err(e) => return upload_page_error(&e.body_text()),
                }
            }
            Ok(None) => break,
            Err(e) => return upload_page_error(&e.body_text()),
        }
    }
    let Some(bytes) = image.filter(|b| !b.is_empty()) else {
        return upload_page_error("choose an image file first");
    };
    let trove = state.trove.clone();
    match tokio::task::spawn_blocking(move || trove.upload(&bytes)).await {
        Ok(Ok(key)) => {
            let q = q.trim();
            let to = if q.is_empty() {
                format!("/search?upload={key}")
            } else {
                format!("/search?upload={key}&q={}", app::pages::search::encode(q))
            };
            Redirect::to(&to).into_response()
        }
        Ok(Err(e)) => upload_page_error(&e.to_string()),
        Err(e) => internal(&e),
    }
}

/// A plain page saying why an upload failed, with a way back.
fn upload_page_error(message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!DOCTYPE html><meta charset=utf-8><title>Upload failed · Trove</title>\
             <p id=upload-error>{escaped}</p><p><a href=\"/\">Back to Trove</a></p>"
        ),
    )
        .into_response()
}

/// Runs a search off the async runtime; an error is already the response to send.
async fn search_page(
    state: &AppState,
    p: SearchParams,
    similar_to: Option<i64>,
) -> Result<app::types::SearchPage, Response> {
    let trove = state.trove.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut query = p.query(&trove)?;
        query.like.extend(similar_to);
        trove.search(&query, p.offset.unwrap_or(0), p.limit.unwrap_or(60))
    })
    .await;
    match result {
        Ok(Ok(page)) => Ok(page),
        Ok(Err(e)) => Err(search_error(&e)),
        Err(e) => Err(internal(&e)),
    }
}

/// A JSON body, or the error response.
fn json<T: serde::Serialize>(result: Result<T, Response>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(response) => response,
    }
}

fn search_error(e: &crate::services::ServiceError) -> Response {
    use crate::search::SearchError;
    use crate::services::ServiceError;
    match e {
        ServiceError::Search(SearchError::BadQuery(m)) => bad_request(m),
        ServiceError::Search(SearchError::NotFound(id)) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": format!("no image {id}") })),
        )
            .into_response(),
        ServiceError::NotReady(m) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": m })),
        )
            .into_response(),
        ServiceError::BadUpload(m) => bad_request(m),
        ServiceError::UploadGone(m) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": m })),
        )
            .into_response(),
        ServiceError::Conflict(m) => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": m })),
        )
            .into_response(),
        ServiceError::Invalid(m) => bad_request(m),
        ServiceError::Search(
            SearchError::Store(_) | SearchError::Vectors(_) | SearchError::Model(_),
        )
        | ServiceError::Store(_) => internal(e),
    }
}

/// What the catalog knows of one image.
async fn api_image(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let id = match image_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let trove = state.trove.clone();
    match tokio::task::spawn_blocking(move || trove.image(id)).await {
        Ok(Ok(Some(detail))) => Json(detail).into_response(),
        Ok(Ok(None)) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": format!("no image {id}") })),
        )
            .into_response(),
        Ok(Err(e)) => search_error(&e),
        Err(e) => internal(&e),
    }
}

/// The library folders with their file counts (`configured`: from the configuration).
async fn api_libraries(State(state): State<AppState>) -> Response {
    let trove = state.trove.clone();
    match tokio::task::spawn_blocking(move || trove.libraries()).await {
        Ok(Ok(roots)) => Json(roots).into_response(),
        Ok(Err(e)) => search_error(&e),
        Err(e) => internal(&e),
    }
}

/// `{"path": "/abs/folder"}`, the body of the library add and remove routes.
#[derive(serde::Deserialize)]
struct LibraryPath {
    path: String,
}

/// Adds a library folder and crawls it (admins only).
async fn api_library_add(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
    body: Result<Json<LibraryPath>, axum::extract::rejection::JsonRejection>,
) -> Response {
    admin_change(state, viewer, body, |t, b: LibraryPath| {
        t.add_library(&b.path)
    })
    .await
}

/// Forgets a library folder and its images (admins only).
async fn api_library_remove(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
    body: Result<Json<LibraryPath>, axum::extract::rejection::JsonRejection>,
) -> Response {
    admin_change(state, viewer, body, |t, b: LibraryPath| {
        t.remove_library(&b.path)
    })
    .await
}

/// An admin's change with a JSON body, run off the async runtime: `{"message": …}` or the error.
async fn admin_change<B: Send + 'static>(
    state: AppState,
    viewer: app::types::Viewer,
    body: Result<Json<B>, axum::extract::rejection::JsonRejection>,
    change: fn(&Trove, B) -> Result<String, crate::services::ServiceError>,
) -> Response {
    if !viewer.admin {
        return forbidden();
    }
    let body = match body {
        Ok(Json(b)) => b,
        Err(e) => return bad_request(&e.body_text()),
    };
    let trove = state.trove.clone();
    match tokio::task::spawn_blocking(move || change(&trove, body)).await {
        Ok(Ok(message)) => Json(serde_json::json!({ "message": message })).into_response(),
        Ok(Err(e)) => search_error(&e),
        Err(e) => internal(&e),
    }
}

/// The model in use and the models that could replace it (the demo model and every folder
/// in `<data>/models`).
async fn api_models(State(state): State<AppState>) -> Response {
    let trove = state.trove.clone();
    match tokio::task::spawn_blocking(move || trove.models()).await {
        Ok(Ok(list)) => Json(list).into_response(),
        Ok(Err(e)) => search_error(&e),
        Err(e) => internal(&e),
    }
}

/// `{"model": "owner/name"}`, the body of the model selection route.
#[derive(serde::Deserialize)]
struct ModelName {
    model: String,
}

/// Switches to another installed model and re-embeds the library with it (admins only).
async fn api_model_select(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
    body: Result<Json<ModelName>, axum::extract::rejection::JsonRejection>,
) -> Response {
    admin_change(state, viewer, body, |t, b: ModelName| {
        t.select_model(&b.model)
    })
    .await
}

/// Image bytes and their MIME type, if the image exists.
type ImageBytes = Option<(Vec<u8>, &'static str)>;

/// Image bytes by id from one of the services' readers, with caching headers.
async fn image_bytes(
    state: &AppState,
    raw_id: &str,
    cache: &'static str,
    read: fn(&Trove, i64) -> Result<ImageBytes, crate::services::ServiceError>,
) -> Response {
    let id = match image_id(raw_id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let trove = state.trove.clone();
    match tokio::task::spawn_blocking(move || read(&trove, id)).await {
        Ok(Ok(Some((bytes, mime)))) => (
            [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, cache)],
            bytes,
        )
            .into_response(),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "no such image").into_response(),
        Ok(Err(e)) => search_error(&e),
        Err(e) => internal(&e),
    }
}

/// The grid thumbnail of an image, by id only.
async fn thumb(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    image_bytes(&state, &id, "public, max-age=86400", |t, id| {
        Ok(t.thumbnail(id)?.map(|b| (b, "image/jpeg")))
    })
    .await
}

/// The lightbox preview of an image (about 1280 px), by id only.
async fn preview(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    image_bytes(&state, &id, "public, max-age=86400", |t, id| {
        Ok(t.preview(id)?.map(|b| (b, "image/jpeg")))
    })
    .await
}

/// The original file of an image, by id only; the path comes from the catalog and must lie
/// inside a library root.
async fn original(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    image_bytes(&state, &id, "private, max-age=3600", Trove::original).await
}

/// The preview of an uploaded image, by its key.
async fn upload_thumb(State(state): State<AppState>, Path(key): Path<String>) -> Response {
    if key.len() != 24 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return bad_request("upload keys are 24 hexadecimal digits");
    }
    match state.trove.upload_thumbnail(&key) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "private, max-age=3600"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => search_error(&e),
    }
}

/// `GET /admin?token=…`: the admin link printed at start. Remembers the token in a cookie
/// (HttpOnly, SameSite=Strict) and goes home.
async fn admin_login(
    State(state): State<AppState>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let token = q.get("token").map(String::as_str).unwrap_or_default();
    if !state.gate.accepts(token) {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html><meta charset=utf-8><title>Trove</title>\
             <p>That admin link is not right: use the one Trove printed when it started \
             (the token is also in the data directory's <code>admin-token</code> file).</p>\
             <p><a href=\"/\">Back to Trove</a></p>",
        )
            .into_response();
    }
    cookie_redirect(&format!(
        "{ADMIN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000"
    ))
}

/// `GET /guest?on=1` shows the site as a guest sees it (admin controls hidden); `?on=0` ends it.
async fn guest_preview(Query(q): Query<std::collections::HashMap<String, String>>) -> Response {
    if q.get("on").map(String::as_str) == Some("0") {
        cookie_redirect(&format!(
            "{GUEST_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0"
        ))
    } else {
        cookie_redirect(&format!("{GUEST_COOKIE}=1; Path=/; SameSite=Strict"))
    }
}

fn cookie_redirect(cookie: &str) -> Response {
    let mut response = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(serde_json::json!({ "error": "only the admin may change the libraries or the model, or start and stop crawls: a request from this machine, or one with the admin token (Authorization: Bearer …)" })),
    )
        .into_response()
}

fn internal(e: &dyn std::error::Error) -> Response {
    tracing::error!(error = %e, "request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({ "error": "internal error" })),
    )
        .into_response()
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn serve(settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    let conf =
        leptos::config::get_configuration(None).context("reading the Leptos site options")?;
    let mut leptos_options = conf.leptos_options;
    let mut addr: SocketAddr = args
        .addr
        .or(settings.addr)
        .unwrap_or(leptos_options.site_addr);
    let lan = args.lan || settings.lan;
    if lan {
        addr.set_ip(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    }
    leptos_options.site_addr = addr;

    let data_dir = settings.data_dir.clone();
    let trove = Trove::open(settings)
        .with_context(|| format!("opening the data directory {}", data_dir.display()))?;
    let gate = Gate::load_or_create(&data_dir).context("reading or making the admin token")?;
    let trove = Arc::new(trove);
    let state = AppState {
        leptos_options,
        services: Services(trove.clone()),
        trove: trove.clone(),
        gate: gate.clone(),
    };
    // Loading the model and index (and the first crawl) happens off the async runtime; pages
    // are served meanwhile and report the library as loading.
    tokio::task::spawn_blocking(move || trove.open_library());

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(data_dir = %data_dir.display(), "Trove is serving");
    // Tests and scripts read this line to learn the port (e.g. with --addr 127.0.0.1:0).
    println!("trove: listening on http://{local}");
    if lan {
        let host = lan_ip().map_or_else(
            || "<this machine's address>".to_owned(),
            |ip| ip.to_string(),
        );
        let port = local.port();
        println!("trove: on your network: http://{host}:{port} (guests can search and view)");
        println!(
            "trove: admin link, keep it private: http://{host}:{port}/admin?token={}",
            gate.token()
        );
    }
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving HTTP")
}

/// This machine's address on the network it would reach the internet through (no packet is
/// sent: connecting a UDP socket only picks the route).
pub fn lan_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
