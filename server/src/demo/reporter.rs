//! The demo agent's side of the dashboard API: the registry protocol, and reports of
//! node states and logs into the run it executes.

use reqwest::StatusCode;
use shared::{LogLevel, NewLogLine, NodeStateData, RegisterAgent};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run has ended on the dashboard (cancelled): the work should stop.
    #[error("the run has ended on the dashboard")]
    RunEnded,
    /// The agent (on a heartbeat) or the run is unknown to the dashboard.
    #[error("not found on the dashboard")]
    NotFound,
    #[error("{0}")]
    Failed(String),
}

#[derive(Clone)]
pub struct Reporter {
    http: reqwest::Client,
    /// The dashboard's API root, e.g. `http://127.0.0.1:7861/api`.
    api: String,
    /// The agent token, for a dashboard with `--auth tokens`.
    token: Option<String>,
}

impl Reporter {
    pub fn new(dashboard_url: &str, token: Option<String>) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        Ok(Reporter { http, api: format!("{}/api", dashboard_url.trim_end_matches('/')), token })
    }

    pub async fn register(&self, agent: &RegisterAgent) -> Result<(), ReportError> {
        self.send(self.http.post(format!("{}/agents/register", self.api)).json(agent)).await
    }

    pub async fn heartbeat(&self, agent_id: &str) -> Result<(), ReportError> {
        self.send(self.http.post(format!("{}/agents/{agent_id}/heartbeat", self.api))).await
    }

    pub async fn deregister(&self, agent_id: &str) -> Result<(), ReportError> {
        self.send(self.http.delete(format!("{}/agents/{agent_id}", self.api))).await
    }

    pub async fn state(&self, run_id: &str, state: &NodeStateData) -> Result<(), ReportError> {
        self.send(self.http.post(format!("{}/workflows/{run_id}/states", self.api)).json(state)).await
    }

    pub async fn log(
        &self,
        run_id: &str,
        level: LogLevel,
        node: Option<&str>,
        message: String,
    ) -> Result<(), ReportError> {
        let line = NewLogLine { level, message, node_id: node.map(str::to_owned) };
        self.send(self.http.post(format!("{}/workflows/{run_id}/logs", self.api)).json(&line)).await
    }

    async fn send(&self, mut request: reqwest::RequestBuilder) -> Result<(), ReportError> {
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| ReportError::Failed(e.to_string()))?;
        match response.status() {
            status if status.is_success() => Ok(()),
            StatusCode::CONFLICT => Err(ReportError::RunEnded),
            StatusCode::NOT_FOUND => Err(ReportError::NotFound),
            status => Err(ReportError::Failed(format!("dashboard answered {status}"))),
        }
    }
}
