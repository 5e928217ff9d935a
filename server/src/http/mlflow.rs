//! `/mlflow/` reverse-proxies the MLflow tracking server named by `--mlflow-uri`, so its
//! UI runs on the dashboard's own origin (and may be framed by the MLflow page).
//!
//! MLflow 3 refuses a Host that is not local and a state-changing request whose
//! Origin is not local, so the proxy presents itself as a local client: Host is the
//! upstream's, Origin and Referer are dropped. Paths and queries pass through raw,
//! bodies stream both ways, redirects are rewritten to stay under /mlflow/, and only
//! the configured upstream can ever be reached.

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

use shared::MlflowStatus;

use super::error::error_response;
use super::AppState;
use crate::cause::root_cause;

const PREFIX: &str = "/mlflow";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PREFIX, any(|| async { Redirect::permanent("/mlflow/") }))
        .route("/mlflow/", any(forward))
        .route("/mlflow/{*rest}", any(forward))
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
    parts.uri = match format!("{}{rest}", proxy.base).parse() {
        Ok(uri) => uri,
        Err(_) => return error_response(StatusCode::BAD_REQUEST, "bad_request", "unusable path".to_owned()),
    };
    parts.version = axum::http::Version::HTTP_11;
    let original_host = parts.headers.get(header::HOST).cloned();
    strip_hop_by_hop(&mut parts.headers);
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
#[utoipa::path(get, path = "/mlflow", tag = "server", responses((status = OK, body = MlflowStatus)))]
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
    use super::rewrite_location;

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
