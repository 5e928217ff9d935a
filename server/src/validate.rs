//! Field checks, shared by the API and the services below it. Limits follow the
//! original schema's column sizes, so nothing valid here can fail in the database.

use crate::store::limits;

/// What a check refused, in words for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Not even the right shape (an id that is not a uuid): the request is malformed.
    #[error("{0}")]
    Malformed(String),
    /// Well formed, but a value the rules do not take.
    #[error("{0}")]
    Value(String),
}

impl Invalid {
    pub fn value(message: impl Into<String>) -> Invalid {
        Invalid::Value(message.into())
    }
}

/// A required single-line text field: not blank, at most `max` characters, no
/// control characters (PostgreSQL also refuses NUL in text).
pub fn name(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid::value(format!("`{field}` must not be empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::value(format!("`{field}` must not contain control characters")));
    }
    length(field, value, max)
}

/// Free text (log lines, error messages): newlines and tabs are fine, NUL is not.
pub fn text(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.contains('\0') {
        return Err(Invalid::value(format!("`{field}` must not contain NUL characters")));
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

fn length(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    let chars = value.chars().count();
    if chars > max {
        return Err(Invalid::value(format!("`{field}` is {chars} characters long; the limit is {max}")));
    }
    Ok(())
}

/// A token count: 0 to `MAX_TOKENS`.
pub fn tokens(field: &str, value: Option<i64>) -> Result<(), Invalid> {
    match value {
        Some(v) if !(0..=limits::MAX_TOKENS).contains(&v) => {
            Err(Invalid::value(format!("`{field}` must be between 0 and {}", limits::MAX_TOKENS)))
        }
        _ => Ok(()),
    }
}

/// An amount in US dollars: 0 to `MAX_COST_USD`.
pub fn cost(field: &str, value: Option<f64>) -> Result<(), Invalid> {
    bounded(field, value, limits::MAX_COST_USD)
}

/// A duration in seconds: 0 to `MAX_DURATION_SECONDS`.
pub fn duration(field: &str, value: Option<f64>) -> Result<(), Invalid> {
    bounded(field, value, limits::MAX_DURATION_SECONDS)
}

fn bounded(field: &str, value: Option<f64>, max: f64) -> Result<(), Invalid> {
    match value {
        Some(v) if !(v.is_finite() && (0.0..=max).contains(&v)) => {
            Err(Invalid::value(format!("`{field}` must be a number between 0 and {max}")))
        }
        _ => Ok(()),
    }
}

/// A run id: a uuid, answered in its canonical lowercase form.
pub fn run_id(value: &str) -> Result<String, Invalid> {
    uuid::Uuid::parse_str(value).map(|id| id.to_string()).map_err(|_| {
        Invalid::Malformed(format!(
            "`{}` is not a valid run id (expected a uuid)",
            value.chars().take(64).collect::<String>()
        ))
    })
}

/// MLflow experiment and run ids end up in links: letters, digits, `-` and `_` only.
pub fn mlflow_ids(ids: &shared::MlflowIds) -> Result<(), Invalid> {
    for (field, value) in [("mlflow.experiment_id", &ids.experiment_id), ("mlflow.run_id", &ids.run_id)] {
        if let Some(value) = value {
            if value.is_empty()
                || value.len() > 64
                || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(Invalid::value(format!("`{field}` must be 1 to 64 letters, digits, `-` or `_`")));
            }
        }
    }
    Ok(())
}
