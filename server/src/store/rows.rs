//! Rows as both databases return them, and their conversion to wire types.

use serde::Deserialize;
use serde_json::Value;
use shared::{
    capabilities_from_metadata, AgentChange, AgentInfo, AgentUpdate, Dispatch, Event, LogLine, MlflowIds, NodeState,
    NodeStateData, RunStatus, WorkflowRun,
};

use super::{InFlight, RunRecord, StoreError, Ts};

/// Columns of the runs list, in this order, for every query that returns runs. The
/// numbers are cast so that a value another writer stored with the wrong type (a
/// REAL token count, text in a FLOAT column) still reads.
pub(super) const RUN_COLUMNS: &str = "id, workflow_name, status, started_at, completed_at, \
     CAST(duration_seconds AS DOUBLE PRECISION) AS duration_seconds, CAST(total_tokens AS BIGINT) AS total_tokens, \
     CAST(total_cost_usd AS DOUBLE PRECISION) AS total_cost_usd, error_message, restarted_from";

/// Also read from JSON: the row snapshots the external-changes triggers record.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub(super) struct RunRow {
    id: String,
    workflow_name: String,
    status: String,
    started_at: Ts,
    completed_at: Option<Ts>,
    duration_seconds: Option<f64>,
    #[serde(deserialize_with = "lenient_count")]
    total_tokens: Option<i64>,
    total_cost_usd: Option<f64>,
    error_message: Option<String>,
    restarted_from: Option<String>,
}

impl TryFrom<RunRow> for WorkflowRun {
    type Error = StoreError;
    fn try_from(row: RunRow) -> Result<Self, StoreError> {
        Ok(WorkflowRun {
            status: row.status.parse::<RunStatus>().map_err(StoreError::Corrupt)?,
            id: row.id,
            workflow_name: row.workflow_name,
            started_at: row.started_at.utc(),
            completed_at: row.completed_at.map(Ts::utc),
            duration_seconds: row.duration_seconds,
            total_tokens: row.total_tokens,
            total_cost_usd: row.total_cost_usd,
            error_message: row.error_message,
            restarted_from: row.restarted_from,
        })
    }
}

pub(super) fn runs(rows: Vec<RunRow>) -> Result<Vec<WorkflowRun>, StoreError> {
    rows.into_iter().map(WorkflowRun::try_from).collect()
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct RunRecordRow {
    #[sqlx(flatten)]
    run: RunRow,
    inputs: Option<String>,
    outputs: Option<String>,
    config_snapshot: Option<String>,
    bottleneck_info: Option<String>,
    mlflow_experiment_id: Option<String>,
    mlflow_run_id: Option<String>,
    #[sqlx(flatten)]
    dispatch: DispatchColumns,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct DispatchColumns {
    agent_id: Option<String>,
    agent_url: Option<String>,
    agent_job_id: Option<String>,
}

impl DispatchColumns {
    fn dispatch(self) -> Option<Dispatch> {
        Some(Dispatch { agent_id: self.agent_id?, agent_url: self.agent_url?, job_id: self.agent_job_id })
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct InFlightRow {
    id: String,
    workflow_name: String,
    status: String,
    started_at: Ts,
    inputs: Option<String>,
    #[sqlx(flatten)]
    dispatch: DispatchColumns,
}

impl TryFrom<InFlightRow> for InFlight {
    type Error = StoreError;
    fn try_from(row: InFlightRow) -> Result<Self, StoreError> {
        let dispatch =
            row.dispatch.dispatch().ok_or_else(|| StoreError::Corrupt(format!("run {} has no agent url", row.id)))?;
        Ok(InFlight {
            status: row.status.parse::<RunStatus>().map_err(StoreError::Corrupt)?,
            inputs: RunRecord::json(&row.inputs),
            run_id: row.id,
            workflow_name: row.workflow_name,
            started_at: row.started_at,
            dispatch,
        })
    }
}

impl TryFrom<RunRecordRow> for RunRecord {
    type Error = StoreError;
    fn try_from(row: RunRecordRow) -> Result<Self, StoreError> {
        Ok(RunRecord {
            run: row.run.try_into()?,
            inputs: row.inputs,
            outputs: row.outputs,
            config_snapshot: row.config_snapshot,
            bottleneck_info: row.bottleneck_info,
            mlflow: MlflowIds { experiment_id: row.mlflow_experiment_id, run_id: row.mlflow_run_id },
            dispatch: row.dispatch.dispatch(),
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub(super) struct StateRow {
    id: i64,
    run_id: String,
    node_id: String,
    state_data: String,
    created_at: Ts,
}

impl From<StateRow> for NodeState {
    fn from(row: StateRow) -> NodeState {
        // A state_data the runtime wrote but we cannot read keeps its text visible.
        let state_data = serde_json::from_str::<NodeStateData>(&row.state_data).unwrap_or_else(|_| {
            let mut data = NodeStateData { node_id: row.node_id.clone(), ..Default::default() };
            data.extra.insert("raw".into(), Value::String(row.state_data.clone()));
            data
        });
        NodeState { id: row.id, run_id: row.run_id, node_id: row.node_id, created_at: row.created_at.utc(), state_data }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct LogRow {
    id: i64,
    run_id: String,
    ts: Ts,
    level: String,
    node_id: Option<String>,
    message: String,
}

impl From<LogRow> for LogLine {
    fn from(row: LogRow) -> LogLine {
        let level = serde_json::from_value(Value::String(row.level)).unwrap_or_default();
        LogLine { id: row.id, run_id: row.run_id, ts: row.ts.utc(), level, node_id: row.node_id, message: row.message }
    }
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub(super) struct AgentRow {
    pub agent_id: String,
    agent_name: String,
    host: String,
    port: i32,
    pub last_heartbeat: Ts,
    ttl_seconds: i32,
    agent_metadata: Option<String>,
    registered_at: Ts,
}

impl AgentRow {
    pub fn info(self, now: Ts) -> AgentInfo {
        let ttl = i64::from(self.ttl_seconds);
        let expires = self.last_heartbeat.plus_seconds(ttl);
        AgentInfo {
            capabilities: capabilities_from_metadata(self.agent_metadata.as_deref()),
            agent_id: self.agent_id,
            agent_name: self.agent_name,
            host: self.host,
            port: u16::try_from(self.port).unwrap_or_default(),
            is_alive: now < expires,
            last_heartbeat: self.last_heartbeat.utc(),
            registered_at: self.registered_at.utc(),
            ttl_seconds: ttl,
            metadata: self.agent_metadata,
            expires_at: expires.utc(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct EventRow {
    pub id: i64,
    kind: String,
    payload: String,
}

/// Kinds of the events the external-changes triggers record: a snapshot of the row,
/// made into the event the dashboard's own write would have recorded.
pub(super) const EXTERNAL_KINDS: &str = "'workflow_row', 'state_row', 'agent_row'";

impl EventRow {
    pub fn event(self) -> Result<(i64, Event), StoreError> {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("event {}: {e}", self.id));
        let data: Value = serde_json::from_str(&self.payload).map_err(corrupt)?;
        let event = match self.kind.as_str() {
            "workflow_row" => {
                Event::WorkflowUpdate(serde_json::from_value::<RunRow>(data).map_err(corrupt)?.try_into()?)
            }
            "state_row" => Event::NodeState(serde_json::from_value::<StateRow>(data).map_err(corrupt)?.into()),
            "agent_row" => {
                let change: AgentChange = serde_json::from_value(data["change"].clone()).map_err(corrupt)?;
                let row: AgentRow = serde_json::from_value(data).map_err(corrupt)?;
                Event::AgentUpdate(AgentUpdate { change, agent: row.info(Ts::now()), by: None })
            }
            kind => Event::from_parts(kind, data).map_err(corrupt)?,
        };
        Ok((self.id, event))
    }
}

/// The events of `rows`; one that cannot be read (a row another writer stored that
/// makes no run) is left out, logged, rather than stopping every stream at it.
pub(super) fn events(rows: Vec<EventRow>) -> Vec<(i64, Event)> {
    rows.into_iter()
        .filter_map(|row| match row.event() {
            Ok(event) => Some(event),
            Err(error) => {
                tracing::warn!(%error, "left an unreadable event out");
                None
            }
        })
        .collect()
}

/// A count another writer may have stored as a REAL (SQLite keeps what it is given).
fn lenient_count<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let value = Option::<serde_json::Number>::deserialize(deserializer)?;
    Ok(value.and_then(|n| n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))))
}
