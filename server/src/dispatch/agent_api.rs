//! The agent protocol as the dashboard speaks it: `POST /run`, `GET /status/{job}`,
//! our agents' `POST /cancel/{job}`, and `GET /schema`. Errors carry messages meant
//! for a run's `error_message`, so an operator reads what went wrong where.

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;
use shared::{JobStatus, RunAnswer, RUN_ID_HEADER};
use std::time::Duration;

/// Longest agent error body kept in a message (the original runtime kept 500 chars).
const BODY_EXCERPT: usize = 500;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Status polls, cancels and schemas are quick questions.
const QUICK: Duration = Duration::from_secs(10);
const SCHEMA_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// No answer at all: refused, reset, timed out.
    #[error("{0}")]
    Unreachable(String),
    /// An HTTP error status, with the agent's explanation.
    #[error("answered {status}: {body}")]
    Refused { status: StatusCode, body: String },
    /// An answer that is not the agent protocol.
    #[error("answered something that is not the agent protocol: {0}")]
    Garbled(String),
}

/// What came of asking an agent to cancel.
#[derive(Debug, PartialEq, Eq)]
pub enum CancelAnswer {
    Stopped,
    /// 404 or 405: the agent has no cancel endpoint (or has forgotten the job).
    NotSupported(StatusCode),
}

#[derive(Clone)]
pub struct AgentClient {
    http: reqwest::Client,
}

impl AgentClient {
    pub fn new() -> reqwest::Result<Self> {
        Ok(AgentClient { http: reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT).build()? })
    }

    /// Starts the workflow: the inputs are the body, as the original agents expect;
    /// the run id travels in a header that only our agents read.
    pub async fn run(&self, base: &str, run_id: &str, inputs: &Value, wait: Duration) -> Result<RunAnswer, AgentError> {
        let request = self.http.post(format!("{base}/run")).header(RUN_ID_HEADER, run_id).json(inputs).timeout(wait);
        decode(request.send().await).await
    }

    pub async fn status(&self, base: &str, job_id: &str) -> Result<JobStatus, AgentError> {
        let request = self.http.get(format!("{base}/status/{}", segment(job_id))).timeout(QUICK);
        decode(request.send().await).await
    }

    pub async fn cancel(&self, base: &str, job_id: &str) -> Result<CancelAnswer, AgentError> {
        let request = self.http.post(format!("{base}/cancel/{}", segment(job_id))).timeout(QUICK);
        match decode::<Value>(request.send().await).await {
            Ok(_) => Ok(CancelAnswer::Stopped),
            Err(AgentError::Refused { status, .. })
                if status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED =>
            {
                Ok(CancelAnswer::NotSupported(status))
            }
            Err(error) => Err(error),
        }
    }

    pub async fn schema(&self, base: &str) -> Result<Value, AgentError> {
        decode(self.http.get(format!("{base}/schema")).timeout(SCHEMA_TIMEOUT).send().await).await
    }
}

/// Job ids come from agents: escaped (dots too, so `..` stays a name) so that one
/// cannot redirect the request.
fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn decode<T: DeserializeOwned>(sent: reqwest::Result<reqwest::Response>) -> Result<T, AgentError> {
    let response = sent.map_err(unreachable)?;
    let status = response.status();
    let body = response.text().await.map_err(unreachable)?;
    if !status.is_success() {
        return Err(AgentError::Refused { status, body: excerpt(&explanation(&body)) });
    }
    serde_json::from_str(&body).map_err(|error| AgentError::Garbled(format!("{error} in {}", excerpt(&body))))
}

fn unreachable(error: reqwest::Error) -> AgentError {
    let what = if error.is_timeout() {
        "did not answer in time"
    } else if error.is_connect() {
        "could not be reached"
    } else {
        "dropped the connection"
    };
    // The source chain names the cause (connection refused, reset by peer, ...).
    let mut cause = String::new();
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    AgentError::Unreachable(if cause.is_empty() { what.to_owned() } else { format!("{what} ({cause})") })
}

/// FastAPI-style `{"detail": ...}` bodies are shown by their detail.
fn explanation(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(map)) => match map.get("detail") {
            Some(Value::String(text)) => text.clone(),
            Some(detail) => detail.to_string(),
            None => body.to_owned(),
        },
        _ => body.to_owned(),
    }
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_cannot_leave_their_path_segment() {
        assert_eq!(segment("abc-1_2"), "abc-1_2");
        assert_eq!(segment("../admin?x=1"), "%2E%2E%2Fadmin%3Fx%3D1");
    }

    #[test]
    fn fastapi_details_are_shown_plainly() {
        assert_eq!(explanation(r#"{"detail":"topic is required"}"#), "topic is required");
        assert_eq!(explanation(r#"{"detail":[{"loc":["body"]}]}"#), r#"[{"loc":["body"]}]"#);
        assert_eq!(explanation("Internal Server Error"), "Internal Server Error");
        assert_eq!(excerpt(&"x".repeat(600)).chars().count(), BODY_EXCERPT + 1);
    }
}
