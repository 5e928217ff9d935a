//! Field checks shared by the handlers. Limits follow the original schema's column
//! sizes, so nothing valid here can fail in the database.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::{ApiError, Path};
use crate::store::limits;

/// A required single-line text field: not blank, at most `max` characters, no
/// control characters (PostgreSQL also refuses NUL in text).
pub fn name(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(format!("`{field}` must not be empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!("`{field}` must not contain control characters")));
    }
    length(field, value, max)
}

/// Free text (log lines, error messages): newlines and tabs are fine, NUL is not.
pub fn text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.contains('\0') {
        return Err(ApiError::invalid(format!("`{field}` must not contain NUL characters")));
    }
    length(field, value, max)
}

/// `text` cut to `max` characters, saying how much was cut.
pub fn capped(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => {
            let rest = text[cut..].chars().count();
            format!("{}… [truncated: {rest} more characters]", &text[..cut])
        }
        None => text,
    }
}

fn length(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(ApiError::invalid(format!("`{field}` is {chars} characters long; the limit is {max}")));
    }
    Ok(())
}

/// A token count: 0 to `MAX_TOKENS`.
pub fn tokens(field: &str, value: Option<i64>) -> Result<(), ApiError> {
    match value {
        Some(v) if !(0..=limits::MAX_TOKENS).contains(&v) => {
            Err(ApiError::invalid(format!("`{field}` must be between 0 and {}", limits::MAX_TOKENS)))
        }
        _ => Ok(()),
    }
}

/// An amount in US dollars: 0 to `MAX_COST_USD`.
pub fn cost(field: &str, value: Option<f64>) -> Result<(), ApiError> {
    bounded(field, value, limits::MAX_COST_USD)
}

/// A duration in seconds: 0 to `MAX_DURATION_SECONDS`.
pub fn duration(field: &str, value: Option<f64>) -> Result<(), ApiError> {
    bounded(field, value, limits::MAX_DURATION_SECONDS)
}

fn bounded(field: &str, value: Option<f64>, max: f64) -> Result<(), ApiError> {
    match value {
        Some(v) if !(v.is_finite() && (0.0..=max).contains(&v)) => {
            Err(ApiError::invalid(format!("`{field}` must be a number between 0 and {max}")))
        }
        _ => Ok(()),
    }
}

/// A run id: a uuid, answered in its canonical lowercase form.
pub fn run_id(value: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(value).map(|id| id.to_string()).map_err(|_| {
        ApiError::Rejected(
            axum::http::StatusCode::BAD_REQUEST,
            format!("`{}` is not a valid run id (expected a uuid)", value.chars().take(64).collect::<String>()),
        )
    })
}

/// The run id of a route's `{id}`, checked as `run_id` checks it.
pub struct RunId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RunId {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state).await?;
        run_id(&id).map(RunId)
    }
}

/// MLflow experiment and run ids end up in links: letters, digits, `-` and `_` only.
pub fn mlflow_ids(ids: &shared::MlflowIds) -> Result<(), ApiError> {
    for (field, value) in [("mlflow.experiment_id", &ids.experiment_id), ("mlflow.run_id", &ids.run_id)] {
        if let Some(value) = value {
            if value.is_empty()
                || value.len() > 64
                || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(ApiError::invalid(format!("`{field}` must be 1 to 64 letters, digits, `-` or `_`")));
            }
        }
    }
    Ok(())
}
