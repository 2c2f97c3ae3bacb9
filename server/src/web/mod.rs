//! The HTTP server: Leptos pages and server functions, plain JSON routes, images by id, and who
//! is an admin ([`access`]). Handlers are thin: they parse, run the services off the async
//! runtime ([`error::blocking`]) and answer with wire types or the wire error.

pub mod access;
pub mod admin;
pub mod error;
pub mod guard;
pub mod listen;
pub mod media;
pub mod pages;
pub mod search;
pub mod status;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use app::ssr::Services;
use app::{shell, App};
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};

use crate::cli::ServeArgs;
use crate::services::search::MAX_UPLOAD_BYTES;
use crate::services::Trove;
use crate::settings::Settings;
use access::{AdminToken, Gate};

/// State shared by every route.
#[derive(Clone)]
pub struct AppState {
    /// Leptos' build and site options.
    pub leptos_options: LeptosOptions,
    /// The native services, as the Leptos app sees them.
    pub services: Services,
    /// The same services, for the JSON API.
    pub trove: Arc<Trove>,
    /// Who is an admin, and which requests are refused before anything else.
    pub gate: Gate,
    /// Turns for uploads ([`search::upload_turn`]).
    pub uploads: Arc<tokio::sync::Semaphore>,
    /// The status, computed once a second for every event stream ([`status::StatusFeed`]).
    pub status: status::StatusFeed,
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
    // Each page gets the services, and a Content-Security-Policy naming the nonce Leptos put
    // on that page's inline scripts.
    let context = move || {
        provide_context(services.clone());
        page_policy();
    };
    Router::new()
        .route("/api/health", get(status::health))
        .route("/api/status", get(status::status))
        .route("/api/status/events", get(status::status_events))
        .route("/api/crawl/start", post(admin::crawl_start))
        .route("/api/crawl/stop", post(admin::crawl_stop))
        .route("/api/search", get(search::api_search))
        .route(
            "/api/search/image",
            post(search::api_search_image)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 4096))
                .layer(from_fn_with_state(state.clone(), search::upload_turn)),
        )
        .route(
            "/search/upload",
            post(search::form_upload)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 64 * 1024))
                .layer(from_fn_with_state(state.clone(), search::upload_turn)),
        )
        .route("/api/similar/{id}", get(search::api_similar))
        .route("/api/images/{id}", get(media::api_image))
        .route(
            "/api/libraries",
            get(admin::api_libraries).post(admin::api_library_add),
        )
        .route("/api/libraries/remove", post(admin::api_library_remove))
        .route("/api/models", get(admin::api_models))
        .route("/api/models/select", post(admin::api_model_select))
        .route("/thumb/{id}", get(media::thumb))
        .route("/preview/{id}", get(media::preview))
        .route("/upload/{key}", get(media::upload_thumb))
        .route("/image/{id}", get(media::original))
        .route("/admin", get(pages::admin_login))
        .route("/guest", get(pages::guest_preview))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(axum::middleware::from_fn(listen::deadline))
        .layer(from_fn_with_state(state.gate.clone(), access::layer))
        .with_state(state)
}

/// Sets the page's Content-Security-Policy from the nonce of the page being rendered.
fn page_policy() {
    let response = leptos::prelude::use_context::<leptos_axum::ResponseOptions>();
    if let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), response) {
        if let Ok(value) = axum::http::HeaderValue::from_str(&guard::page_policy(&nonce)) {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn serve(mut settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
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
    let network = &mut settings.network;
    network
        .allowed_hosts
        .extend(args.allowed_hosts.iter().cloned());
    network.loopback_admin &= !args.no_loopback_admin;
    network.guests_see_paths |= args.guests_see_paths;
    let network = network.clone();
    let trove = Trove::open(settings)
        .with_context(|| format!("opening the data directory {}", data_dir.display()))?;
    let token = AdminToken::load_or_create(&data_dir)?;
    let gate = Gate {
        token: token.clone(),
        hosts: Arc::new(guard::HostNames::new(
            guard::machine_name().as_deref(),
            &network.allowed_hosts,
        )),
        loopback_admin: network.loopback_admin,
    };
    if !network.loopback_admin {
        tracing::info!("loopback admin is off: this machine needs the admin link too");
    }
    let trove = Arc::new(trove);
    let state = AppState {
        leptos_options,
        services: Services(trove.clone()),
        trove: trove.clone(),
        gate,
        uploads: Arc::new(tokio::sync::Semaphore::new(search::UPLOADS_AT_ONCE)),
        status: status::StatusFeed::start(trove.clone()),
    };
    // Loading the model and index (and the first crawl) happens off the async runtime; pages
    // are served meanwhile and report the library as loading.
    tokio::task::spawn_blocking(move || trove.open_engine());

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
        // Only a person at a terminal sees the link: a log file or a service manager's
        // journal may be read by others.
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            println!(
                "trove: admin link, keep it private: http://{host}:{port}/admin?token={}",
                token.token()
            );
        } else {
            println!("trove: for the admin link, run `trove admin-token` on this machine");
        }
    }
    listen::serve(listener, router(state), shutdown_signal())
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
