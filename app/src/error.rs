//! The one error type that crosses the wire. Server-side errors are mapped onto it at the edge,
//! in one exhaustive match, so the browser only ever sees these variants.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// An error a page or server function can show to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The request itself was wrong (a user error); the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// The thing asked for does not exist; the message names it.
    #[error("{0}")]
    NotFound(String),
    /// Only an admin may do this.
    #[error("{0}")]
    Forbidden(String),
    /// It cannot be done now (a crawl is already running, say); the message says why.
    #[error("{0}")]
    Conflict(String),
    /// The service is not ready yet (or could not start); the message says why.
    #[error("{0}")]
    Unavailable(String),
    /// Something failed on the server; details are in the server's log, not here.
    #[error("internal error: {0}")]
    Internal(String),
    /// The server function call itself failed (network, encoding, missing server).
    #[error("request failed: {0}")]
    Transport(String),
}

/// What a guest is told when they try an admin's action.
pub const ADMIN_ONLY: &str = "only the admin may change the libraries or the model, or start and stop crawls: open Trove on its own machine, or with the admin link (`trove admin-token` prints it there), or send Authorization: Bearer <token>";

impl AppError {
    /// The words for a person, without the kind's prefix (the JSON API's `error`).
    pub fn message(&self) -> &str {
        match self {
            AppError::BadRequest(m)
            | AppError::NotFound(m)
            | AppError::Forbidden(m)
            | AppError::Conflict(m)
            | AppError::Unavailable(m)
            | AppError::Internal(m)
            | AppError::Transport(m) => m,
        }
    }

    /// The HTTP status this error is sent with.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Unavailable(_) => 503,
            AppError::Internal(_) => 500,
            AppError::Transport(_) => 502,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_follow_the_kind_of_error() {
        assert_eq!(
            AppError::BadRequest("empty query".into()).status_code(),
            400
        );
        assert_eq!(AppError::NotFound("image 7".into()).status_code(), 404);
        assert_eq!(AppError::Internal("disk full".into()).status_code(), 500);
    }

    #[test]
    fn transport_failures_become_their_own_variant() {
        let err = AppError::from_server_fn_error(ServerFnErrorErr::Request("offline".into()));
        assert!(
            matches!(err, AppError::Transport(ref m) if m.contains("offline")),
            "{err:?}"
        );
    }
}
