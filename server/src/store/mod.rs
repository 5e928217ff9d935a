//! Storage: one `Store` trait, implemented once in SQL shared by SQLite and
//! PostgreSQL (`sql.rs`), with the per-database connection details beside it.

pub mod access;
pub mod limits;
mod postgres;
mod rows;
mod sql;
mod sql_access;
mod sqlite;
pub mod time;
mod writer;

use async_trait::async_trait;
use serde_json::Value;
use shared::{
    AgentInfo, Dispatch, Event, FinishRun, LogLine, MlflowIds, NewLogLine, NodeState, NodeStateData, RunSort,
    RunStatus, Summary, WorkflowRun,
};
use std::collections::HashMap;
use std::sync::Arc;

use crate::events::EventBus;
use access::{AccessStore, Actor, Audit};
pub use rows::RunRecord;
pub use time::Ts;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    /// The database is away, full, read-only or locked: the write was not recorded
    /// and may be tried again.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(sqlx::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Internal(String),
}

impl StoreError {
    /// What a write is answered when its batch failed as a whole: it was not
    /// recorded, whatever its own part, so it may be tried again.
    fn retry_later(&self) -> StoreError {
        match self {
            StoreError::Unavailable(reason) => StoreError::Unavailable(reason.clone()),
            other => StoreError::Unavailable(format!("the write was rolled back ({other})")),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if is_transient(&error) {
            StoreError::Unavailable(error.to_string())
        } else {
            StoreError::Database(error)
        }
    }
}

/// Errors that say the database cannot serve now, rather than that a request is wrong.
fn is_transient(error: &sqlx::Error) -> bool {
    use sqlx::Error::*;
    match error {
        Io(_) | Tls(_) | PoolTimedOut | PoolClosed | WorkerCrashed | Protocol(_) => true,
        Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.parse::<i64>() {
                // SQLite (primary codes): BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN.
                Ok(extended) => matches!(extended & 0xff, 5 | 6 | 8 | 10 | 13 | 14),
                // PostgreSQL classes: connection exception, insufficient resources,
                // operator intervention (shutdown), read-only transaction.
                Err(_) => ["08", "53", "57"].iter().any(|class| code.starts_with(class)) || code == "25006",
            }
        }
        _ => false,
    }
}
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A validated filter of the runs list.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFilter {
    pub statuses: Vec<RunStatus>,
    pub workflow: Option<String>,
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

#[async_trait]
pub trait Store: AccessStore + Send + Sync + 'static {
    fn backend(&self) -> &'static str;

    // Runs: reads.
    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<WorkflowRun>>;
    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>>;
    async fn run_states(&self, id: &str) -> Result<Vec<NodeState>>;
    async fn restarted_into(&self, id: &str) -> Result<Vec<String>>;
    async fn run_logs(&self, id: &str, after: i64, limit: i64) -> Result<Vec<LogLine>>;

    // Runs: writes. Each publishes its events after commit.
    async fn create_run(&self, run: NewRun, audit: Option<Audit>) -> Result<WorkflowRun>;
    /// `follower`: the dashboard process that must still follow the run (fencing).
    async fn start_run(&self, id: &str, follower: Option<&str>) -> Result<WorkflowRun>;
    async fn append_state(&self, id: &str, state: NodeStateData) -> Result<NodeState>;
    async fn append_logs(&self, id: &str, lines: Vec<NewLogLine>) -> Result<Vec<LogLine>>;
    async fn finish_run(
        &self,
        id: &str,
        outcome: Outcome,
        report: FinishRun,
        follower: Option<&str>,
    ) -> Result<WorkflowRun>;
    async fn cancel_run(&self, id: &str, by: &Actor) -> Result<WorkflowRun>;
    /// Records the agent's job id of a run `follower` follows.
    async fn set_job(&self, id: &str, job_id: &str, follower: &str) -> Result<()>;
    /// Sends a run `follower` follows to another agent (the first could not be reached).
    async fn redispatch(&self, id: &str, dispatch: &Dispatch, follower: &str) -> Result<()>;
    /// Appends the dashboard's own log line, also to a run that has ended.
    async fn note(&self, id: &str, line: NewLogLine) -> Result<()>;
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

    // Agents.
    async fn register_agent(&self, agent: NewAgent, audit: Audit) -> Result<AgentInfo>;
    async fn heartbeat(&self, id: &str) -> Result<AgentInfo>;
    async fn list_agents(&self) -> Result<Vec<AgentInfo>>;
    async fn get_agent(&self, id: &str) -> Result<Option<AgentInfo>>;
    /// Deletes the agent; with `if_heartbeat`, only if it has not sent a heartbeat since.
    async fn delete_agent(&self, id: &str, if_heartbeat: Option<Ts>, audit: Option<Audit>)
        -> Result<Option<AgentInfo>>;
    /// Records and publishes an event that no row change carries (an agent expiring).
    async fn record_event(&self, event: Event) -> Result<()>;

    // Totals and the event log.
    /// The run half of the summary (agent counts left at zero), over all runs, from
    /// the trigger-maintained per-status totals.
    async fn run_totals(&self) -> Result<Summary>;
    /// Persisted events with `id > after`, oldest first.
    async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<(i64, Event)>>;
    /// Oldest and newest kept event ids (0, 0 when there are none).
    async fn event_bounds(&self) -> Result<(i64, i64)>;
    /// Feeds events committed by other processes to this one's bus, until the process
    /// ends (PostgreSQL replicas); returns at once where there are none (SQLite).
    async fn relay_events(&self);
    /// Deletes events older than `before`, always keeping the newest.
    async fn prune_events(&self, before: Ts) -> Result<u64>;

    async fn seed(&self, runs: Vec<SeedRun>, agents: Vec<(NewAgent, Ts)>) -> Result<()>;
    /// After a bulk load: fresh planner statistics and, on PostgreSQL, the dead row
    /// versions the totals triggers left behind cleared away.
    async fn analyze(&self) -> Result<()>;
}

/// Opens (creating a SQLite file if needed) and migrates the database named by `url`.
pub async fn connect(url: &str, bus: EventBus) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url, bus).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::connect(url, bus).await?))
    } else {
        Err(anyhow::Error::msg(format!(
            "unsupported database URL `{}`: use sqlite://FILE or postgres://...",
            url.split(':').next().unwrap_or_default()
        )))
    }
}
