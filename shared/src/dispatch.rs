//! Starting runs on agents: the request, where a run was sent, the catalog of
//! workflows the alive agents serve, and the agent protocol's answers.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Request header carrying the dashboard's run id to agents that report into it.
/// Agents of the original kind ignore it.
pub const RUN_ID_HEADER: &str = "x-configurable-agents-run-id";

/// `POST /api/workflows/run`: start a workflow on an alive agent that serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    pub workflow_name: String,
    /// The workflow's input fields; `{}` when absent.
    #[serde(default)]
    pub inputs: Option<Value>,
    /// A particular agent; by default any alive agent serving the workflow.
    #[serde(default)]
    pub agent_id: Option<String>,
}

/// The agent a run was dispatched to, and its job there once the agent answered async.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dispatch {
    pub agent_id: String,
    /// The agent's base URL at dispatch time, e.g. `http://127.0.0.1:9000`.
    pub agent_url: String,
    pub job_id: Option<String>,
}

/// `GET /api/workflows/catalog`: one workflow that at least one alive agent serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogEntry {
    pub workflow_name: String,
    pub agents: Vec<CatalogAgent>,
    pub description: Option<String>,
    /// Input fields by name, as the agent's `/schema` describes them, when it does.
    pub inputs: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogAgent {
    pub agent_id: String,
    pub agent_name: String,
}

/// `POST /run`'s answer: the outputs at once, or a job to follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum RunAnswer {
    Success {
        #[serde(default)]
        execution_time_ms: Option<f64>,
        #[serde(default)]
        outputs: Option<Value>,
    },
    Async {
        job_id: String,
        #[serde(default)]
        message: Option<String>,
    },
}

/// `GET /status/{job_id}`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobStatus {
    pub job_id: String,
    pub status: JobState,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub execution_time_ms: Option<f64>,
    #[serde(default)]
    pub outputs: Option<Value>,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Pending,
    Running,
    Completed,
    Failed,
    /// Our agents' addition: the job was cancelled on request.
    Cancelled,
}
