//! The HTTP server: Leptos pages and server functions, plus plain JSON routes.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use app::ssr::Services;
use app::{shell, App};
use axum::extract::FromRef;
use axum::routing::get;
use axum::{Json, Router};
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
    /// The native services.
    pub services: Services,
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
    let state = AppState {
        leptos_options,
        services: Services(Arc::new(trove)),
    };

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(data_dir = %data_dir.display(), "Trove is serving");
    // Tests and scripts read this line to learn the port (e.g. with --addr 127.0.0.1:0).
    println!("trove: listening on http://{local}");
    axum::serve(listener, router(state).into_make_service())
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
