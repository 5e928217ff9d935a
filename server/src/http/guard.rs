//! Checks every request passes before any route sees it: a path in its one canonical
//! spelling (so that the permission check, the router and the MLflow proxy read the
//! same value), no NUL in the query, a Host this dashboard answers to (DNS rebinding),
//! and no change sent by another site's page (cross-site request forgery).

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};

use super::error::error_response;
use super::AppState;
use crate::config::AccessArgs;

/// 400 for a path with more than one spelling, before anything reads it; and for a
/// NUL in the query, which no id, name or filter may hold (PostgreSQL refuses it).
pub async fn refuse_non_canonical(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let why = non_canonical(uri.path()).or_else(|| {
        uri.query().is_some_and(|query| query.contains("%00")).then_some("a NUL character (%00) in the query")
    });
    match why {
        Some(why) => error_response(
            StatusCode::BAD_REQUEST,
            "non_canonical_path",
            format!("the URL holds {why}; send each path segment once, as itself"),
        ),
        None => next.run(request).await,
    }
}

/// Why `path` is not canonical: a path is canonical when no segment is empty (but the
/// last), `.` or `..`, holds a `\`, and when each `%` escape stands for a byte that
/// must be escaped (not a letter, digit or `-._~`, nor `/` or `\`) and the bytes are
/// UTF-8 without control characters. Anything else could be read two ways.
pub fn non_canonical(path: &str) -> Option<&'static str> {
    let Some(rest) = path.strip_prefix('/') else { return Some("a path that does not start with /") };
    let segments: Vec<&str> = rest.split('/').collect();
    for (index, segment) in segments.iter().enumerate() {
        if segment.is_empty() && index + 1 < segments.len() {
            return Some("an empty path segment (//)");
        }
        if segment.contains('\\') {
            return Some("a backslash");
        }
        let decoded = match decode(segment) {
            Ok(decoded) => decoded,
            Err(why) => return Some(why),
        };
        let Ok(text) = std::str::from_utf8(&decoded) else { return Some("%-escapes that are not UTF-8") };
        if text == "." || text == ".." {
            return Some("a . or .. segment");
        }
        if text.chars().any(char::is_control) {
            return Some("a control character (such as NUL)");
        }
    }
    None
}

/// The bytes of a segment's `%` escapes decoded, refusing escapes that are malformed
/// or that stand for a separator or a character that needs none.
fn decode(segment: &str) -> Result<Vec<u8>, &'static str> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'%' {
            decoded.push(bytes[at]);
            at += 1;
            continue;
        }
        let hex = bytes.get(at + 1..at + 3).and_then(|pair| std::str::from_utf8(pair).ok());
        let byte = hex.and_then(|pair| u8::from_str_radix(pair, 16).ok()).ok_or("a malformed %-escape")?;
        if byte == b'/' || byte == b'\\' {
            return Err("an encoded / or \\");
        }
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            return Err("an encoded letter, digit or -._~");
        }
        decoded.push(byte);
        at += 3;
    }
    Ok(decoded)
}

/// Which hosts and origins are this dashboard's own.
#[derive(Debug, Clone)]
pub struct Origins {
    hosts: Vec<String>,
    bound: SocketAddr,
    /// Origins given with `--allowed-origin`; empty: loopback origins.
    origins: Vec<String>,
}

impl Origins {
    pub fn new(access: &AccessArgs, bound: SocketAddr) -> Origins {
        let lower = |list: &[String]| -> Vec<String> {
            list.iter().map(|item| item.trim().trim_end_matches('/').to_ascii_lowercase()).collect()
        };
        Origins { hosts: lower(&access.allowed_hosts), bound, origins: lower(&access.allowed_origins) }
    }

    /// Loopback names, the bound address, and `--allowed-host` names. Any address is
    /// fine when the dashboard listens on all of them: rebinding needs a name.
    fn serves_host(&self, host: &str) -> bool {
        let name = host_name(host);
        if name == "localhost" || self.hosts.iter().any(|allowed| host_name(allowed) == name) {
            return true;
        }
        match name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip == self.bound.ip() || self.bound.ip().is_unspecified(),
            Err(_) => false,
        }
    }

    /// The page's origin is the dashboard's own (same host as the request), one
    /// given with `--allowed-origin`, or by default a loopback origin.
    fn allows_origin(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        let Some((_, authority)) = origin.split_once("://") else { return false };
        if host.is_some_and(|host| host.eq_ignore_ascii_case(authority)) || self.origins.contains(&origin) {
            return true;
        }
        self.origins.is_empty() && {
            let name = host_name(authority);
            name == "localhost"
                || name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// `name:port`, `[v6]:port` or a bare name, lowercased, without the port or a final dot.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let name = match host.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next().unwrap_or_default()),
        None => host
            .rsplit_once(':')
            .filter(|(_, port)| port.parse::<u16>().is_ok())
            .map_or(host.clone(), |(n, _)| n.to_owned()),
    };
    name.trim_end_matches('.').to_owned()
}

/// 421 for a Host the dashboard does not answer to; 403 for a change (an unsafe
/// method) that a page of another origin sent. Clients that send no Origin (curl,
/// agents, the Python registry client) are not affected by the second.
pub async fn check_host_and_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let origins = &state.origins;
    let headers = request.headers();
    let host = headers.get(HOST).and_then(|value| value.to_str().ok());
    if let Some(host) = host {
        if !origins.serves_host(host) {
            return error_response(
                StatusCode::MISDIRECTED_REQUEST,
                "host_not_allowed",
                format!(
                    "this dashboard does not answer to the host `{}`; start it with --allowed-host {} to serve it",
                    host_name(host),
                    host_name(host).trim_start_matches('[').trim_end_matches(']')
                ),
            );
        }
    }
    if !is_safe(request.method()) {
        if let Some(reason) = cross_site(headers, host, origins) {
            return error_response(StatusCode::FORBIDDEN, "cross_site_request", reason);
        }
    }
    next.run(request).await
}

fn cross_site(headers: &HeaderMap, host: Option<&str>, origins: &Origins) -> Option<String> {
    if headers.get("sec-fetch-site").is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site")) {
        return Some("changes may not be sent from another site's page".to_owned());
    }
    let origin = headers.get(ORIGIN)?.to_str().unwrap_or("null");
    if origin == "null" {
        // Sandboxed frames, file: pages and some redirects: no origin to allow.
        return Some("changes from pages without an origin (Origin: null) are refused".to_owned());
    }
    (!origins.allows_origin(origin, host)).then(|| {
        format!("changes from pages of {origin} are refused; start the dashboard with --allowed-origin {origin} to accept them")
    })
}

pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(hosts: &[&str], origins: &[&str], bound: &str) -> Origins {
        Origins {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            origins: origins.iter().map(|o| o.to_string()).collect(),
            bound: bound.parse().unwrap(),
        }
    }

    #[test]
    fn paths_have_one_spelling() {
        for canonical in
            ["/", "/api/workflows", "/mlflow/", "/api/agents/my%20agent", "/api/budgets/caf%C3%A9", "/a/b.c"]
        {
            assert_eq!(non_canonical(canonical), None, "{canonical}");
        }
        for (path, why) in [
            ("/api/budgets/x%5C..%5C..%5C..", "an encoded / or \\"),
            ("/api/tokens/x%5c..", "an encoded / or \\"),
            ("/api%2Fworkflows", "an encoded / or \\"),
            ("/api/x\\..\\y", "a backslash"),
            ("/api/../tokens", "a . or .. segment"),
            ("/api/./tokens", "a . or .. segment"),
            ("/api/%2e%2e/tokens", "an encoded letter, digit or -._~"),
            ("/%61pi/workflows", "an encoded letter, digit or -._~"),
            ("//api/workflows", "an empty path segment (//)"),
            ("/api//workflows", "an empty path segment (//)"),
            ("/api/agents/a%00", "a control character (such as NUL)"),
            ("/api/agents/%C0%AE%C0%AE", "%-escapes that are not UTF-8"),
            ("/api/agents/%FF", "%-escapes that are not UTF-8"),
            ("/api/agents/%zz", "a malformed %-escape"),
            ("/api/agents/%4", "a malformed %-escape"),
            ("api", "a path that does not start with /"),
        ] {
            assert_eq!(non_canonical(path), Some(why), "{path}");
        }
    }

    #[test]
    fn only_own_hosts_are_served() {
        let local = origins(&["dash.example.com"], &[], "127.0.0.1:7861");
        for host in [
            "localhost:7861",
            "LOCALHOST",
            "127.0.0.1:7861",
            "[::1]:7861",
            "127.0.0.2",
            "dash.example.com",
            "dash.example.com.:80",
        ] {
            assert!(local.serves_host(host), "{host}");
        }
        for host in [
            "attacker.example:7861",
            "localhost.attacker.example",
            "10.0.0.5:7861",
            "[fe80::1]",
            "dash.example.com.evil",
        ] {
            assert!(!local.serves_host(host), "{host}");
        }
        let everywhere = origins(&[], &[], "0.0.0.0:7861");
        assert!(everywhere.serves_host("10.0.0.5:7861") && !everywhere.serves_host("rebind.example:7861"));
    }

    #[test]
    fn own_and_loopback_origins_may_change_things() {
        let default = origins(&[], &[], "127.0.0.1:7861");
        assert!(default.allows_origin("http://localhost:7861", Some("localhost:7861")));
        assert!(default.allows_origin("http://127.0.0.1:8080", Some("127.0.0.1:7861")), "trunk serve");
        assert!(!default.allows_origin("http://attacker.example", Some("localhost:7861")));
        assert!(!default.allows_origin("null", Some("localhost:7861")));
        let configured = origins(&["dash.example.com"], &["https://ui.example.com"], "0.0.0.0:7861");
        assert!(configured.allows_origin("https://ui.example.com/", Some("dash.example.com")));
        assert!(configured.allows_origin("https://dash.example.com", Some("dash.example.com")));
        assert!(!configured.allows_origin("http://127.0.0.1:8080", Some("dash.example.com")));
    }
}
