//! The agent registry. Its SQL, `sql.rs`, is compiled once per backend (`store/sql/`).

use async_trait::async_trait;
use shared::AgentInfo;

use super::access::{Audit, Claim};
use super::{Result, Ts};

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub agent_id: String,
    pub agent_name: String,
    pub host: String,
    pub port: u16,
    pub ttl_seconds: i64,
    pub metadata: Option<String>,
}

/// The agent registry.
#[async_trait]
pub trait AgentStore: Send + Sync {
    /// Registers (or updates) the agent and settles who owns its id, in one write:
    /// Forbidden when the id is another agent token's.
    async fn register_agent(&self, agent: NewAgent, claim: Claim, audit: Audit) -> Result<AgentInfo>;
    async fn heartbeat(&self, id: &str) -> Result<AgentInfo>;
    async fn list_agents(&self) -> Result<Vec<AgentInfo>>;
    async fn get_agent(&self, id: &str) -> Result<Option<AgentInfo>>;
    /// Deletes the agent; with `if_heartbeat`, only if it has not sent a heartbeat since.
    async fn delete_agent(&self, id: &str, if_heartbeat: Option<Ts>, audit: Option<Audit>)
        -> Result<Option<AgentInfo>>;
}
