//! Checks every request passes before any route sees it.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::error::error_response;

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
