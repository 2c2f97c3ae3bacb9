//! `GET /api/health`, `GET /api/status` and its event stream `GET /api/status/events` (one
//! `status` event a second).

use std::convert::Infallible;
use std::time::Duration;

use app::types::Health;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::Response;
use axum::Json;
use futures_util::Stream;

use super::error::{blocking, json};
use super::AppState;

/// The server answers.
pub async fn health() -> Json<Health> {
    Json(Health {
        schema: app::types::SCHEMA,
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// The library's state: model, counts, crawl progress, recent skips.
pub async fn status(State(state): State<AppState>) -> Response {
    json(blocking(&state.trove, |t| Ok(t.status())).await)
}

/// The status as server-sent events, one `status` event a second.
pub async fn status_events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures_util::stream::unfold((state, true), |(state, first)| async move {
        if !first {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let event = match blocking(&state.trove, |t| Ok(t.status())).await {
            Ok(status) => Event::default()
                .event("status")
                .json_data(status)
                .unwrap_or_else(|_| Event::default().event("error")),
            Err(_) => Event::default().event("error"),
        };
        Some((Ok(event), (state, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
