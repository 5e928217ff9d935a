//! Checks every request passes before any route sees it: no NUL in the URL, a Host
//! this dashboard answers to (DNS rebinding), and no change sent by another site's
//! page (cross-site request forgery).

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};

use super::error::error_response;
use super::AppState;
use crate::config::AccessArgs;

/// A NUL character is never part of a valid id, name or filter, and PostgreSQL
/// refuses it in text: a URL that holds one (`%00`) is refused whole.
pub async fn refuse_nul_in_url(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if uri.path().contains("%00") || uri.query().is_some_and(|query| query.contains("%00")) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the URL holds a NUL character (%00), which no id, name or filter may contain".to_owned(),
        );
    }
    next.run(request).await
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
