//! How JSON routes answer: the value, or the wire error ([`AppError`]) with its own status and
//! `{"error": …}` ([`ErrorBody`]); and the one way they run blocking work off the runtime.

use std::sync::Arc;

use app::error::AppError;
use app::types::ErrorBody;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::services::{ServiceError, Trove};

/// The response for a wire error.
pub fn error_response(e: &AppError) -> Response {
    let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = ErrorBody {
        error: e.message().to_owned(),
    };
    (status, Json(body)).into_response()
}

/// A 400 with `message`.
pub fn bad_request(message: impl Into<String>) -> Response {
    error_response(&AppError::BadRequest(message.into()))
}

/// A JSON body, or the error's response.
pub fn json<T: serde::Serialize>(result: Result<T, AppError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => error_response(&e),
    }
}

/// Runs `work` on the services on a blocking thread (never on the async runtime); a service
/// error becomes the wire error through the one mapping.
pub async fn blocking<T: Send + 'static>(
    trove: &Arc<Trove>,
    work: impl FnOnce(&Trove) -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, AppError> {
    let trove = trove.clone();
    match tokio::task::spawn_blocking(move || work(&trove)).await {
        Ok(result) => result.map_err(AppError::from),
        Err(e) => {
            tracing::error!(error = %e, "a worker thread failed");
            Err(AppError::Internal(
                "the server failed; its log has the details".into(),
            ))
        }
    }
}
