use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 5] =
        [RunStatus::Pending, RunStatus::Running, RunStatus::Completed, RunStatus::Failed, RunStatus::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Pending or running: the run may still change.
    pub fn is_active(self) -> bool {
        matches!(self, RunStatus::Pending | RunStatus::Running)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL.into_iter().find(|status| status.as_str() == s).ok_or_else(|| {
            format!("unknown status `{s}` (expected one of pending, running, completed, failed, cancelled)")
        })
    }
}

/// One row of the runs list, and the payload of `workflow_update` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRun {
    pub id: String,
    pub workflow_name: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub total_tokens: Option<i64>,
    pub total_cost_usd: Option<f64>,
    pub error_message: Option<String>,
    /// The run this one was restarted from, if any.
    pub restarted_from: Option<String>,
}

/// `GET /api/workflows` answer: one page, and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPage {
    pub runs: Vec<WorkflowRun>,
    pub next_cursor: Option<String>,
}

/// `GET /api/workflows/{id}`: the run with everything recorded about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: WorkflowRun,
    pub inputs: Option<Value>,
    pub outputs: Option<Value>,
    pub config_snapshot: Option<Value>,
    pub bottleneck_info: Option<Value>,
    /// Where this run is recorded in MLflow, when its runner said so.
    pub mlflow: MlflowIds,
    /// The agent the dashboard sent this run to, for runs it started.
    pub dispatch: Option<crate::Dispatch>,
    /// Node states, oldest first.
    pub states: Vec<NodeState>,
    /// Runs restarted from this one, oldest first.
    pub restarted_into: Vec<String>,
    /// The first page of logs; fetch more with `GET /api/workflows/{id}/logs?after=`.
    pub logs: LogPage,
}

/// A run's place in MLflow, as reported by its runner at creation or at the end.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlflowIds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// The state one node reported (`execution_states.state_data`), in the original's shape.
/// Unknown keys are kept in `extra` so nothing a runner sent is lost.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NodeStateData {
    pub node_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NodeStateData {
    /// Tokens of this node: `total_tokens`, else input + output.
    pub fn tokens(&self) -> Option<i64> {
        self.total_tokens.or(match (self.input_tokens, self.output_tokens) {
            (None, None) => None,
            (i, o) => Some(i.unwrap_or(0) + o.unwrap_or(0)),
        })
    }
}

/// One row of `execution_states`, and the payload of `node_state` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    pub id: i64,
    pub run_id: String,
    pub node_id: String,
    pub created_at: DateTime<Utc>,
    pub state_data: NodeStateData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warning,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
        }
    }
}

/// One log line of a run, and the payload of `run_log` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub id: i64,
    pub run_id: String,
    pub ts: DateTime<Utc>,
    pub level: LogLevel,
    pub node_id: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LogPage {
    pub lines: Vec<LogLine>,
    /// Pass as `after` to get the lines that follow; `None` when this page was not full.
    pub next_after: Option<i64>,
}

/// `POST /api/workflows`: a runner announces a run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRun {
    /// A uuid chosen by the runner; the server makes one when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub workflow_name: String,
    #[serde(default)]
    pub inputs: Option<Value>,
    #[serde(default)]
    pub config_snapshot: Option<Value>,
    /// `pending` (default) or `running`.
    #[serde(default)]
    pub status: Option<RunStatus>,
    #[serde(default)]
    pub mlflow: Option<MlflowIds>,
}

/// `POST /api/workflows/{id}/logs`: one line or a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AppendLogs {
    Batch { lines: Vec<NewLogLine> },
    One(NewLogLine),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLogLine {
    #[serde(default)]
    pub level: LogLevel,
    pub message: String,
    #[serde(default)]
    pub node_id: Option<String>,
}

/// `POST /api/workflows/{id}/complete` and `/fail`. Totals left out are kept as
/// accumulated from the node states; a duration left out is measured by the server.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishRun {
    #[serde(default)]
    pub outputs: Option<Value>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub duration_seconds: Option<f64>,
    #[serde(default)]
    pub total_tokens: Option<i64>,
    #[serde(default)]
    pub total_cost_usd: Option<f64>,
    #[serde(default)]
    pub bottleneck_info: Option<Value>,
    #[serde(default)]
    pub mlflow: Option<MlflowIds>,
}

/// Query of `GET /api/workflows`; every field is optional.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// One status or several, comma separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Exact workflow name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// `today`, `week` or `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Text search over workflow name and run id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// A `RunSort` key, `-` first for descending; default `-started_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// The columns the runs list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunSort {
    StartedAt,
    DurationSeconds,
    TotalTokens,
    TotalCostUsd,
}

impl RunSort {
    pub const ALL: [RunSort; 4] =
        [RunSort::StartedAt, RunSort::DurationSeconds, RunSort::TotalTokens, RunSort::TotalCostUsd];

    pub fn as_str(self) -> &'static str {
        match self {
            RunSort::StartedAt => "started_at",
            RunSort::DurationSeconds => "duration_seconds",
            RunSort::TotalTokens => "total_tokens",
            RunSort::TotalCostUsd => "total_cost_usd",
        }
    }
}

impl FromStr for RunSort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunSort::ALL
            .into_iter()
            .find(|sort| sort.as_str() == s)
            .ok_or_else(|| format!("unknown sort `{s}` (expected started_at, duration_seconds, total_tokens or total_cost_usd, with `-` for descending)"))
    }
}
