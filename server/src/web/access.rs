//! Who may do what. Everyone who can reach the server may search and view; starting or
//! stopping crawls needs an admin: a request from this machine (a loopback peer that asked for a
//! loopback name, through no proxy, unless `loopback_admin` is off), or one carrying the admin
//! token (`Authorization: Bearer <token>`, or the cookie `/admin?token=<token>` sets).
//!
//! Before that, every request passes the [`guard`](super::guard): a host this server answers
//! to, and a same-site origin when it changes state.
//!
//! The token is 128 random bits, made on first start and kept in `<data>/admin-token` (readable
//! by its owner only: a token file others can read is refused). An admin can look at the site
//! as a guest would (`/guest`), which only ever removes rights.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use app::ssr::Access;
use app::types::Viewer;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use trove_engine::fsutil::{write_atomic, WriteOptions};

use super::guard::{self, HostKind, HostNames};

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

    /// Reads `<data_dir>/admin-token`, creating it (owner-only) on first use. A token file that
    /// other users can read is refused: anyone who read it could be the admin.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, TokenError> {
        let path = data_dir.join(TOKEN_FILE);
        match std::fs::read_to_string(&path) {
            Ok(token) if token.trim().len() >= 16 => {
                check_private(&path)?;
                return Ok(AdminToken::new(token.trim()));
            }
            Ok(_) => {
                tracing::warn!(path = %path.display(), "the admin token file is too short; making a new token")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(TokenError::Io { path, source }),
        }
        Self::rotate(data_dir)
    }

    /// Makes a new token and keeps it (owner-only), replacing any old one: every admin link
    /// and cookie made with the old token stops working.
    pub fn rotate(data_dir: &Path) -> Result<Self, TokenError> {
        let path = data_dir.join(TOKEN_FILE);
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| TokenError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        let token = trove_engine::media::thumbs::hex(&bytes);
        let options = WriteOptions {
            private: true,
            durable: true,
        };
        std::fs::create_dir_all(data_dir)
            .and_then(|()| write_atomic(&path, token.as_bytes(), options))
            .map_err(|source| TokenError::Io { path, source })?;
        Ok(AdminToken::new(&token))
    }

    /// The token, for the admin link (`trove admin-token`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether `candidate` is the token (compared in constant time).
    pub fn accepts(&self, candidate: &str) -> bool {
        let (a, b) = (self.token.as_bytes(), candidate.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// Who a request is: `local` says whether it may be an admin for coming from this machine
    /// (see [`Gate::is_local`]); otherwise only the token makes an admin.
    pub fn viewer(&self, local: bool, headers: &HeaderMap) -> Viewer {
        let bearer = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| self.accepts(t.trim()));
        let by_cookie = cookie(headers, ADMIN_COOKIE).is_some_and(|t| self.accepts(&t));
        let admin = local || bearer || by_cookie;
        let previewing_guest = admin && cookie(headers, GUEST_COOKIE).as_deref() == Some("1");
        Viewer {
            admin: admin && !previewing_guest,
            previewing_guest,
        }
    }
}

/// Why the admin token could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Reading or writing the file failed.
    #[error("cannot read or write the admin token file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Other users may read the file.
    #[error(
        "the admin token file {path} can be read by other users (mode {mode:o}); make it private \
         with `chmod 600 {path}`, or make a new token with `trove admin-token --rotate`"
    )]
    NotPrivate {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// Refuses a token file that group or others may read or write.
fn check_private(path: &Path) -> Result<(), TokenError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|source| TokenError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(TokenError::NotPrivate {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The access rules of a running server: the token, the names it answers to, and whether this
/// machine is trusted as the admin.
#[derive(Clone, Debug)]
pub struct Gate {
    /// The admin token.
    pub token: AdminToken,
    /// The host names accepted beyond address literals and loopback names.
    pub hosts: Arc<HostNames>,
    /// Whether a request from this machine is an admin without the token (`loopback_admin`).
    pub loopback_admin: bool,
}

impl Gate {
    /// Whether a request counts as coming from this machine's owner: loopback admin is on, the
    /// peer is loopback, it asked for a loopback name (not a rebound one), and no proxy says it
    /// forwarded the request (a proxy on this machine makes every client loopback).
    pub fn is_local(&self, peer: IpAddr, host: HostKind, headers: &HeaderMap) -> bool {
        self.loopback_admin
            && guard::is_loopback(peer)
            && host == HostKind::Loopback
            && !guard::forwarded(headers)
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

/// Middleware: refuses a foreign `Host` (421) and a cross-site state change (403), decides the
/// viewer once and puts it into the request's extensions, where handlers, pages and server
/// functions read it ([`app::ssr::viewer`]), and hardens every response's headers.
pub async fn layer(
    State(gate): State<Gate>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let host = guard::requested_host(request.headers(), request.uri()).map(str::to_owned);
    // A request without a host is not from a browser, so it cannot be a rebinding attack.
    let kind = host
        .as_deref()
        .map_or(HostKind::Known, |h| gate.hosts.classify(h));
    let mut response = if kind == HostKind::Foreign {
        refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "Trove does not answer to this host name; an admin can add it to allowed_hosts \
             (trove serve --allowed-host NAME)"
                .to_owned(),
        )
    } else if let Some(why) = guard::changes_state(request.method(), request.uri().path())
        .then(|| guard::cross_site(request.headers(), host.as_deref()))
        .flatten()
    {
        refuse(
            StatusCode::FORBIDDEN,
            format!("refused: {why}; Trove's settings change only from its own pages"),
        )
    } else {
        let local = gate.is_local(peer.ip(), kind, request.headers());
        let viewer = gate.token.viewer(local, request.headers());
        request.extensions_mut().insert(Access(viewer));
        next.run(request).await
    };
    guard::harden(response.headers_mut());
    response
}

/// A refusal in the API's error shape.
fn refuse(status: StatusCode, message: String) -> Response {
    (status, axum::Json(app::types::ErrorBody { error: message })).into_response()
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

    fn gate(loopback_admin: bool) -> Gate {
        Gate {
            token: AdminToken::new("0123456789abcdef0123456789abcdef"),
            hosts: Arc::new(HostNames::new(Some("studio"), &[])),
            loopback_admin,
        }
    }

    #[test]
    fn this_machine_is_local_only_by_a_loopback_name_through_no_proxy() {
        let gate = gate(true);
        let local: IpAddr = "127.0.0.1".parse().expect("ip");
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().expect("ip");
        let lan: IpAddr = "192.168.1.20".parse().expect("ip");
        let none = headers(&[]);
        assert!(gate.is_local(local, HostKind::Loopback, &none));
        assert!(gate.is_local(mapped, HostKind::Loopback, &none));
        assert!(!gate.is_local(lan, HostKind::Loopback, &none));
        assert!(!gate.is_local(local, HostKind::Known, &none));
        let proxied = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert!(!gate.is_local(local, HostKind::Loopback, &proxied));
        assert!(!self::gate(false).is_local(local, HostKind::Loopback, &none));
    }

    #[test]
    fn the_token_makes_an_admin_and_nothing_else_does() {
        let token = AdminToken::new("0123456789abcdef0123456789abcdef");
        assert!(token.viewer(true, &headers(&[])).admin);
        assert!(!token.viewer(false, &headers(&[])).admin);
        let bearer = headers(&[("authorization", "Bearer 0123456789abcdef0123456789abcdef")]);
        assert!(token.viewer(false, &bearer).admin);
        let cookie = headers(&[(
            "cookie",
            "a=b; trove_admin=0123456789abcdef0123456789abcdef",
        )]);
        assert!(token.viewer(false, &cookie).admin);
        for wrong in [
            "Bearer 0123456789abcdef0123456789abcdee",
            "Bearer 0123456789abcdef",
            "Bearer ",
            "0123456789abcdef0123456789abcdef",
        ] {
            assert!(
                !token
                    .viewer(false, &headers(&[("authorization", wrong)]))
                    .admin,
                "{wrong}"
            );
        }
        assert!(
            !token
                .viewer(false, &headers(&[("cookie", "trove_admin=nope")]))
                .admin
        );
    }

    #[test]
    fn previewing_as_a_guest_only_removes_rights() {
        let token = AdminToken::new("0123456789abcdef0123456789abcdef");
        let guest = headers(&[("cookie", "trove_guest=1")]);
        let v = token.viewer(true, &guest);
        assert!(!v.admin && v.previewing_guest);
        let v = token.viewer(false, &guest);
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
        let rotated = AdminToken::rotate(dir.path()).expect("rotate");
        assert_ne!(rotated.token(), a.token());
        assert_eq!(
            AdminToken::load_or_create(dir.path())
                .expect("load")
                .token(),
            rotated.token()
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_others_can_read_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        AdminToken::load_or_create(dir.path()).expect("create");
        let path = dir.path().join(TOKEN_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = AdminToken::load_or_create(dir.path()).expect_err("loose permissions");
        let text = err.to_string();
        assert!(text.contains("chmod 600") && text.contains("644"), "{text}");
    }
}
