//! `GET /api/health`, `GET /api/status` and its event stream `GET /api/status/events` (one
//! `status` event a second, computed once for all streams).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::ssr::Access;
use app::types::Health;
use axum::extract::{Extension, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse as _, Response};
use axum::Json;
use tokio::sync::{watch, Semaphore};
use tokio::time::MissedTickBehavior;

use super::error::{blocking, json};
use super::AppState;
use crate::services::Trove;

/// The server answers.
pub async fn health() -> Json<Health> {
    Json(Health {
        schema: app::types::SCHEMA,
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// The library's state: model, counts, crawl progress, recent skips (as the viewer may see
/// them).
pub async fn status(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
) -> Response {
    json(blocking(&state.trove, move |t| Ok(t.for_viewer(viewer, t.status()))).await)
}

/// Live status streams open at once; more are refused with 503.
pub const MAX_STATUS_STREAMS: usize = 2048;

/// One computed status, as the JSON every stream sends: whole for admins, without paths and
/// positions for guests.
#[derive(Debug, Clone)]
struct Snapshot {
    /// Counts computations: the events' `id`, so a client (or a test) sees them shared.
    seq: u64,
    at: Instant,
    whole: Arc<str>,
    for_guests: Arc<str>,
}

/// The status for the event streams: computed once a second while anyone listens, by one task,
/// and shared by every stream, so a thousand open pages cost what one does.
#[derive(Debug, Clone)]
pub struct StatusFeed {
    latest: Arc<watch::Sender<Option<Snapshot>>>,
    streams: Arc<Semaphore>,
}

impl StatusFeed {
    /// Starts the task that computes the status (on the current Tokio runtime).
    pub fn start(trove: Arc<Trove>) -> Self {
        let latest = Arc::new(watch::Sender::new(None));
        let sender = latest.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
            let mut seq = 0u64;
            loop {
                tick.tick().await;
                if sender.receiver_count() == 0 {
                    continue;
                }
                let trove = trove.clone();
                let computed = tokio::task::spawn_blocking(move || {
                    let status = trove.status();
                    let guest = app::types::Viewer::default();
                    let whole = serde_json::to_string(&status).ok()?;
                    let for_guests =
                        serde_json::to_string(&trove.for_viewer(guest, status)).ok()?;
                    Some((whole, for_guests))
                });
                let Ok(Some((whole, for_guests))) = computed.await else {
                    continue;
                };
                seq += 1;
                sender.send_replace(Some(Snapshot {
                    seq,
                    at: Instant::now(),
                    whole: whole.into(),
                    for_guests: for_guests.into(),
                }));
            }
        });
        StatusFeed {
            latest,
            streams: Arc::new(Semaphore::new(MAX_STATUS_STREAMS)),
        }
    }
}

/// The status as server-sent events, one `status` event a second (the first at once when the
/// shared status is fresh), each with the computation's number as its `id`.
pub async fn status_events(
    State(state): State<AppState>,
    Extension(Access(viewer)): Extension<Access>,
) -> Response {
    let whole = state.trove.shows_paths_to(viewer);
    let Ok(place) = state.status.streams.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "30")],
            Json(app::types::ErrorBody {
                error: "too many live status pages are open; try again later".into(),
            }),
        )
            .into_response();
    };
    let mut updates = state.status.latest.subscribe();
    let fresh = updates
        .borrow_and_update()
        .clone()
        .filter(|s| s.at.elapsed() < Duration::from_secs(2));
    let stream = futures_util::stream::unfold(
        (updates, fresh, place),
        move |(mut updates, first, place)| async move {
            let snapshot = match first {
                Some(snapshot) => snapshot,
                None => {
                    updates.changed().await.ok()?;
                    updates.borrow_and_update().clone()?
                }
            };
            let event = Event::default()
                .event("status")
                .id(snapshot.seq.to_string())
                .data(if whole {
                    &*snapshot.whole
                } else {
                    &*snapshot.for_guests
                });
            Some((Ok::<_, Infallible>(event), (updates, None, place)))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
