//! The browser app, embedded in the binary from `dist/` (`trunk build --release`), so
//! a user runs one file. Unknown paths get `index.html` so deep links work; hashed
//! assets are cached forever, `index.html` is revalidated by its ETag. The app's code
//! is sent as compressed when it was built (`scripts/build.sh`), so no request pays
//! for compressing it.

use std::borrow::Cow;

use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

use super::error::error_response;
use super::security_headers::page_policy;

#[derive(rust_embed::Embed)]
#[folder = "../dist"]
#[allow_missing = true]
struct Assets;

const INDEX: &str = "index.html";

/// Whether `path` was built into the binary.
pub fn has(path: &str) -> bool {
    Assets::get(path).is_some()
}

pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    // What reaches here is no route; under /api (in any case) the answer is the API's.
    let first = uri.path().trim_start_matches('/').split('/').next().unwrap_or_default();
    if first.eq_ignore_ascii_case("api") {
        return error_response(StatusCode::NOT_FOUND, "not_found", format!("no route for {}", uri.path()));
    }
    if method != Method::GET && method != Method::HEAD {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not allowed on the web app's pages"),
        );
    }
    let path = uri.path().trim_start_matches('/');
    match Assets::get(path) {
        Some(file) if !path.is_empty() && path != INDEX => {
            // Trunk names the app's files by their hash; the API docs' files are not.
            let cache = match path.starts_with("api-docs/") {
                true => "public, max-age=3600",
                false => "public, max-age=31536000, immutable",
            };
            let mut response = asset(path, file, cache);
            if let Some((data, encoding)) = precompressed(path, &headers) {
                *response.body_mut() = data.into();
                response.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
            }
            response.headers_mut().insert(VARY, HeaderValue::from_static("accept-encoding"));
            response
        }
        // A missing file with an extension is a broken link, not a page of the app.
        None if path.rsplit('/').next().is_some_and(|name| name.contains('.')) => {
            error_response(StatusCode::NOT_FOUND, "not_found", format!("no file /{path}"))
        }
        _ => index(&headers),
    }
}

fn index(headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(INDEX) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Html("<!doctype html><title>Dashboard not built</title><h1>The web app is not built into this binary</h1>\
                  <p>Build it with <code>trunk build --release</code>, then rebuild the server \
                  (or use <code>bash scripts/dashboard.sh</code>, which does both). The API is available under /api.</p>"),
        )
            .into_response();
    };
    let etag = format!("\"{}\"", crate::callers::hex(&file.metadata.sha256_hash()));
    if headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    // Per answer (a 304 needs none): in a debug build the file is read from disk and
    // may have changed since.
    let policy = HeaderValue::from_str(&page_policy(&String::from_utf8_lossy(&file.data))).ok();
    let mut response = asset(INDEX, file, "no-cache");
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(ETAG, value);
    }
    if let Some(policy) = policy {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, policy);
    }
    response
}

fn asset(path: &str, file: rust_embed::EmbeddedFile, cache: &'static str) -> Response {
    let mime = mime_type(path, &file);
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_str(&mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ),
            (CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        file.data,
    )
        .into_response()
}

/// The copy of `path` compressed at build time (`.br`, else `.gz`) that the client
/// accepts, with its content encoding.
fn precompressed(path: &str, headers: &HeaderMap) -> Option<(Cow<'static, [u8]>, &'static str)> {
    let accepted = headers.get(ACCEPT_ENCODING)?.to_str().ok()?;
    [("br", "br"), ("gzip", "gz")].into_iter().find_map(|(encoding, extension)| {
        let file = accepts(accepted, encoding).then(|| Assets::get(&format!("{path}.{extension}")))??;
        Some((file.data, encoding))
    })
}

/// Whether an `Accept-Encoding` value lists `encoding` without refusing it (`;q=0`).
fn accepts(header: &str, encoding: &str) -> bool {
    header.split(',').any(|item| {
        let mut parts = item.split(';');
        let named = parts.next().is_some_and(|name| name.trim().eq_ignore_ascii_case(encoding));
        let refused = parts.any(|param| {
            param.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()).is_some_and(|q| q <= 0.0)
        });
        named && !refused
    })
}

fn mime_type(path: &str, file: &rust_embed::EmbeddedFile) -> String {
    if path.ends_with(".wasm") {
        // Browsers compile WebAssembly while it streams only with this exact type.
        return "application/wasm".to_owned();
    }
    file.metadata.mimetype().to_owned()
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn accepted_encodings_are_read_with_their_weights() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("GZIP;q=0.5", "gzip"));
        assert!(!accepts("br;q=0, gzip", "br"));
        assert!(!accepts("br;q=0.000", "br"));
        assert!(!accepts("brotli", "br"));
        assert!(!accepts("", "gzip"));
    }
}
