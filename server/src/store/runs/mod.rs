//! Runs, their node states and logs: the types storage takes and gives, and the trait.
//! Its SQL, `sql.rs`, is compiled once per backend (`store/sql/`).

use async_trait::async_trait;
use serde_json::Value;
use shared::{
    Dispatch, FinishRun, LogLine, MlflowIds, NewLogLine, NodeState, NodeStateData, RunSort, RunStatus, Summary,
    WorkflowRun,
};

use super::access::{Actor, Audit};
use super::limits::RunBound;
use super::{Result, Ts};

/// A validated filter of the runs list.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFilter {
    pub statuses: Vec<RunStatus>,
    pub workflow: Option<String>,
    /// Runs sent to this agent.
    pub agent: Option<String>,
    pub since: Option<Ts>,
    pub until: Option<Ts>,
    pub text: Option<String>,
    pub sort: RunSort,
    pub descending: bool,
    /// Keyset position: rows strictly after it in the sort order.
    pub after: Option<(SortKey, String)>,
    pub limit: i64,
}

/// The value of the sort column of one row (nulls sort as -1).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SortKey {
    Int(i64),
    Float(f64),
    Time(#[serde(with = "ts_text")] Ts),
}

mod ts_text {
    use super::Ts;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(ts: &Ts, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&ts.utc().to_rfc3339())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Ts, D::Error> {
        let at = chrono::DateTime::<chrono::Utc>::deserialize(d)?;
        Ok(Ts::from(at))
    }
}

impl SortKey {
    pub fn of(run: &WorkflowRun, sort: RunSort) -> SortKey {
        match sort {
            RunSort::StartedAt => SortKey::Time(Ts::from(run.started_at)),
            RunSort::DurationSeconds => SortKey::Float(run.duration_seconds.unwrap_or(-1.0)),
            RunSort::TotalTokens => SortKey::Int(run.total_tokens.unwrap_or(-1)),
            RunSort::TotalCostUsd => SortKey::Float(run.total_cost_usd.unwrap_or(-1.0)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: String,
    pub workflow_name: String,
    pub status: RunStatus,
    pub inputs: Option<Value>,
    pub config_snapshot: Option<Value>,
    pub mlflow: MlflowIds,
    pub restarted_from: Option<String>,
    /// The agent the dashboard sends the run to (job id not yet known).
    pub dispatch: Option<Dispatch>,
    /// The dashboard process that follows it there (see `renew_and_claim`).
    pub dispatcher: Option<String>,
    /// Who created it; an agent token may report into the runs it created.
    pub created_by: Option<Actor>,
}

/// How a run ends when its runner reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Failed,
    /// Its final report put the run over its budget: it ends cancelled (the report's
    /// `error_message` says why), with the totals it reported.
    OverBudget,
}

/// A run with its JSON columns, as stored (text).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub run: WorkflowRun,
    pub inputs: Option<String>,
    pub outputs: Option<String>,
    pub config_snapshot: Option<String>,
    pub bottleneck_info: Option<String>,
    pub mlflow: MlflowIds,
    pub dispatch: Option<Dispatch>,
}

/// A run and what hangs off it, read in one snapshot.
#[derive(Debug, Clone)]
pub struct RunSnapshot {
    pub record: RunRecord,
    pub states: Vec<shared::NodeState>,
    pub restarted_into: Vec<String>,
    pub logs: Vec<shared::LogLine>,
}

impl RunRecord {
    /// The JSON of a text column; text that is not JSON is shown as a string
    /// rather than hidden.
    pub fn json(text: &Option<String>) -> Option<Value> {
        text.as_deref().map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned())))
    }
}

/// Runs, their node states and logs. Each write publishes its events after commit.
#[async_trait]
pub trait RunStore: Send + Sync {
    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<WorkflowRun>>;
    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>>;
    /// The run with its node states, restarts and first `log_limit` log lines, as of
    /// one moment.
    async fn run_detail(&self, id: &str, log_limit: i64) -> Result<Option<RunSnapshot>>;
    async fn restarted_into(&self, id: &str) -> Result<Vec<String>>;
    async fn run_logs(&self, id: &str, after: i64, limit: i64) -> Result<Vec<LogLine>>;

    async fn create_run(&self, run: NewRun, audit: Option<Audit>) -> Result<WorkflowRun>;
    /// `follower`: the dashboard process that must still follow the run (fencing).
    async fn start_run(&self, id: &str, follower: Option<&str>) -> Result<WorkflowRun>;
    /// Returns the state stored; the run with its grown totals goes out on the bus.
    /// Unprocessable when the run's totals would pass `bound`.
    async fn append_state(&self, id: &str, state: NodeStateData, bound: RunBound) -> Result<NodeState>;
    async fn append_logs(&self, id: &str, lines: Vec<NewLogLine>) -> Result<Vec<LogLine>>;
    async fn finish_run(
        &self,
        id: &str,
        outcome: Outcome,
        report: FinishRun,
        follower: Option<&str>,
    ) -> Result<WorkflowRun>;
    /// `reason`: why the dashboard itself cancels (a budget), kept as the run's error,
    /// in its log and as a state of the node named after `by`.
    async fn cancel_run(&self, id: &str, by: &Actor, reason: Option<String>) -> Result<WorkflowRun>;
    /// Appends the dashboard's own log line, also to a run that has ended.
    async fn note(&self, id: &str, line: NewLogLine) -> Result<()>;
    /// The run half of the summary (agent counts left at zero), over all runs, from
    /// the trigger-maintained per-status totals.
    async fn run_totals(&self) -> Result<Summary>;
}
