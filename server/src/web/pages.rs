//! The few plain pages outside the Leptos app: the admin link (`/admin?token=…`), the guest
//! preview switch (`/guest`), and the page a failed no-JavaScript upload lands on. Anything
//! from the request that reaches them is escaped.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::access::{ADMIN_COOKIE, GUEST_COOKIE};
use super::AppState;
pub use app::format::escape_html;

/// A small HTML page with `status`, a title and a body (already HTML).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!DOCTYPE html><meta charset=utf-8><title>{} · Trove</title>{body}\
             <p><a href=\"/\">Back to Trove</a></p>",
            escape_html(title)
        ),
    )
        .into_response()
}

/// A page saying why an upload failed, with a way back.
pub fn upload_failed_page(message: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Upload failed",
        &format!("<p id=upload-error>{}</p>", escape_html(message)),
    )
}

/// `GET /admin?token=…`: the admin link (`trove admin-token` prints it). Remembers the token in a cookie
/// (HttpOnly, SameSite=Strict) and goes home.
pub async fn admin_login(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = q.get("token").map(String::as_str).unwrap_or_default();
    if !state.gate.token.accepts(token) {
        return page(
            StatusCode::FORBIDDEN,
            "Not the admin link",
            "<p>That admin link is not right: on the machine Trove runs on, \
             <code>trove admin-token</code> prints the right one.</p>",
        );
    }
    cookie_redirect(&format!(
        "{ADMIN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000"
    ))
}

/// `GET /guest?on=1` shows the site as a guest sees it (admin controls hidden); `?on=0` ends it.
pub async fn guest_preview(Query(q): Query<HashMap<String, String>>) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_messages_is_escaped() {
        assert_eq!(
            escape_html("</p><script>alert('x')</script> & \"q\""),
            "&lt;/p&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
