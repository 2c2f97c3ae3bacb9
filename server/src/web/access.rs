//! Who may do what. Everyone who can reach the server may search and view; starting or
//! stopping crawls needs an admin: a request from this machine (loopback), or one carrying the
//! admin token (`Authorization: Bearer <token>`, or the cookie `/admin?token=<token>` sets).
//!
//! The token is 128 random bits, made on first start and kept in `<data>/admin-token` (readable
//! by its owner only). An admin can look at the site as a guest would (`/guest`), which only
//! ever removes rights.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use app::ssr::Access;
use app::types::Viewer;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use trove_engine::fsutil::{write_atomic, WriteOptions};

/// The cookie holding the admin token in a browser.
pub const ADMIN_COOKIE: &str = "trove_admin";
/// The cookie set by "view as guest".
pub const GUEST_COOKIE: &str = "trove_guest";
/// The token's file in the data directory.
pub const TOKEN_FILE: &str = "admin-token";

/// The admin token and the rule that uses it.
#[derive(Clone)]
pub struct AdminToken {
    token: Arc<str>,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminToken").finish_non_exhaustive()
    }
}

impl AdminToken {
    /// A known token.
    pub fn new(token: &str) -> Self {
        AdminToken {
            token: Arc::from(token),
        }
    }

    /// Reads `<data_dir>/admin-token`, creating it (owner-only) on first use.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join(TOKEN_FILE);
        match std::fs::read_to_string(&path) {
            Ok(token) if token.trim().len() >= 16 => return Ok(AdminToken::new(token.trim())),
            Ok(_) => {
                tracing::warn!(path = %path.display(), "the admin token file is too short; making a new token")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
        let token = trove_engine::media::thumbs::hex(&bytes);
        let options = WriteOptions {
            private: true,
            durable: true,
        };
        write_atomic(&path, token.as_bytes(), options)?;
        Ok(AdminToken::new(&token))
    }

    /// The token, for the admin link printed at start.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether `candidate` is the token (compared in constant time).
    pub fn accepts(&self, candidate: &str) -> bool {
        let (a, b) = (self.token.as_bytes(), candidate.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// Who a request is, from its peer address and headers.
    pub fn viewer(&self, peer: IpAddr, headers: &HeaderMap) -> Viewer {
        let bearer = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| self.accepts(t.trim()));
        let by_cookie = cookie(headers, ADMIN_COOKIE).is_some_and(|t| self.accepts(&t));
        let admin = is_local(peer) || bearer || by_cookie;
        let previewing_guest = admin && cookie(headers, GUEST_COOKIE).as_deref() == Some("1");
        Viewer {
            admin: admin && !previewing_guest,
            previewing_guest,
        }
    }
}

/// A loopback address (IPv4-mapped IPv6 included).
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The value of cookie `name`, if the request has it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// Middleware: decides the viewer once and puts it into the request's extensions, where
/// handlers, pages and server functions read it ([`app::ssr::viewer`]).
pub async fn layer(
    State(token): State<AdminToken>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let viewer = token.viewer(peer.ip(), request.headers());
    request.extensions_mut().insert(Access(viewer));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn loopback_or_the_token_makes_an_admin_and_nothing_else_does() {
        let token = AdminToken::new("0123456789abcdef0123456789abcdef");
        let lan: IpAddr = "192.168.1.20".parse().expect("ip");
        let local: IpAddr = "127.0.0.1".parse().expect("ip");
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().expect("ip");
        assert!(token.viewer(local, &headers(&[])).admin);
        assert!(token.viewer(mapped, &headers(&[])).admin);
        assert!(!token.viewer(lan, &headers(&[])).admin);
        let bearer = headers(&[("authorization", "Bearer 0123456789abcdef0123456789abcdef")]);
        assert!(token.viewer(lan, &bearer).admin);
        let cookie = headers(&[(
            "cookie",
            "a=b; trove_admin=0123456789abcdef0123456789abcdef",
        )]);
        assert!(token.viewer(lan, &cookie).admin);
        for wrong in [
            "Bearer 0123456789abcdef0123456789abcdee",
            "Bearer 0123456789abcdef",
            "Bearer ",
            "0123456789abcdef0123456789abcdef",
        ] {
            assert!(
                !token
                    .viewer(lan, &headers(&[("authorization", wrong)]))
                    .admin,
                "{wrong}"
            );
        }
        assert!(
            !token
                .viewer(lan, &headers(&[("cookie", "trove_admin=nope")]))
                .admin
        );
    }

    #[test]
    fn previewing_as_a_guest_only_removes_rights() {
        let token = AdminToken::new("0123456789abcdef0123456789abcdef");
        let local: IpAddr = "127.0.0.1".parse().expect("ip");
        let lan: IpAddr = "10.0.0.7".parse().expect("ip");
        let guest = headers(&[("cookie", "trove_guest=1")]);
        let v = token.viewer(local, &guest);
        assert!(!v.admin && v.previewing_guest);
        let v = token.viewer(lan, &guest);
        assert!(!v.admin && !v.previewing_guest);
    }

    #[test]
    fn the_token_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = AdminToken::load_or_create(dir.path()).expect("create");
        let b = AdminToken::load_or_create(dir.path()).expect("load");
        assert_eq!(a.token(), b.token());
        assert_eq!(a.token().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        let other = AdminToken::load_or_create(tempfile::tempdir().expect("t").path()).expect("c");
        assert_ne!(a.token(), other.token());
    }
}
