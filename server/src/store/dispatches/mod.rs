//! Runs on agents: which agent, which job, which dashboard process follows them. Its
//! SQL, `sql.rs`, is compiled once per backend (`store/sql/`).

use async_trait::async_trait;
use serde_json::Value;
use shared::{Dispatch, RunStatus};
use std::collections::HashMap;

use super::{Result, Ts};

/// A run the dashboard dispatched that has not ended: what resuming it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct InFlight {
    pub run_id: String,
    pub workflow_name: String,
    pub status: RunStatus,
    pub started_at: Ts,
    pub inputs: Option<Value>,
    pub dispatch: Dispatch,
}

/// Runs on agents: which agent, which job, which dashboard process follows them.
#[async_trait]
pub trait DispatchStore: Send + Sync {
    /// Records the agent's job id of a run `follower` follows.
    async fn set_job(&self, id: &str, job_id: &str, follower: &str) -> Result<()>;
    /// Sends a run `follower` follows to another agent (the first could not be reached).
    async fn redispatch(&self, id: &str, dispatch: &Dispatch, follower: &str) -> Result<()>;
    /// How many dispatched runs each agent has pending or running (agents with none
    /// are absent).
    async fn agent_loads(&self) -> Result<HashMap<String, i64>>;
    /// Renews the lease of `dispatcher` (a dashboard process following runs), then
    /// hands it the dispatched runs still pending or running whose process holds no
    /// lease renewed within `lease` (by the database's clock), and returns them; one
    /// transaction.
    async fn renew_and_claim(&self, dispatcher: &str, lease: std::time::Duration) -> Result<Vec<InFlight>>;
    /// Gives the lease up, so that another process takes over its runs at once.
    async fn release_lease(&self, dispatcher: &str) -> Result<()>;
}
