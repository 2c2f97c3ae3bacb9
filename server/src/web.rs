//! The HTTP server: Leptos pages and server functions, plus plain JSON routes.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use app::ssr::Services;
use app::{shell, App};
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRef, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};

use crate::cli::ServeArgs;
use crate::services::Trove;
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
        .route("/api/similar/{id}", get(api_similar))
        .route("/api/images/{id}", get(api_image))
        .route("/thumb/{id}", get(thumb))
        .route("/image/{id}", get(original))
        .leptos_routes_with_context(&state, routes, move || provide_context(services.clone()), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
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

/// Starts crawling the libraries (admin: requests from this machine only).
async fn crawl_start(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if !peer.ip().is_loopback() {
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
        Ok(Err(e)) => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": e })),
        )
            .into_response(),
        Err(e) => internal(&e),
    }
}

/// Stops the running crawl after its current batch (admin).
async fn crawl_stop(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if !peer.ip().is_loopback() {
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
}

impl SearchParams {
    fn query(&self) -> crate::search::Query {
        crate::search::Query {
            text: self.q.clone(),
            filters: crate::search::Filters {
                folder: self.folder.clone(),
                from: self.from.clone(),
                to: self.to.clone(),
                camera: self.camera.clone(),
                format: self.format.clone(),
            },
            sort: self.sort.unwrap_or_default(),
            ..crate::search::Query::default()
        }
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

/// Text search: `GET /api/search?q=red+circle&offset=0&limit=60`.
async fn api_search(
    State(state): State<AppState>,
    raw: Result<axum::extract::Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let p = match params(raw) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let query = p.query();
    run_search(&state, query, p.offset.unwrap_or(0), p.limit.unwrap_or(60)).await
}

/// Images like image `id`, without it: `GET /api/similar/42?offset=0&limit=60`.
async fn api_similar(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    raw: Result<axum::extract::Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let id = match image_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let p = match params(raw) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let mut query = p.query();
    query.like.push(id);
    run_search(&state, query, p.offset.unwrap_or(0), p.limit.unwrap_or(60)).await
}

async fn run_search(
    state: &AppState,
    query: crate::search::Query,
    offset: usize,
    limit: usize,
) -> Response {
    let trove = state.trove.clone();
    let result = tokio::task::spawn_blocking(move || trove.search(&query, offset, limit)).await;
    match result {
        Ok(Ok(page)) => Json(page).into_response(),
        Ok(Err(e)) => search_error(&e),
        Err(e) => internal(&e),
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
        ServiceError::Search(
            SearchError::Store(_) | SearchError::Vectors(_) | SearchError::Model(_),
        )
        | ServiceError::Store(_) => internal(e),
    }
}

/// What the catalog knows of one image.
async fn api_image(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
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

/// The grid thumbnail of an image, by id only.
async fn thumb(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let id = match image_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let trove = state.trove.clone();
    match tokio::task::spawn_blocking(move || trove.thumbnail(id)).await {
        Ok(Ok(Some(bytes))) => (
            [
                (axum::http::header::CONTENT_TYPE, "image/jpeg"),
                (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "no such image").into_response(),
        Ok(Err(e)) => search_error(&e),
        Err(e) => internal(&e),
    }
}

/// The original file of an image, by id only; the path comes from the catalog and must lie
/// inside a library root.
async fn original(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let id = match image_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let trove = state.trove.clone();
    match tokio::task::spawn_blocking(move || trove.original(id)).await {
        Ok(Ok(Some((bytes, mime)))) => (
            [
                (axum::http::header::CONTENT_TYPE, mime),
                (axum::http::header::CACHE_CONTROL, "private, max-age=3600"),
            ],
            bytes,
        )
            .into_response(),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "no such image").into_response(),
        Ok(Err(e)) => search_error(&e),
        Err(e) => internal(&e),
    }
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(serde_json::json!({ "error": "only a request from this machine may start or stop a crawl" })),
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
    let addr: SocketAddr = args
        .addr
        .or(settings.addr)
        .unwrap_or(leptos_options.site_addr);
    leptos_options.site_addr = addr;

    let data_dir = settings.data_dir.clone();
    let trove = Trove::open(settings)
        .with_context(|| format!("opening the data directory {}", data_dir.display()))?;
    let trove = Arc::new(trove);
    let state = AppState {
        leptos_options,
        services: Services(trove.clone()),
        trove: trove.clone(),
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
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving HTTP")
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
