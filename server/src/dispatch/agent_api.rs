//! The agent protocol as the dashboard speaks it: `POST /run`, `GET /status/{job}`,
//! our agents' `POST /cancel/{job}`, and `GET /schema`. Errors carry messages meant
//! for a run's `error_message`, so an operator reads what went wrong where.

use reqwest::header::LOCATION;
use reqwest::{RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;
use shared::{JobStatus, RunAnswer, RUN_ID_HEADER};
use std::time::Duration;

use crate::cause::root_cause;
use crate::outbound::Outbound;

/// Longest agent error body kept in a message (the original runtime kept 500 chars).
const BODY_EXCERPT: usize = 500;
/// Largest answer read from an agent; beyond it the answer is refused, unread.
const ANSWER_LIMIT: usize = 1024 * 1024;
const SCHEMA_LIMIT: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Status polls, cancels and schemas are quick questions.
const QUICK: Duration = Duration::from_secs(10);
const SCHEMA_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// No connection was made (refused, not allowed, unresolvable): nothing was sent.
    #[error("could not be reached ({0})")]
    NotConnected(String),
    /// No answer: the connection dropped or the agent took too long.
    #[error("{0}")]
    Unreachable(String),
    /// Redirects are not followed: they could lead the dashboard anywhere.
    #[error("answered with a redirect ({status} to {location}), which the dashboard does not follow")]
    Redirected { status: StatusCode, location: String },
    #[error("sent an answer too large (over {limit} bytes)")]
    TooLarge { limit: usize },
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
    policy: Outbound,
}

impl AgentClient {
    /// Under the outbound policy for agents.
    pub fn new(policy: Outbound) -> reqwest::Result<Self> {
        let http = policy.client(reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT))?;
        Ok(AgentClient { http, policy })
    }

    pub fn policy(&self) -> &Outbound {
        &self.policy
    }

    /// Starts the workflow: the inputs are the body, as the original agents expect;
    /// the run id travels in a header that only our agents read.
    pub async fn run(&self, base: &str, run_id: &str, inputs: &Value, wait: Duration) -> Result<RunAnswer, AgentError> {
        let url = self.url(&format!("{base}/run"))?;
        let request = self.http.post(url).header(RUN_ID_HEADER, run_id).json(inputs).timeout(wait);
        self.ask(request, ANSWER_LIMIT).await
    }

    pub async fn status(&self, base: &str, job_id: &str) -> Result<JobStatus, AgentError> {
        let url = self.url(&format!("{base}/status/{}", segment(job_id)))?;
        self.ask(self.http.get(url).timeout(QUICK), ANSWER_LIMIT).await
    }

    pub async fn cancel(&self, base: &str, job_id: &str) -> Result<CancelAnswer, AgentError> {
        let url = self.url(&format!("{base}/cancel/{}", segment(job_id)))?;
        match self.ask::<Value>(self.http.post(url).timeout(QUICK), ANSWER_LIMIT).await {
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
        let url = self.url(&format!("{base}/schema"))?;
        self.ask(self.http.get(url).timeout(SCHEMA_TIMEOUT), SCHEMA_LIMIT).await
    }

    fn url(&self, text: &str) -> Result<Url, AgentError> {
        self.policy.url(text).map_err(AgentError::NotConnected)
    }

    /// Sends the request and reads an answer of at most `limit` bytes.
    async fn ask<T: DeserializeOwned>(&self, request: RequestBuilder, limit: usize) -> Result<T, AgentError> {
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        if status.is_redirection() {
            let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("nowhere");
            return Err(AgentError::Redirected { status, location: excerpt(location) });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > limit {
                return Err(AgentError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Err(AgentError::Refused { status, body: excerpt(&explanation(&body)) });
        }
        serde_json::from_str(&body).map_err(|error| AgentError::Garbled(format!("{error} in {}", excerpt(&body))))
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

fn unreachable(error: reqwest::Error) -> AgentError {
    let cause = std::error::Error::source(&error).map(root_cause).unwrap_or_default();
    if error.is_connect() {
        return AgentError::NotConnected(if cause.is_empty() { error.to_string() } else { cause });
    }
    let what = if error.is_timeout() { "did not answer in time" } else { "dropped the connection" };
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

/// The start of an agent's words, NULs (which PostgreSQL refuses in text) replaced.
fn excerpt(text: &str) -> String {
    let text = text.trim().replace('\0', "\u{FFFD}");
    match text.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
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
