//! The domain's types, as storage takes and gives them.

use serde_json::Value;
use shared::{Dispatch, MlflowIds, NewLogLine, NodeStateData, RunSort, RunStatus, WorkflowRun};

use super::access::Actor;
use super::Ts;

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

/// How a run ends when its runner reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Failed,
    /// Its final report put the run over its budget: it ends cancelled (the report's
    /// `error_message` says why), with the totals it reported.
    OverBudget,
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub agent_id: String,
    pub agent_name: String,
    pub host: String,
    pub port: u16,
    pub ttl_seconds: i64,
    pub metadata: Option<String>,
}

/// Sample data for one run, written in bulk by `seed`.
#[derive(Debug, Clone)]
pub struct SeedRun {
    pub record: RunRecord,
    pub states: Vec<(Ts, NodeStateData)>,
    pub logs: Vec<(Ts, NewLogLine)>,
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

/// The window and grain of an analytics read: rollup rows with `since <= hour < until`,
/// summed per bucket, or over the whole window without one.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupQuery {
    pub since: Ts,
    pub until: Ts,
    pub bucket: Option<shared::Bucket>,
    pub workflow: Option<String>,
}

/// Runs that started in one bucket (at its start; over a whole window, its first
/// hour's), of one workflow on one agent (`""`: none).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RunRollup {
    pub at: Ts,
    pub workflow: String,
    pub agent: String,
    pub runs: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub cost_usd: f64,
    pub tokens: i64,
}

/// Finished runs of one bucket, workflow and agent whose duration fell in
/// `[lower_seconds, upper_seconds)`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DurationRollup {
    pub at: Ts,
    pub workflow: String,
    pub agent: String,
    pub lower_seconds: f64,
    pub upper_seconds: f64,
    pub runs: i64,
}

/// Node reports of one bucket, workflow, node and model (`""`: none named).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NodeRollup {
    pub at: Ts,
    pub workflow: String,
    pub node: String,
    pub model: String,
    pub reports: i64,
    pub timed: i64,
    pub cost_usd: f64,
    pub tokens: i64,
    pub duration_seconds: f64,
}

/// A workflow's budget as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBudget {
    pub workflow_name: String,
    pub limits: shared::BudgetLimits,
    pub updated_at: Ts,
    pub updated_by: String,
}

/// A webhook with the secret that signs its deliveries.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWebhook {
    pub webhook: shared::Webhook,
    pub secret: String,
}

/// What a bulk job acts on: a list of run ids, or the runs a filter selects (its
/// window fixed when the job was made, so that runs started since are not reached).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkSelection {
    Ids(Vec<String>),
    Filter(shared::RunQuery),
}

#[derive(Debug, Clone)]
pub struct NewBulkJob {
    pub id: String,
    pub action: shared::BulkAction,
    pub selection: BulkSelection,
    pub by: Actor,
    pub matched: i64,
    pub eligible: i64,
}

/// A running job a process has claimed: what going on with it needs.
#[derive(Debug, Clone)]
pub struct ClaimedBulkJob {
    pub job: shared::BulkJob,
    pub selection: BulkSelection,
    /// Where the next batch starts; none before the first.
    pub position: Option<String>,
    pub by: Actor,
}

/// One batch of a bulk job: its work, and where the next batch starts.
#[derive(Debug, Clone)]
pub struct BulkStep {
    pub work: BulkWork,
    pub position: Option<String>,
    /// Whether the selection ends with this batch.
    pub last: bool,
}

#[derive(Debug, Clone)]
pub enum BulkWork {
    /// Runs to cancel or delete in the step's own transaction.
    Apply(Vec<String>),
    /// What the job did outside the database (restarts), to count.
    Done(BulkTally),
}

/// What a batch did to its runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BulkTally {
    pub done: i64,
    /// A reason per skipped run.
    pub skipped: Vec<String>,
    pub failures: Vec<shared::BulkFailure>,
}

/// How many selected runs are in one status, and what they cost.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StatusTally {
    pub status: String,
    pub runs: i64,
    pub cost_usd: Option<f64>,
}
