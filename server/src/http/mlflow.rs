//! `/mlflow/` reverse-proxies the MLflow tracking server named by `--mlflow-uri`, so its
//! UI runs on the dashboard's own origin (and may be framed by the MLflow page).
//!
//! MLflow 3 refuses a Host that is not local and a state-changing request whose
//! Origin is not local, so the proxy presents itself as a local client: Host is the
//! upstream's, Origin and Referer are dropped. Nothing of the dashboard's own access
//! reaches MLflow (its Authorization, session cookie, CSRF and SSO headers are
//! removed) and MLflow cannot set or clear the dashboard's cookies. Paths (canonical,
//! as the gate checked them) and queries pass through as sent, bodies stream both ways
//! under the gate's cap and deadline, redirects are rewritten to stay under /mlflow/,
//! and only the configured upstream can ever be reached. Reads (and searches, which
//! MLflow sends as POSTs) need the read permission; other changes operate.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::any;
use axum::Router;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

use shared::{MlflowStatus, Permission};

use super::auth::{CSRF_HEADER, SECURE_SESSION_COOKIE, SESSION_COOKIE};
use super::error::error_response;
use super::guard::is_safe;
use super::rules::{Rule, Rules};
use super::AppState;
use crate::cause::root_cause;

const PREFIX: &str = "/mlflow";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub fn routes(rules: &mut Rules) -> Router<AppState> {
    for path in [PREFIX, "/mlflow/", "/mlflow/{*rest}"] {
        rules.declare(path, None, Rule::Framed(permission));
    }
    Router::new()
        .route(PREFIX, any(|| async { Redirect::permanent("/mlflow/") }))
        .route("/mlflow/", any(forward))
        .route("/mlflow/{*rest}", any(forward))
}

/// MLflow's searches: POSTs that only read. Exact paths, so that no path a caller
/// chooses (an artifact named `search`) passes for one.
const SEARCHES: [&str; 7] = [
    "experiments/search",
    "runs/search",
    "registered-models/search",
    "model-versions/search",
    "logged-models/search",
    "traces/search",
    "datasets/search",
];

fn permission(method: &Method, path: &str) -> Permission {
    let api = [
        "/mlflow/ajax-api/2.0/mlflow/",
        "/mlflow/api/2.0/mlflow/",
        "/mlflow/ajax-api/3.0/mlflow/",
        "/mlflow/api/3.0/mlflow/",
    ];
    let endpoint = api.iter().find_map(|prefix| path.strip_prefix(prefix));
    let search = *method == Method::POST && endpoint.is_some_and(|endpoint| SEARCHES.contains(&endpoint));
    match is_safe(method) || search {
        true => Permission::Read,
        false => Permission::Operate,
    }
}

/// `GET /api/mlflow`: whether MLflow is configured and answering, for the MLflow page.
pub fn status_routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(status))
}

#[derive(Clone)]
pub struct MlflowProxy {
    client: Client<HttpConnector, Body>,
    /// `http://host:port` plus any path prefix, without a trailing slash.
    base: String,
    authority: HeaderValue,
    /// How long to wait for the upstream's response headers.
    timeout: Duration,
}

impl MlflowProxy {
    pub fn new(uri: &str, timeout: Duration) -> anyhow::Result<MlflowProxy> {
        let parsed: Uri = uri.parse().map_err(|e| anyhow::anyhow!("--mlflow-uri `{uri}` is not a URL: {e}"))?;
        if parsed.scheme_str() != Some("http") {
            anyhow::bail!("--mlflow-uri must be an http:// URL (MLflow's own server speaks plain HTTP)");
        }
        let authority = parsed.authority().ok_or_else(|| anyhow::anyhow!("--mlflow-uri `{uri}` has no host"))?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        Ok(MlflowProxy {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base: format!("http://{authority}{}", parsed.path().trim_end_matches('/')),
            authority: HeaderValue::from_str(authority.as_str())?,
            timeout,
        })
    }

    async fn send(&self, request: Request) -> Result<Response, Response> {
        let upstream = self.base.clone();
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response.map(Body::new)),
            Ok(Err(error)) if super::body_guard::too_large(&error) => Err(error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than --max-body-bytes".to_owned(),
            )),
            Ok(Err(error)) if super::body_guard::timed_out(&error) => Err(error_response(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive in time (--body-timeout)".to_owned(),
            )),
            Ok(Err(error)) => Err(error_response(
                StatusCode::BAD_GATEWAY,
                "mlflow_unreachable",
                format!("MLflow at {upstream} is unreachable: {}", root_cause(&error)),
            )),
            Err(_) => Err(error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "mlflow_timeout",
                format!("MLflow at {upstream} did not answer within {} s", self.timeout.as_secs_f64()),
            )),
        }
    }
}

fn not_configured() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "mlflow_not_configured",
        "MLflow is not configured: start the dashboard with --mlflow-uri http://HOST:PORT".to_owned(),
    )
}

/// Methods MLflow's UI and API use; CONNECT, TRACE and others never reach it.
const FORWARDED_METHODS: [Method; 7] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS];

async fn forward(State(state): State<AppState>, request: Request) -> Response {
    if !FORWARDED_METHODS.contains(request.method()) {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{} is not forwarded to MLflow", request.method()),
        );
    }
    let Some(proxy) = &state.mlflow else { return not_configured() };
    let (mut parts, body) = request.into_parts();
    // The raw path and query, exactly as sent: no decoding, no re-encoding.
    let raw = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let rest = raw.strip_prefix(PREFIX).unwrap_or(raw);
    let ui_page = rest == "/" || rest.starts_with("/?");
    parts.uri = match format!("{}{rest}", proxy.base).parse() {
        Ok(uri) => uri,
        Err(_) => return error_response(StatusCode::BAD_REQUEST, "bad_request", "unusable path".to_owned()),
    };
    parts.version = axum::http::Version::HTTP_11;
    let original_host = parts.headers.get(header::HOST).cloned();
    strip_hop_by_hop(&mut parts.headers);
    strip_our_access(&mut parts.headers, state.access.trusted_header());
    parts.headers.insert(header::HOST, proxy.authority.clone());
    parts.headers.remove(header::ORIGIN);
    parts.headers.remove(header::REFERER);
    if let Some(host) = original_host {
        parts.headers.insert(HeaderName::from_static("x-forwarded-host"), host);
    }
    parts.headers.insert(HeaderName::from_static("x-forwarded-prefix"), HeaderValue::from_static(PREFIX));
    let response = match proxy.send(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(error) => return error,
    };
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    keep_our_cookies(&mut parts.headers);
    confine(&mut parts.headers, ui_page);
    if let Some(location) = parts.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) {
        if let Some(rewritten) = rewrite_location(location, &proxy.base) {
            if let Ok(value) = HeaderValue::from_str(&rewritten) {
                parts.headers.insert(header::LOCATION, value);
            }
        }
    }
    Response::from_parts(parts, body)
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    ] {
        headers.remove(name);
    }
}

/// Our credentials stay ours: the token, our session cookie (other cookies pass), the
/// CSRF value and the SSO proxy's user header.
fn strip_our_access(headers: &mut HeaderMap, sso_header: Option<&HeaderName>) {
    headers.remove(header::AUTHORIZATION);
    headers.remove(CSRF_HEADER);
    if let Some(name) = sso_header {
        headers.remove(name);
    }
    let others: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && !ours(pair.split('=').next().unwrap_or_default()))
        .map(str::to_owned)
        .collect();
    headers.remove(header::COOKIE);
    if let Ok(value) = HeaderValue::from_str(&others.join("; ")) {
        if !others.is_empty() {
            headers.insert(header::COOKIE, value);
        }
    }
}

fn ours(cookie: &str) -> bool {
    let name = cookie.trim();
    name == SESSION_COOKIE || name == SECURE_SESSION_COOKIE
}

/// MLflow may set its own cookies, never ours (to shadow or end a dashboard session):
/// any `Set-Cookie` that names ours anywhere, in any case or encoding, is dropped.
fn keep_our_cookies(headers: &mut HeaderMap) {
    let names_ours = |value: &HeaderValue| {
        let lower = value.as_bytes().to_ascii_lowercase();
        lower.windows(SESSION_COOKIE.len()).any(|window| window == SESSION_COOKIE.as_bytes())
    };
    let kept: Vec<HeaderValue> =
        headers.get_all(header::SET_COOKIE).iter().filter(|value| !names_ours(value)).cloned().collect();
    headers.remove(header::SET_COOKIE);
    for value in kept {
        headers.append(header::SET_COOKIE, value);
    }
}

/// MLflow runs on the dashboard's origin, so what it serves besides its UI page
/// (artifacts a run uploaded, HTML among them) is sandboxed: none of its scripts runs
/// with the dashboard's origin, its session and its CSRF value. Nor may MLflow open the
/// origin to other sites (CORS) or clear its site data (and with it our session).
fn confine(headers: &mut HeaderMap, ui_page: bool) {
    let widening: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-") || name.as_str() == "clear-site-data")
        .cloned()
        .collect();
    for name in widening {
        headers.remove(name);
    }
    if !ui_page {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; frame-ancestors 'self'"));
    }
}

/// A redirect to the upstream (absolute, or a path on it) becomes one under /mlflow/.
fn rewrite_location(location: &str, base: &str) -> Option<String> {
    let base_path = base.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_default();
    let path = match location.strip_prefix(base) {
        Some(rest) => rest,
        None if location.starts_with('/') && !location.starts_with("//") => {
            location.strip_prefix(base_path.as_str()).unwrap_or(location)
        }
        None => return None,
    };
    Some(format!("{PREFIX}{}", if path.starts_with('/') { path.to_owned() } else { format!("/{path}") }))
}

/// Whether MLflow is configured and answering; its UI is proxied under `/mlflow/`.
#[utoipa::path(get, path = "/mlflow", tag = "server", security(("token" = ["read"])), responses((status = OK, body = MlflowStatus)))]
async fn status(State(state): State<AppState>) -> impl IntoResponse {
    let Some(proxy) = &state.mlflow else {
        return axum::Json(MlflowStatus {
            configured: false,
            reachable: false,
            message: "MLflow is not configured".to_owned(),
        });
    };
    let probe = Request::get(format!("{}/health", proxy.base))
        .header(header::HOST, proxy.authority.clone())
        .body(Body::empty())
        .unwrap_or_default();
    let (reachable, message) = match proxy.send(probe).await {
        Ok(response) if response.status().is_success() => (true, format!("MLflow at {} is up", proxy.base)),
        Ok(response) => (false, format!("MLflow at {} answered {}", proxy.base, response.status())),
        Err(_) => (false, format!("MLflow at {} is unreachable", proxy.base)),
    };
    axum::Json(MlflowStatus { configured: true, reachable, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_of_ours_reaches_mlflow_or_comes_back() {
        let mut sent = HeaderMap::new();
        sent.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer cat_secret"));
        sent.insert(CSRF_HEADER, HeaderValue::from_static("csrf"));
        sent.insert("x-forwarded-user", HeaderValue::from_static("alice"));
        sent.append(header::COOKIE, HeaderValue::from_static("ca_session=s1; mlflow_pref=dark"));
        sent.append(header::COOKIE, HeaderValue::from_static("__Host-ca_session=s2"));
        strip_our_access(&mut sent, Some(&HeaderName::from_static("x-forwarded-user")));
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[header::COOKIE], "mlflow_pref=dark");
        let mut answered = HeaderMap::new();
        for cookie in [
            "ca_session=evil; Path=/",
            "__Host-ca_session=; Max-Age=0",
            "=ca_session=x",
            "CA_SESSION=y",
            "mlflow_pref=light",
        ] {
            answered.append(header::SET_COOKIE, HeaderValue::from_static(cookie));
        }
        answered.append(header::SET_COOKIE, HeaderValue::from_bytes(b"ca_session=z; a=\xff").unwrap());
        keep_our_cookies(&mut answered);
        let kept: Vec<_> = answered.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(kept, ["mlflow_pref=light"]);
    }

    #[test]
    fn what_mlflow_serves_cannot_act_as_the_dashboard() {
        let mut answered = HeaderMap::new();
        answered.insert("access-control-allow-origin", HeaderValue::from_static("*"));
        answered.insert("clear-site-data", HeaderValue::from_static("\"cookies\""));
        answered.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        let mut artifact = answered.clone();
        confine(&mut artifact, false);
        assert_eq!(artifact.len(), 2, "{artifact:?}");
        assert_eq!(artifact[header::CONTENT_SECURITY_POLICY], "sandbox; frame-ancestors 'self'");
        confine(&mut answered, true);
        assert_eq!(answered.len(), 1, "the UI page keeps its own policy: {answered:?}");
    }

    #[test]
    fn mlflow_reads_and_searches_need_read_and_changes_operate() {
        let api = "/mlflow/ajax-api/2.0/mlflow";
        assert_eq!(permission(&Method::GET, "/mlflow/"), Permission::Read);
        assert_eq!(permission(&Method::POST, &format!("{api}/runs/search")), Permission::Read);
        assert_eq!(permission(&Method::POST, &format!("{api}/experiments/search")), Permission::Read);
        assert_eq!(permission(&Method::POST, &format!("{api}/runs/delete")), Permission::Operate);
        assert_eq!(
            permission(&Method::PUT, "/mlflow/api/2.0/mlflow-artifacts/artifacts/0/r/a.html"),
            Permission::Operate
        );
    }

    #[test]
    fn redirects_stay_under_the_prefix() {
        let base = "http://127.0.0.1:5000";
        assert_eq!(
            rewrite_location("http://127.0.0.1:5000/#/experiments", base).as_deref(),
            Some("/mlflow/#/experiments")
        );
        assert_eq!(rewrite_location("/static-files/", base).as_deref(), Some("/mlflow/static-files/"));
        assert_eq!(rewrite_location("https://elsewhere.example/", base), None);
        assert_eq!(rewrite_location("//elsewhere.example/", base), None);
        assert_eq!(rewrite_location("/ml/x", "http://h:1/ml").as_deref(), Some("/mlflow/x"));
    }
}
