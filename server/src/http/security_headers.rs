//! What every answer tells the browser: no framing by other sites (the app frames
//! MLflow on its own origin, so `frame-ancestors 'self'`: cancel and restart cannot be
//! clickjacked), no content sniffing, no referrer to other origins; and for the
//! dashboard's own pages a Content-Security-Policy under which only their own scripts
//! run (their inline ones by hash).

use axum::extract::Request;
use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

pub async fn add(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    headers.entry(REFERRER_POLICY).or_insert(HeaderValue::from_static("same-origin"));
    headers.entry(CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static("frame-ancestors 'self'"));
    response
}

/// The policy of one of our HTML pages: scripts from this origin and the page's own
/// inline scripts (by their SHA-256), WebAssembly compiled, styles from this origin
/// (and style attributes, which the app sets), frames of this origin (MLflow).
pub fn page_policy(html: &str) -> String {
    let hashes: String =
        inline_scripts(html).map(|script| format!(" 'sha256-{}'", STANDARD.encode(Sha256::digest(script)))).collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; \
         form-action 'self'; object-src 'none'"
    )
}

/// The text of each `<script>` element without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, body) = rest.split_once('>')?;
        let (script, _) = body.split_once("</script>")?;
        (!attributes.contains("src=")).then_some(script)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_allowed_by_their_hash_only() {
        let page = "<script src=\"/app.js\"></script><script type=\"module\">run()</script>";
        let policy = page_policy(page);
        let expected = STANDARD.encode(Sha256::digest("run()"));
        assert!(policy.contains(&format!("script-src 'self' 'wasm-unsafe-eval' 'sha256-{expected}';")), "{policy}");
        assert_eq!(policy.matches("'sha256-").count(), 1, "the external script needs no hash");
        assert!(
            !policy.contains(" 'unsafe-eval'") && !policy.contains("script-src 'self' 'unsafe-inline'"),
            "{policy}"
        );
    }
}
