use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

use crate::query::{text, Range, RunOrder, Statuses};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

impl WorkflowRun {
    /// A run that has just begun: no totals, no end yet.
    pub fn new(
        id: impl Into<String>,
        workflow_name: impl Into<String>,
        status: RunStatus,
        started_at: DateTime<Utc>,
    ) -> Self {
        WorkflowRun {
            id: id.into(),
            workflow_name: workflow_name.into(),
            status,
            started_at,
            completed_at: None,
            duration_seconds: None,
            total_tokens: None,
            total_cost_usd: None,
            error_message: None,
            restarted_from: None,
        }
    }
}

/// `GET /api/workflows` answer: one page, and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunPage {
    pub runs: Vec<WorkflowRun>,
    pub next_cursor: Option<String>,
}

/// `GET /api/workflows/{id}`: the run with everything recorded about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeState {
    pub id: i64,
    pub run_id: String,
    pub node_id: String,
    pub created_at: DateTime<Utc>,
    pub state_data: NodeStateData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogLine {
    pub id: i64,
    pub run_id: String,
    pub ts: DateTime<Utc>,
    pub level: LogLevel,
    pub node_id: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogPage {
    pub lines: Vec<LogLine>,
    /// Pass as `after` to get the lines that follow; `None` when this page was not full.
    pub next_after: Option<i64>,
}

/// `POST /api/workflows`: a runner announces a run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum AppendLogs {
    Batch { lines: Vec<NewLogLine> },
    One(NewLogLine),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// One status or several, comma separated.
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>), param(value_type = Option<String>))]
    pub status: Option<Statuses>,
    /// Exact workflow name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// Runs sent to this agent (by id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Back from now; or `since`/`until`.
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Text search over workflow name and run id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// A `RunSort` column, `-` first for descending; default `-started_at`.
    #[serde(default, with = "text", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>), param(value_type = Option<String>))]
    pub sort: Option<RunOrder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl RunQuery {
    /// The statuses asked for; none means all.
    pub fn statuses(&self) -> &[RunStatus] {
        self.status.as_ref().map_or(&[], |statuses| &statuses.0)
    }

    /// The window of start times asked for, at `now`: `range` back from now or
    /// `since` (inclusive) / `until` (exclusive).
    #[allow(clippy::type_complexity)]
    pub fn window(&self, now: DateTime<Utc>) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), String> {
        let window = match (self.range, self.since, self.until) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err("use either `range` or `since`/`until`, not both".to_owned())
            }
            (Some(range), ..) => (range.since(now), None),
            (None, since, until) => (since, until),
        };
        match window {
            (Some(since), Some(until)) if since > until => Err("`since` is after `until`".to_owned()),
            window => Ok(window),
        }
    }

    /// The text searched for in workflow names and run ids, if any.
    pub fn text(&self) -> Option<&str> {
        given(&self.q)
    }

    /// The exact workflow name asked for, if any.
    pub fn workflow_name(&self) -> Option<&str> {
        given(&self.workflow)
    }

    /// Whether `run` is in the list this query selects (the server's rules, for
    /// applying live events to a loaded list). A query the server refuses selects nothing,
    /// and so does one by agent: a row does not name its agent.
    pub fn matches(&self, run: &WorkflowRun, now: DateTime<Utc>) -> bool {
        let Ok((since, until)) = self.window(now) else { return false };
        let statuses = self.statuses();
        if given(&self.agent).is_some() {
            return false;
        }
        let text_ok = self.text().is_none_or(|q| {
            let q = q.to_lowercase();
            run.workflow_name.to_lowercase().contains(&q) || run.id.to_lowercase().contains(&q)
        });
        (statuses.is_empty() || statuses.contains(&run.status))
            && self.workflow_name().is_none_or(|w| w == run.workflow_name)
            && text_ok
            && since.is_none_or(|s| run.started_at >= s)
            && until.is_none_or(|u| run.started_at < u)
    }
}

/// Browsers send a form's empty fields as `name=`: they mean "no filter".
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The columns the runs list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_select_like_the_server() {
        let r = WorkflowRun::new("abc", "Article_Writer", RunStatus::Failed, Utc::now());
        let q = |f: fn(&mut RunQuery)| {
            let mut query = RunQuery::default();
            f(&mut query);
            query.matches(&r, Utc::now())
        };
        assert!(q(|_| {}));
        assert!(q(|x| x.status = "running,failed".parse().ok()));
        assert!(!q(|x| x.status = "running".parse().ok()));
        assert!(q(|x| x.q = Some("article_w".into())));
        assert!(q(|x| x.workflow = Some("".into())));
        assert!(!q(|x| x.workflow = Some("other".into())));
        assert!(q(|x| x.range = Some(Range::Today)));
        assert!(!q(|x| x.until = Some(Utc::now() - chrono::Duration::days(1))));
    }
}
