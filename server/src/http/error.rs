//! One error type for every handler: JSON body of the shared wire error, 5xx logged
//! with detail and answered without it.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use shared::{ErrorBody, ErrorDetail};

use crate::store::StoreError;
use crate::validate::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request that cannot be taken as it is: malformed JSON or query, a bad path
    /// parameter, the wrong media type, a body too large; the status says which.
    #[error("{1}")]
    Rejected(StatusCode, String),
    #[error("{0}")]
    Invalid(String),
    /// Too many of something at once (event streams): 503, try again.
    #[error("{0}")]
    Busy(String),
    /// Too many requests of one kind from one caller: 429, after `retry_after` seconds.
    #[error("{message}")]
    TooMany { message: String, retry_after: u64 },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::Invalid(message.into())
    }

    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::Rejected(status, message) => (*status, code_of(*status), message.clone()),
            ApiError::Invalid(message) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message.clone()),
            ApiError::Unauthorized(message) => (StatusCode::UNAUTHORIZED, "unauthorized", message.clone()),
            ApiError::Busy(message) => (StatusCode::SERVICE_UNAVAILABLE, "busy", message.clone()),
            ApiError::TooMany { message, .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message.clone()),
            ApiError::Forbidden(message) | ApiError::Store(StoreError::Forbidden(message)) => {
                (StatusCode::FORBIDDEN, "forbidden", message.clone())
            }
            ApiError::NotFound(message) | ApiError::Store(StoreError::NotFound(message)) => {
                (StatusCode::NOT_FOUND, "not_found", message.clone())
            }
            ApiError::Conflict(message) | ApiError::Store(StoreError::Conflict(message)) => {
                (StatusCode::CONFLICT, "conflict", message.clone())
            }
            ApiError::Store(StoreError::Unprocessable(message)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message.clone())
            }
            ApiError::Store(StoreError::Unavailable(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is unavailable; try again shortly".to_owned(),
            ),
            ApiError::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; the server log has the details".to_owned(),
            ),
        }
    }
}

fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        _ => "bad_request",
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        match invalid {
            Invalid::Malformed(message) => ApiError::Rejected(StatusCode::BAD_REQUEST, message),
            Invalid::Value(message) => ApiError::Invalid(message),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Store(error)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if super::body_guard::timed_out(&rejection) {
            return ApiError::Rejected(StatusCode::REQUEST_TIMEOUT, rejection.body_text());
        }
        ApiError::Rejected(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    /// A query whose words the types refuse (an unknown status, range or metric, a
    /// number that is not one) is a value the API does not take, answered as the
    /// rules' refusals are: 422, in the refusal's own words.
    fn from(rejection: QueryRejection) -> Self {
        match rejection {
            QueryRejection::FailedToDeserializeQueryString(inner) => {
                let words = std::error::Error::source(&inner).map_or_else(|| inner.body_text(), ToString::to_string);
                ApiError::Invalid(words)
            }
            other => ApiError::Rejected(StatusCode::BAD_REQUEST, other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::Rejected(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = error_response(status, code, message);
        let retry_after = match &self {
            ApiError::TooMany { retry_after, .. } => Some(*retry_after),
            _ => (status == StatusCode::SERVICE_UNAVAILABLE).then_some(1),
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(AUTH_CHALLENGE));
        }
        response
    }
}

/// A Bearer challenge: browsers show no password prompt for it.
pub const AUTH_CHALLENGE: &str = "Bearer realm=\"configurable-agents\"";

pub fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    let body = ErrorBody { error: ErrorDetail { code: code.to_owned(), message } };
    (status, axum::Json(body)).into_response()
}

/// `axum::Json` with rejections in our error format.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Json(value))
    }
}

/// `axum::extract::Query` with rejections in our error format.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(value) = axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// `axum::extract::Path` with rejections in our error format.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Path(value))
    }
}
