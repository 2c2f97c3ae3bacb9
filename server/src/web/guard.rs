//! What a request must show before anything else looks at it: a `Host` this server answers to
//! (DNS rebinding), a same-site origin when it changes state (cross-site forms), and whether a
//! proxy stands between the client and us (then loopback means nothing). Also the headers every
//! response carries (no framing, no sniffing, a default Content-Security-Policy).

use std::net::IpAddr;

use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};

/// How a `Host` is known to this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// `localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`: only this machine reaches it.
    Loopback,
    /// An address literal, the machine's name, or an `allowed_hosts` entry.
    Known,
    /// Anything else: a name that may have been re-pointed at us (DNS rebinding).
    Foreign,
}

/// The names this server answers to, beyond address literals and loopback names.
#[derive(Debug, Clone, Default)]
pub struct HostNames {
    names: Vec<String>,
}

impl HostNames {
    /// The machine's own name (and `<name>.local`) plus the configured `allowed_hosts`.
    pub fn new(machine: Option<&str>, allowed: &[String]) -> Self {
        let mut names: Vec<String> = allowed.iter().map(|h| normalise(h)).collect();
        if let Some(name) = machine.map(normalise).filter(|n| !n.is_empty()) {
            names.push(format!("{name}.local"));
            names.push(name);
        }
        names.retain(|n| !n.is_empty());
        HostNames { names }
    }

    /// How `host` (a `Host` header's value, port included or not) is known.
    ///
    /// Any address literal is accepted: rebinding needs a name whose address the attacker
    /// controls, and a browser that sends `Host: 192.168.1.5` is talking to that address.
    pub fn classify(&self, host: &str) -> HostKind {
        let name = host_name(host);
        if name.is_empty() {
            return HostKind::Foreign;
        }
        if let Ok(ip) = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return if is_loopback(ip) {
                HostKind::Loopback
            } else {
                HostKind::Known
            };
        }
        if name == "localhost" || name.ends_with(".localhost") {
            HostKind::Loopback
        } else if self.names.contains(&name) {
            HostKind::Known
        } else {
            HostKind::Foreign
        }
    }
}

/// A host name lower-cased, without a trailing dot or a port.
fn normalise(host: &str) -> String {
    host_name(host.trim())
}

/// The name part of `host[:port]` (IPv6 literals keep their brackets), lower-cased, without a
/// trailing dot.
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if host.starts_with('[') {
        host.split_once(']').map_or(host, |(v6, _)| v6)
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(name, _)| name)
    };
    let name = name.strip_prefix('[').unwrap_or(name);
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A loopback address (IPv4-mapped IPv6 included).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The authority the client asked for: the `Host` header, or an HTTP/2 request's `:authority`.
pub fn requested_host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

/// Whether a request arrived through a proxy that says so: then the peer address is the
/// proxy's, and a loopback peer says nothing about the client.
pub fn forwarded(headers: &HeaderMap) -> bool {
    [
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
        "x-client-ip",
        "cf-connecting-ip",
        "true-client-ip",
        "via",
    ]
    .iter()
    .any(|name| headers.contains_key(*name))
}

/// Whether a request may change state: everything but reads, and the one read that sets a
/// cookie without a secret (`/guest`, the guest preview switch).
pub fn changes_state(method: &Method, path: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) || path == "/guest"
}

/// Why a state-changing request is refused as cross-site, if it is. Browsers say where a
/// request comes from in `Sec-Fetch-Site` and `Origin` (and, in old ones, only `Referer`); a
/// request carrying none of them is not from a web page and is judged by its credentials alone.
pub fn cross_site(headers: &HeaderMap, host: Option<&str>) -> Option<&'static str> {
    let text = |name: header::HeaderName| headers.get(name).map(|v| v.to_str().unwrap_or("?"));
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.to_str(), Ok("same-origin" | "none")) {
            return Some("the request came from another site");
        }
    }
    let same = |url: &str| {
        let host = host.map(str::to_ascii_lowercase);
        origin_authority(url).is_some_and(|a| Some(a.to_ascii_lowercase()) == host)
    };
    if let Some(origin) = text(header::ORIGIN) {
        if !same(origin) {
            return Some("the request's Origin is another site");
        }
    } else if let Some(referer) = text(header::REFERER) {
        // Relative referers are not sent by browsers; a tool that sends one is same-origin.
        if referer.contains("://") && !same(referer) {
            return Some("the request's Referer is another site");
        }
    }
    None
}

/// The `host[:port]` of an absolute `http(s)` URL (`null` and other schemes have none).
fn origin_authority(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|a| !a.is_empty() && !a.contains('@'))
}

/// The Content-Security-Policy of a page whose inline scripts carry `nonce`: scripts only from
/// this server or with the nonce, WebAssembly allowed, no framing, no plugins, forms and
/// fetches to this server only.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy of every other response: the same, with no inline script at all.
pub const DEFAULT_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the headers every response carries, keeping a page's own policy when it set one.
pub fn harden(headers: &mut HeaderMap) {
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_POLICY),
        );
    }
}

/// This machine's host name, if the system says (`/proc` on Linux, `hostname` elsewhere).
pub fn machine_name() -> Option<String> {
    let from_proc = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    let name = from_proc.or_else(|| {
        std::process::Command::new("hostname")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
    })?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn hosts_are_loopback_known_or_foreign() {
        let names = HostNames::new(Some("Studio"), &["photos.example.org".to_owned()]);
        for loopback in [
            "localhost",
            "localhost:3000",
            "LOCALHOST.:3000",
            "app.localhost",
            "127.0.0.1:3000",
            "127.9.9.9",
            "[::1]:3000",
            "[::ffff:127.0.0.1]",
        ] {
            assert_eq!(names.classify(loopback), HostKind::Loopback, "{loopback}");
        }
        for known in [
            "192.168.1.20:3000",
            "10.0.0.1",
            "[fe80::1]:80",
            "studio",
            "studio.local:3000",
            "Photos.Example.org",
        ] {
            assert_eq!(names.classify(known), HostKind::Known, "{known}");
        }
        for foreign in [
            "evil.example",
            "evil.example:3000",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "studio.evil",
            "",
            ":3000",
        ] {
            assert_eq!(names.classify(foreign), HostKind::Foreign, "{foreign}");
        }
    }

    #[test]
    fn cross_site_requests_are_told_from_same_origin_ones() {
        let host = Some("127.0.0.1:3000");
        let same = [
            vec![],
            vec![("sec-fetch-site", "same-origin")],
            vec![("sec-fetch-site", "none")],
            vec![("origin", "http://127.0.0.1:3000")],
            vec![("referer", "http://127.0.0.1:3000/search?q=x")],
            vec![
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:3000"),
            ],
        ];
        for h in same {
            assert_eq!(cross_site(&headers(&h), host), None, "{h:?}");
        }
        let cross = [
            vec![("sec-fetch-site", "cross-site")],
            vec![("sec-fetch-site", "same-site")],
            vec![("origin", "http://evil.example")],
            vec![("origin", "null")],
            vec![("origin", "http://127.0.0.1:3001")],
            vec![("origin", "http://127.0.0.1:3000@evil.example")],
            vec![("referer", "https://evil.example/page")],
            vec![
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://evil.example"),
            ],
        ];
        for h in cross {
            assert!(cross_site(&headers(&h), host).is_some(), "{h:?}");
        }
        assert!(cross_site(&headers(&[("origin", "http://x")]), None).is_some());
    }

    #[test]
    fn forwarding_headers_are_noticed() {
        assert!(!forwarded(&headers(&[("user-agent", "x")])));
        for name in ["forwarded", "x-forwarded-for", "x-real-ip", "via"] {
            assert!(forwarded(&headers(&[(name, "1.2.3.4")])), "{name}");
        }
    }

    #[test]
    fn every_response_is_hardened_and_a_page_keeps_its_policy() {
        let mut h = HeaderMap::new();
        harden(&mut h);
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii")
            .contains("frame-ancestors 'none'"));
        let mut page = HeaderMap::new();
        let policy = page_policy("abc");
        page.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&policy).expect("ascii"),
        );
        harden(&mut page);
        assert_eq!(page[header::CONTENT_SECURITY_POLICY], policy.as_str());
    }
}
