//! The ids in route paths, checked before a handler runs.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::{ApiError, Path};
use crate::validate;

/// The run id of a route's `{id}`, as `validate::run_id` checks it (400 if not a uuid).
pub struct RunId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RunId {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state).await?;
        Ok(RunId(validate::run_id(&id)?))
    }
}

/// The bulk job id of a route's `{id}`, in canonical form; one that is not a uuid
/// names no job (404).
pub struct JobId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for JobId {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state).await?;
        match uuid::Uuid::parse_str(&id) {
            Ok(id) => Ok(JobId(id.to_string())),
            Err(_) => {
                Err(ApiError::NotFound(format!("no bulk job with id {}", id.chars().take(64).collect::<String>())))
            }
        }
    }
}
